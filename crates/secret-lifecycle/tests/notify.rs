//! Notifications through the public API, beyond what `webhooks.rs` covers: signature known
//! answers and malformed headers, the wire shape of a notification, 429 and backoff against
//! a real listener on 127.0.0.1, client errors, URL and key checks, and fan-out.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use secret_core::SecretScope;
use secret_lifecycle::notification::{
    FanoutNotifier, LogNotifier, Notification, NotificationKind, Notifier, NotifyError,
    WebhookConfig, WebhookNotifier, sign, verify_signature,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn signatures_match_known_answers() {
    // Both computed with python3's hmac.new(key, body, hashlib.sha256).hexdigest().
    assert_eq!(
        sign(KEY, br#"{"secretId":"s-1","type":"API_KEY"}"#),
        "sha256=8d0392df404b8085ee246a696c0547950a2a795285b86d87b9c319bb6b161796"
    );
    // A key longer than SHA-256's block is hashed first; an empty body is still signed.
    assert_eq!(
        sign(&[b'k'; 100], b""),
        "sha256=d46761768ee3c864fc76c08b3d73c8092853ae3fefa01b990963dfa2d56e7334"
    );
}

#[test]
fn malformed_signature_headers_are_rejected() {
    let body = br#"{"kind":"SECRET_EXPIRED"}"#;
    let good = sign(KEY, body);
    assert!(verify_signature(KEY, body, &good));
    let hex = good.trim_start_matches("sha256=");
    for bad in [
        String::new(),
        hex.to_string(),
        format!("sha1={hex}"),
        format!("sha256={}", hex.to_uppercase()),
        good[..good.len() - 1].to_string(),
        format!("{good} "),
        format!("{good}00"),
    ] {
        assert!(!verify_signature(KEY, body, &bad), "{bad:?}");
    }
}

#[test]
fn every_kind_serializes_as_its_wire_spelling() {
    for (kind, wire) in [
        (NotificationKind::SecretExpiringSoon, "SECRET_EXPIRING_SOON"),
        (NotificationKind::SecretExpired, "SECRET_EXPIRED"),
        (NotificationKind::RotationDue, "ROTATION_DUE"),
        (NotificationKind::SecretRotated, "SECRET_ROTATED"),
        (NotificationKind::RotationFailed, "ROTATION_FAILED"),
    ] {
        assert_eq!(kind.as_str(), wire);
        assert_eq!(serde_json::to_value(kind).unwrap(), wire);
        assert_eq!(
            serde_json::from_value::<NotificationKind>(wire.into()).unwrap(),
            kind
        );
    }
}

fn notification(kind: NotificationKind) -> Notification {
    let mut n = Notification::new(
        kind,
        "s-1".into(),
        "DB_PASSWORD".into(),
        SecretScope::Project,
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
    );
    n.organization_id = Some("org-1".into());
    n.project_id = Some("prj-1".into());
    n.recipients = vec!["ops@example.com".into(), "u-7".into()];
    n.expires_at = Some(Utc.with_ymd_and_hms(2026, 11, 8, 12, 0, 0).unwrap());
    n.days_until_expiry = Some(7);
    n.message = "Secret DB_PASSWORD expires in 7 day(s)".into();
    n
}

#[test]
fn notifications_serialize_in_camel_case_with_the_documented_fields() {
    let n = notification(NotificationKind::SecretExpiringSoon);
    let json = serde_json::to_value(&n).unwrap();
    let keys: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "id",
        "kind",
        "secretId",
        "secretName",
        "scope",
        "organizationId",
        "teamId",
        "projectId",
        "recipients",
        "occurredAt",
        "expiresAt",
        "daysUntilExpiry",
        "nextRotationAt",
        "message",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);
    assert_eq!(json["scope"], "PROJECT");
    assert_eq!(json["occurredAt"], "2026-11-01T12:00:00Z");
    assert_eq!(
        serde_json::from_value::<Notification>(json).unwrap(),
        n,
        "round trip"
    );
}

#[test]
fn notification_ids_are_distinct_uuid_v7() {
    let a = notification(NotificationKind::RotationDue);
    let b = notification(NotificationKind::RotationDue);
    assert_ne!(a.id, b.id);
    for id in [&a.id, &b.id] {
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    }
}

/// A listener answering requests with the scripted statuses in order, repeating the last,
/// and recording each request's head and body.
async fn listen(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(statuses)));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if buf.len() >= end + 4 + len {
                        log.lock()
                            .unwrap()
                            .push((head, buf[end + 4..end + 4 + len].to_vec()));
                        break;
                    }
                }
                let status = {
                    let mut s = script.lock().unwrap();
                    if s.len() > 1 {
                        s.pop_front().unwrap()
                    } else {
                        *s.front().unwrap()
                    }
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, seen)
}

