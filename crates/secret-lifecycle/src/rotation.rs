//! Rotation handlers (§8.2): a [`RotationHandler`] makes a secret's next value, may test it
//! before it becomes current, and may update other systems afterwards. Handlers are
//! registered by name in a [`HandlerRegistry`]; a secret names its handler
//! (`rotationHandler`). Built in: `random` (generated API keys, generic values and
//! passwords) and `webhook` (an external HTTPS endpoint supplies the new value).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secret_core::value::{ApiKeySecret, GenericSecret, UsernamePasswordSecret};
use secret_core::{AnySecretValue, SecretError, SecretType, SecretValue};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::notification::{check_webhook_url, sign};

/// The secret being rotated (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationSubject {
    pub id: String,
    pub name: String,
    pub secret_type: SecretType,
    /// The current version; the new value becomes `version + 1`.
    pub version: i64,
}

/// Makes, tests and follows up a secret's next value.
#[async_trait]
pub trait RotationHandler: Send + Sync + std::fmt::Debug {
    /// The name secrets refer to.
    fn name(&self) -> &str;

    /// The next value, from the current one.
    async fn rotate(
        &self,
        subject: &RotationSubject,
        current: &SecretValue,
    ) -> Result<SecretValue, SecretError>;

    /// Checks the new value before it becomes current (e.g. a login with it).
    async fn test(
        &self,
        _subject: &RotationSubject,
        _new: &SecretValue,
    ) -> Result<(), SecretError> {
        Ok(())
    }

    /// Runs after the new value is current (e.g. revoke the old key upstream). A failure
    /// is reported; the rotation stands.
    async fn post_rotate(
        &self,
        _subject: &RotationSubject,
        _new: &SecretValue,
        _old: &SecretValue,
    ) -> Result<(), SecretError> {
        Ok(())
    }
}

fn failed(reason: impl Into<String>) -> SecretError {
    SecretError::RotationFailed {
        reason: reason.into(),
    }
}

/// Handlers by name.
#[derive(Debug, Clone, Default)]
pub struct HandlerRegistry {
    handlers: BTreeMap<String, Arc<dyn RotationHandler>>,
}

