//! Notifications of what happens to a secret (expiring, expired, rotation due, rotated,
//! rotation failed): a [`Notifier`] trait, a log notifier, and a webhook notifier that
//! POSTs the event as JSON signed with HMAC-SHA256 (`X-Signature-256: sha256=<hex>`) and
//! retries with backoff. A notification names the secret and its recipients; it never
//! holds a value.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secret_core::SecretScope;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    SecretExpiringSoon,
    SecretExpired,
    RotationDue,
    SecretRotated,
    RotationFailed,
}

impl NotificationKind {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            NotificationKind::SecretExpiringSoon => "SECRET_EXPIRING_SOON",
            NotificationKind::SecretExpired => "SECRET_EXPIRED",
            NotificationKind::RotationDue => "ROTATION_DUE",
            NotificationKind::SecretRotated => "SECRET_ROTATED",
            NotificationKind::RotationFailed => "ROTATION_FAILED",
        }
    }
}

/// One event about one secret, for its recipients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// A UUIDv7, also sent as `X-Notification-Id` so receivers can drop repeats.
    pub id: String,
    pub kind: NotificationKind,
    pub secret_id: String,
    pub secret_name: String,
    pub scope: SecretScope,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    /// User ids or addresses (the secret's notificationRecipients).
    pub recipients: Vec<String>,
    pub occurred_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub days_until_expiry: Option<i64>,
    pub next_rotation_at: Option<DateTime<Utc>>,
    /// A sentence for people; never a value.
    pub message: String,
}

impl Notification {
    /// A notification of `kind` about a secret, with the other fields empty.
    pub fn new(
        kind: NotificationKind,
        secret_id: String,
        secret_name: String,
        scope: SecretScope,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Notification {
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            secret_id,
            secret_name,
            scope,
            organization_id: None,
            team_id: None,
            project_id: None,
            recipients: Vec::new(),
            occurred_at,
            expires_at: None,
            days_until_expiry: None,
            next_rotation_at: None,
            message: String::new(),
        }
    }
}

/// Why a notification was not delivered (safe to log: no request bodies).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The receiver answered with a status that is not retried, or kept failing.
    #[error("the receiver answered {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    /// The receiver could not be reached.
    #[error("the receiver could not be reached after {attempts} attempt(s)")]
    Unreachable { attempts: u32 },
    /// The notifier is misconfigured.
    #[error("invalid notifier configuration: {0}")]
    Config(String),
    /// The event could not be encoded.
    #[error("the notification could not be encoded")]
    Encode,
}

/// Delivers notifications.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Delivers `n`.
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError>;
}

/// Writes each notification to the log (structured fields, no value).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        tracing::info!(
            kind = n.kind.as_str(),
            secret_id = %n.secret_id,
            secret_name = %n.secret_name,
            recipients = n.recipients.len(),
            days_until_expiry = n.days_until_expiry,
            message = %n.message,
            "notification"
        );
        Ok(())
    }
}

/// Sends to several notifiers; fails if any failed, after trying all.
#[derive(Debug, Clone, Default)]
pub struct FanoutNotifier(Vec<Arc<dyn Notifier>>);

impl FanoutNotifier {
    /// A notifier sending to each of `notifiers`.
    pub fn new(notifiers: Vec<Arc<dyn Notifier>>) -> Self {
        FanoutNotifier(notifiers)
    }
}

#[async_trait]
impl Notifier for FanoutNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let mut first = None;
        for notifier in &self.0 {
            if let Err(e) = notifier.notify(n).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// The `X-Signature-256` header value for `body` under `key`: `sha256=<lowercase hex>`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        // HMAC takes keys of any length, so this is not reached; an empty signature
        // never verifies.
        return String::new();
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `header` is the signature of `body` under `key` (constant-time comparison).
pub fn verify_signature(key: &[u8], body: &[u8], header: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = sign(key, body);
    expected.as_bytes().ct_eq(header.as_bytes()).into()
}

/// Retry and timeout settings of webhook calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each further one (at most 60 s).
    pub base_backoff: Duration,
    /// Timeout of each attempt.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            max_attempts: 5,
            base_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Checks a webhook URL: HTTPS, or plain HTTP to a loopback host (tests, sidecars).
pub fn check_webhook_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a valid URL".to_string())?;
    let loopback = matches!(
        parsed.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err("must be https:// (plain http only to a loopback address)".to_string()),
    }
}