fn config(max_attempts: u32, base_backoff_ms: u64) -> WebhookConfig {
    WebhookConfig {
        max_attempts,
        base_backoff: Duration::from_millis(base_backoff_ms),
        timeout: Duration::from_secs(5),
    }
}

#[test]
fn the_default_config_is_five_attempts_from_half_a_second_with_ten_second_timeouts() {
    assert_eq!(
        WebhookConfig::default(),
        WebhookConfig {
            max_attempts: 5,
            base_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    );
}

#[tokio::test]
async fn too_many_requests_and_server_errors_are_retried_with_doubling_waits() {
    let (url, seen) = listen(vec![429, 503, 200]).await;
    let notifier = WebhookNotifier::new(&url, KEY.to_vec(), config(5, 40)).unwrap();
    let n = notification(NotificationKind::SecretExpired);
    let started = Instant::now();
    notifier.notify(&n).await.unwrap();
    // 40 ms after the first failure, 80 ms after the second.
    assert!(started.elapsed() >= Duration::from_millis(120));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for (head, body) in &seen {
        assert!(head.starts_with("post /notify "), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("x-notification-id: {}", n.id)),
            "{head}"
        );
        let signature = head
            .lines()
            .find_map(|l| l.strip_prefix("x-signature-256:"))
            .unwrap()
            .trim();
        assert!(verify_signature(KEY, body, signature));
    }
    assert!(
        seen.windows(2).all(|w| w[0].1 == w[1].1),
        "same body each time"
    );
}

#[tokio::test]
async fn client_errors_other_than_429_fail_at_once() {
    for status in [401, 403, 404, 422] {
        let (url, seen) = listen(vec![status, 200]).await;
        let notifier = WebhookNotifier::new(&url, KEY.to_vec(), config(5, 10)).unwrap();
        let err = notifier
            .notify(&notification(NotificationKind::SecretRotated))
            .await
            .unwrap_err();
        assert!(
            matches!(err, NotifyError::Status { status: s, attempts: 1 } if s == status),
            "{err}"
        );
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}

#[test]
fn webhook_notifiers_refuse_plain_http_off_loopback_and_empty_keys() {
    let new = |url: &str, key: &[u8]| WebhookNotifier::new(url, key.to_vec(), config(1, 1));
    assert!(new("https://hooks.example.com/n", KEY).is_ok());
    assert!(new("http://127.0.0.1:9/n", KEY).is_ok());
    assert!(new("http://[::1]:9/n", KEY).is_ok());
    for url in ["http://hooks.example.com/n", "http://192.168.1.2/n", "nope"] {
        assert!(
            matches!(new(url, KEY), Err(NotifyError::Config(_))),
            "{url}"
        );
    }
    assert!(matches!(
        new("https://hooks.example.com/n", b""),
        Err(NotifyError::Config(_))
    ));
}

#[test]
fn webhook_notifier_debug_hides_the_signing_key() {
    let notifier = WebhookNotifier::new(
        "https://hooks.example.com/n",
        b"notify-key-do-not-print".to_vec(),
        WebhookConfig::default(),
    )
    .unwrap();
    let debug = format!("{notifier:?}");
    assert!(debug.contains("[REDACTED]"), "{debug}");
    assert!(!debug.contains("notify-key"), "{debug}");
    assert!(!debug.contains("110, 111"), "{debug}"); // the key's bytes as a Vec<u8>
}

/// Records the notifications it gets, then answers with `fail`.
#[derive(Debug)]
struct Recording {
    got: Mutex<Vec<String>>,
    fail: Option<u16>,
}

impl Recording {
    fn new(fail: Option<u16>) -> Arc<Self> {
        Arc::new(Recording {
            got: Mutex::new(Vec::new()),
            fail,
        })
    }
}

#[async_trait]
impl Notifier for Recording {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.got.lock().unwrap().push(n.id.clone());
        match self.fail {
            Some(status) => Err(NotifyError::Status {
                status,
                attempts: 1,
            }),
            None => Ok(()),
        }
    }
}

#[tokio::test]
async fn fanout_tries_every_notifier_and_returns_the_first_error() {
    let a = Recording::new(None);
    let b = Recording::new(Some(400));
    let c = Recording::new(None);
    let d = Recording::new(Some(500));
    let fanout = FanoutNotifier::new(vec![
        a.clone(),
        Arc::new(LogNotifier),
        b.clone(),
        c.clone(),
        d.clone(),
    ]);
    let n = notification(NotificationKind::RotationFailed);
    let err = fanout.notify(&n).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Status { status: 400, .. }),
        "{err}"
    );
    for r in [&a, &b, &c, &d] {
        assert_eq!(*r.got.lock().unwrap(), vec![n.id.clone()]);
    }
    FanoutNotifier::new(vec![a.clone(), Arc::new(LogNotifier)])
        .notify(&n)
        .await
        .unwrap();
    FanoutNotifier::default().notify(&n).await.unwrap();
}