impl HandlerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` under its name, replacing one of the same name.
    pub fn register(&mut self, handler: Arc<dyn RotationHandler>) {
        self.handlers.insert(handler.name().to_string(), handler);
    }

    /// The handler named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn RotationHandler>> {
        self.handlers.get(name).cloned()
    }

    /// The registered names.
    pub fn names(&self) -> Vec<&str> {
        self.handlers.keys().map(String::as_str).collect()
    }
}

/// Settings of the `random` handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomConfig {
    /// Characters per generated value (16 to 256).
    pub length: usize,
    /// The characters drawn from (at least 10 distinct).
    pub alphabet: String,
}

impl Default for RandomConfig {
    fn default() -> Self {
        RandomConfig {
            length: 40,
            alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".to_string(),
        }
    }
}

/// Generates new API keys, generic values and passwords uniformly from an alphabet.
#[derive(Debug, Clone)]
pub struct RandomHandler {
    length: usize,
    alphabet: Vec<char>,
}

impl RandomHandler {
    /// A handler with `config`, checked.
    pub fn new(config: RandomConfig) -> Result<Self, SecretError> {
        if !(16..=256).contains(&config.length) {
            return Err(SecretError::validation(
                "length",
                "must be between 16 and 256",
            ));
        }
        let mut alphabet: Vec<char> = config.alphabet.chars().collect();
        alphabet.sort_unstable();
        alphabet.dedup();
        if alphabet.len() < 10 || alphabet.len() > 256 {
            return Err(SecretError::validation(
                "alphabet",
                "must have between 10 and 256 distinct characters",
            ));
        }
        Ok(RandomHandler {
            length: config.length,
            alphabet,
        })
    }

    /// A fresh random string (rejection sampling: every character equally likely).
    fn generate(&self) -> Result<Zeroizing<String>, SecretError> {
        let n = self.alphabet.len();
        let limit = 256 - (256 % n);
        let mut out = Zeroizing::new(String::with_capacity(self.length * 4));
        let mut buf = Zeroizing::new([0u8; 64]);
        let mut count = 0;
        while count < self.length {
            getrandom::fill(&mut *buf).map_err(|_| failed("the system random source failed"))?;
            for b in buf.iter() {
                if count == self.length {
                    break;
                }
                if usize::from(*b) < limit {
                    out.push(self.alphabet[usize::from(*b) % n]);
                    count += 1;
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl RotationHandler for RandomHandler {
    fn name(&self) -> &str {
        "random"
    }

    async fn rotate(
        &self,
        subject: &RotationSubject,
        current: &SecretValue,
    ) -> Result<SecretValue, SecretError> {
        let mut fresh = self.generate()?;
        // A repeat of the current value is astronomically unlikely; rule it out anyway.
        let same = |f: &str| match current.expose_secret() {
            AnySecretValue::ApiKey(k) => k.key == f,
            AnySecretValue::Generic(g) => g.value == f,
            AnySecretValue::UsernamePassword(u) => u.password == f,
            _ => false,
        };
        while same(&fresh) {
            fresh = self.generate()?;
        }
        let value = match current.expose_secret() {
            AnySecretValue::ApiKey(_) => AnySecretValue::ApiKey(ApiKeySecret {
                key: fresh.to_string(),
            }),
            AnySecretValue::Generic(_) => AnySecretValue::Generic(GenericSecret {
                value: fresh.to_string(),
            }),
            AnySecretValue::UsernamePassword(u) => {
                AnySecretValue::UsernamePassword(UsernamePasswordSecret {
                    username: u.username.clone(),
                    password: fresh.to_string(),
                })
            }
            _ => {
                return Err(failed(format!(
                    "random generation does not apply to {} secrets",
                    subject.secret_type
                )));
            }
        };
        Ok(SecretValue::new(value))
    }
}

/// Asks an external endpoint for the new value: POST `{"secretId","name","type","version"}`
/// (no value), signed like notifications (`X-Signature-256`); the answer is
/// `{"value": <tagged value>}` of the secret's type. With a test URL, `test` POSTs the new
/// value there (`{"secretId","type","value"}`, signed) and expects a 2xx.
pub struct WebhookRotationHandler {
    url: reqwest::Url,
    test_url: Option<reqwest::Url>,
    key: Vec<u8>,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebhookRotationHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRotationHandler")
            .field("url", &self.url.as_str())
            .field(
                "test_url",
                &self.test_url.as_ref().map(reqwest::Url::as_str),
            )
            .field("key", &"[REDACTED]")
            .finish()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RotateRequest<'a> {
    secret_id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    secret_type: &'a str,
    version: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestRequest<'a> {
    secret_id: &'a str,
    #[serde(rename = "type")]
    secret_type: &'a str,
    value: &'a SecretValue,
}

/// The largest answer a rotation endpoint may give; a longer one fails the rotation.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Reads a response body of at most `limit` bytes, refusing a longer one as soon as it is
/// announced or read past the limit (never buffering more than `limit` plus one chunk).
async fn read_bounded(
    mut res: reqwest::Response,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let too_large = || {
        failed(format!(
            "the rotation endpoint's answer exceeds {} KiB",
            limit / 1024
        ))
    };
    if res.content_length().is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|_| failed("the rotation endpoint's answer could not be read"))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl WebhookRotationHandler {
    /// A handler calling `url` (HTTPS, or http on loopback), signing with `key`.
    pub fn new(url: &str, key: Vec<u8>, timeout: Duration) -> Result<Self, SecretError> {
        let url = check_webhook_url(url).map_err(|e| SecretError::validation("url", e))?;
        if key.is_empty() {
            return Err(SecretError::validation("key", "must not be empty"));
        }
        // No redirects: a 3xx would resend the signed body (for a test step, the new
        // value) to wherever Location points, past the https-or-loopback check.
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| SecretError::internal("the HTTP client could not be built"))?;
        Ok(WebhookRotationHandler {
            url,
            test_url: None,
            key,
            client,
        })
    }

    /// The same handler with a test step calling `test_url`.
    pub fn with_test_url(mut self, test_url: &str) -> Result<Self, SecretError> {
        self.test_url =
            Some(check_webhook_url(test_url).map_err(|e| SecretError::validation("testUrl", e))?);
        Ok(self)
    }

    async fn post(
        &self,
        url: &reqwest::Url,
        body: Zeroizing<Vec<u8>>,
    ) -> Result<reqwest::Response, SecretError> {
        let signature = sign(&self.key, &body);
        let res = self
            .client
            .post(url.clone())
            .header("Content-Type", "application/json")
            .header("X-Signature-256", signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|_| failed("the rotation endpoint could not be reached"))?;
        if !res.status().is_success() {
            return Err(failed(format!(
                "the rotation endpoint answered {}",
                res.status().as_u16()
            )));
        }
        Ok(res)
    }
}

#[async_trait]
impl RotationHandler for WebhookRotationHandler {
    fn name(&self) -> &str {
        "webhook"
    }

    async fn rotate(
        &self,
        subject: &RotationSubject,
        _current: &SecretValue,
    ) -> Result<SecretValue, SecretError> {
        let body = serde_json::to_vec(&RotateRequest {
            secret_id: &subject.id,
            name: &subject.name,
            secret_type: subject.secret_type.as_str(),
            version: subject.version,
        })
        .map_err(|_| failed("the request could not be encoded"))?;
        let res = self.post(&self.url, Zeroizing::new(body)).await?;
        let bytes = read_bounded(res, MAX_RESPONSE_BYTES).await?;
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| failed("the rotation endpoint's answer is not JSON"))?;
        let value = doc
            .get_mut("value")
            .map(serde_json::Value::take)
            .ok_or_else(|| failed("the rotation endpoint's answer has no value"))?;
        let value: SecretValue = serde_json::from_value(value)
            .map_err(|_| failed("the rotation endpoint's value is not a valid secret value"))?;
        if value.secret_type() != subject.secret_type {
            return Err(failed(format!(
                "the rotation endpoint returned a {} value for a {} secret",
                value.secret_type(),
                subject.secret_type
            )));
        }
        Ok(value)
    }

    async fn test(&self, subject: &RotationSubject, new: &SecretValue) -> Result<(), SecretError> {
        let Some(url) = &self.test_url else {
            return Ok(());
        };
        let body = serde_json::to_vec(&TestRequest {
            secret_id: &subject.id,
            secret_type: subject.secret_type.as_str(),
            value: new,
        })
        .map_err(|_| failed("the test request could not be encoded"))?;
        self.post(url, Zeroizing::new(body)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

    use super::*;

    fn subject(t: SecretType) -> RotationSubject {
        RotationSubject {
            id: "s-1".into(),
            name: "K".into(),
            secret_type: t,
            version: 1,
        }
    }

    #[tokio::test]
    async fn random_values_have_the_length_and_alphabet_and_differ() {
        let h = RandomHandler::new(RandomConfig {
            length: 32,
            alphabet: "abcdef0123456789".into(),
        })
        .unwrap();
        let current = SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret { key: "old".into() }));
        let a = h
            .rotate(&subject(SecretType::ApiKey), &current)
            .await
            .unwrap();
        let b = h
            .rotate(&subject(SecretType::ApiKey), &current)
            .await
            .unwrap();
        let key = |v: &SecretValue| match v.expose_secret() {
            AnySecretValue::ApiKey(k) => k.key.clone(),
            _ => panic!("type"),
        };
        assert_eq!(key(&a).len(), 32);
        assert!(key(&a).chars().all(|c| "abcdef0123456789".contains(c)));
        assert_ne!(key(&a), key(&b));
        let up = SecretValue::new(AnySecretValue::UsernamePassword(UsernamePasswordSecret {
            username: "svc".into(),
            password: "old-password".into(),
        }));
        match h
            .rotate(&subject(SecretType::UsernamePassword), &up)
            .await
            .unwrap()
            .expose_secret()
        {
            AnySecretValue::UsernamePassword(u) => {
                assert_eq!(u.username, "svc");
                assert_eq!(u.password.len(), 32);
            }
            _ => panic!("type"),
        }
    }

    #[test]
    fn random_config_is_checked() {
        assert!(
            RandomHandler::new(RandomConfig {
                length: 8,
                ..RandomConfig::default()
            })
            .is_err()
        );
        assert!(
            RandomHandler::new(RandomConfig {
                length: 20,
                alphabet: "aaaaab".into()
            })
            .is_err()
        );
    }

    #[test]
    fn registry_finds_by_name() {
        let mut r = HandlerRegistry::new();
        r.register(Arc::new(
            RandomHandler::new(RandomConfig::default()).unwrap(),
        ));
        assert!(r.get("random").is_some());
        assert!(r.get("webhook").is_none());
        assert_eq!(r.names(), vec!["random"]);
    }

    #[test]
    fn webhook_handlers_refuse_plain_http_off_loopback() {
        assert!(
            WebhookRotationHandler::new(
                "http://rotator.example.com/",
                vec![1; 32],
                Duration::from_secs(1)
            )
            .is_err()
        );
        assert!(
            WebhookRotationHandler::new("http://127.0.0.1:1/", vec![1; 32], Duration::from_secs(1))
                .is_ok()
        );
    }
}