/// POSTs notifications to a URL, signed, with retries.
pub struct WebhookNotifier {
    url: reqwest::Url,
    key: Vec<u8>,
    config: WebhookConfig,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("url", &self.url.as_str())
            .field("key", &"[REDACTED]")
            .field("config", &self.config)
            .finish()
    }
}

impl WebhookNotifier {
    /// A notifier posting to `url`, signing with `key`.
    pub fn new(url: &str, key: Vec<u8>, config: WebhookConfig) -> Result<Self, NotifyError> {
        let url = check_webhook_url(url).map_err(|e| NotifyError::Config(format!("url {e}")))?;
        if key.is_empty() {
            return Err(NotifyError::Config("the signing key is empty".into()));
        }
        // No redirects: a 3xx would resend the signed body (for a test step, the new
        // value) to wherever Location points, past the https-or-loopback check.
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| NotifyError::Config("the HTTP client could not be built".into()))?;
        Ok(WebhookNotifier {
            url,
            key,
            config,
            client,
        })
    }
}

/// The wait before attempt `attempt + 1` (after `attempt` failures).
fn backoff(config: &WebhookConfig, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    config
        .base_backoff
        .saturating_mul(factor)
        .min(Duration::from_secs(60))
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(n).map_err(|_| NotifyError::Encode)?;
        let signature = sign(&self.key, &body);
        let attempts = self.config.max_attempts.max(1);
        let mut last = NotifyError::Unreachable { attempts: 0 };
        for attempt in 1..=attempts {
            let res = self
                .client
                .post(self.url.clone())
                .header("Content-Type", "application/json")
                .header("X-Signature-256", &signature)
                .header("X-Notification-Id", &n.id)
                .body(body.clone())
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status().as_u16();
                    last = NotifyError::Status {
                        status,
                        attempts: attempt,
                    };
                    if !(status >= 500 || status == 429) {
                        return Err(last);
                    }
                }
                Err(_) => last = NotifyError::Unreachable { attempts: attempt },
            }
            if attempt < attempts {
                tokio::time::sleep(backoff(&self.config, attempt)).await;
            }
        }
        tracing::warn!(kind = n.kind.as_str(), secret_id = %n.secret_id, error = %last, "webhook notification failed");
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_answer_and_detects_tampering() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'{\"a\":1}',hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(b"key", b"{\"a\":1}"),
            "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"
        );
        assert!(verify_signature(
            b"key",
            b"{\"a\":1}",
            &sign(b"key", b"{\"a\":1}")
        ));
        assert!(!verify_signature(
            b"key",
            b"{\"a\":2}",
            &sign(b"key", b"{\"a\":1}")
        ));
        assert!(!verify_signature(
            b"other",
            b"{\"a\":1}",
            &sign(b"key", b"{\"a\":1}")
        ));
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        assert!(check_webhook_url("https://hooks.example.com/x").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9000/x").is_ok());
        assert!(check_webhook_url("http://localhost/x").is_ok());
        assert!(check_webhook_url("http://hooks.example.com/x").is_err());
        assert!(check_webhook_url("ftp://127.0.0.1/x").is_err());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let c = WebhookConfig {
            base_backoff: Duration::from_millis(500),
            ..WebhookConfig::default()
        };
        assert_eq!(backoff(&c, 1), Duration::from_millis(500));
        assert_eq!(backoff(&c, 3), Duration::from_secs(2));
        assert_eq!(backoff(&c, 20), Duration::from_secs(60));
    }

    #[test]
    fn kinds_serialize_in_wire_spelling() {
        let s = serde_json::to_string(&NotificationKind::RotationFailed).unwrap_or_default();
        assert_eq!(s, "\"ROTATION_FAILED\"");
    }
}
