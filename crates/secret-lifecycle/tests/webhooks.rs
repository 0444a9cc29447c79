//! The webhook notifier and the webhook rotation handler against a real HTTP listener on
//! 127.0.0.1: signatures over the exact body, retries with backoff on 5xx, no retry on
//! 4xx, answers of the wrong type refused, and no value ever sent where none belongs.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use secret_core::value::ApiKeySecret;
use secret_core::{AnySecretValue, SecretScope, SecretType, SecretValue};
use secret_lifecycle::notification::{
    Notification, NotificationKind, Notifier, NotifyError, WebhookConfig, WebhookNotifier,
    verify_signature,
};
use secret_lifecycle::rotation::{RotationHandler, RotationSubject, WebhookRotationHandler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

/// A request as the listener saw it.
#[derive(Debug, Clone)]
struct Seen {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 server answering each request with the next scripted (status, body),
/// repeating the last one.
struct Listener {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn listen(script: Vec<(u16, &'static str)>) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, headers) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_string();
                        let headers: Vec<(String, String)> = head
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                            .collect();
                        break (pos + 4, headers);
                    }
                };
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                log.lock().unwrap().push(Seen {
                    headers,
                    body: buf[head_end..head_end + len].to_vec(),
                });
                let (status, body) = {
                    let mut s = script.lock().unwrap();
                    if s.len() > 1 {
                        s.pop_front().unwrap()
                    } else {
                        *s.front().unwrap()
                    }
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Listener { url, seen }
}

fn notification() -> Notification {
    let mut n = Notification::new(
        NotificationKind::SecretExpiringSoon,
        "s-1".into(),
        "DB_PASSWORD".into(),
        SecretScope::Organization,
        Utc::now(),
    );
    n.recipients = vec!["ops@example.com".into()];
    n.days_until_expiry = Some(7);
    n.message = "Secret DB_PASSWORD expires in 7 day(s)".into();
    n
}

fn fast() -> WebhookConfig {
    WebhookConfig {
        max_attempts: 3,
        base_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn notifications_arrive_signed_over_the_exact_body() {
    let l = listen(vec![(200, "{}")]).await;
    let notifier = WebhookNotifier::new(&l.url, KEY.to_vec(), fast()).unwrap();
    let n = notification();
    notifier.notify(&n).await.unwrap();
    let seen = l.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    let signature = req.header("x-signature-256").unwrap();
    assert!(verify_signature(KEY, &req.body, signature));
    assert!(!verify_signature(
        b"another key of thirty-two bytes!",
        &req.body,
        signature
    ));
    assert_eq!(req.header("x-notification-id"), Some(n.id.as_str()));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["kind"], "SECRET_EXPIRING_SOON");
    assert_eq!(body["secretName"], "DB_PASSWORD");
    assert_eq!(body["recipients"], serde_json::json!(["ops@example.com"]));
    assert_eq!(body["daysUntilExpiry"], 7);
    assert!(format!("{notifier:?}").contains("[REDACTED]"));
}

#[tokio::test]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let l = listen(vec![(500, "{}"), (503, "{}"), (200, "{}")]).await;
    let notifier = WebhookNotifier::new(&l.url, KEY.to_vec(), fast()).unwrap();
    notifier.notify(&notification()).await.unwrap();
    assert_eq!(l.seen.lock().unwrap().len(), 3);

    let l = listen(vec![(400, "{}")]).await;
    let notifier = WebhookNotifier::new(&l.url, KEY.to_vec(), fast()).unwrap();
    let err = notifier.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(
            err,
            NotifyError::Status {
                status: 400,
                attempts: 1
            }
        ),
        "{err}"
    );
    assert_eq!(l.seen.lock().unwrap().len(), 1);

    let l = listen(vec![(500, "{}")]).await;
    let notifier = WebhookNotifier::new(&l.url, KEY.to_vec(), fast()).unwrap();
    let err = notifier.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(
            err,
            NotifyError::Status {
                status: 500,
                attempts: 3
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_receiver_fails_after_every_attempt() {
    // A receiver that closes every connection before answering. (A port bound and freed
    // again could be taken by another test's server before the notifier connects.)
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    let notifier =
        WebhookNotifier::new(&format!("http://127.0.0.1:{port}/"), KEY.to_vec(), fast()).unwrap();
    let err = notifier.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Unreachable { attempts: 3 }),
        "{err}"
    );
}

fn subject() -> RotationSubject {
    RotationSubject {
        id: "s-9".into(),
        name: "PAYMENTS_KEY".into(),
        secret_type: SecretType::ApiKey,
        version: 4,
    }
}

fn current() -> SecretValue {
    SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
        key: "sk-current-do-not-send".into(),
    }))
}

#[tokio::test]
async fn the_webhook_handler_takes_the_new_value_from_the_endpoint() {
    let l = listen(vec![(
        200,
        r#"{"value":{"type":"API_KEY","key":"sk-from-provider-0001"}}"#,
    )])
    .await;
    let h = WebhookRotationHandler::new(&l.url, KEY.to_vec(), Duration::from_secs(5)).unwrap();
    let new = h.rotate(&subject(), &current()).await.unwrap();
    match new.expose_secret() {
        AnySecretValue::ApiKey(k) => assert_eq!(k.key, "sk-from-provider-0001"),
        _ => panic!("wrong type"),
    }
    let seen = l.seen.lock().unwrap().clone();
    let req = &seen[0];
    assert!(verify_signature(
        KEY,
        &req.body,
        req.header("x-signature-256").unwrap()
    ));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"secretId": "s-9", "name": "PAYMENTS_KEY", "type": "API_KEY", "version": 4})
    );
    assert!(!String::from_utf8_lossy(&req.body).contains("sk-current-do-not-send"));
}

#[tokio::test]
async fn the_webhook_handler_refuses_bad_answers_without_echoing_them() {
    for (status, body, expected) in [
        (
            200,
            r#"{"value":{"type":"GENERIC","value":"x"}}"#,
            "GENERIC value for a API_KEY",
        ),
        (
            500,
            r#"{"value":{"type":"API_KEY","key":"sk-leaked-in-error"}}"#,
            "answered 500",
        ),
        (200, r#"not json sk-leaked-in-error"#, "not JSON"),
        (200, r#"{"nothing":true}"#, "has no value"),
    ] {
        let l = listen(vec![(status, body)]).await;
        let h = WebhookRotationHandler::new(&l.url, KEY.to_vec(), Duration::from_secs(5)).unwrap();
        let err = h.rotate(&subject(), &current()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("sk-leaked-in-error"), "{text}");
    }
}

#[tokio::test]
async fn the_webhook_handler_test_step_sends_the_new_value_to_the_test_url_only() {
    let rotate = listen(vec![(
        200,
        r#"{"value":{"type":"API_KEY","key":"sk-new-0123456789"}}"#,
    )])
    .await;
    let check = listen(vec![(403, "{}")]).await;
    let h = WebhookRotationHandler::new(&rotate.url, KEY.to_vec(), Duration::from_secs(5))
        .unwrap()
        .with_test_url(&check.url)
        .unwrap();
    let new = h.rotate(&subject(), &current()).await.unwrap();
    let err = h.test(&subject(), &new).await.unwrap_err();
    assert!(err.to_string().contains("answered 403"));
    let seen = check.seen.lock().unwrap().clone();
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["value"]["key"], "sk-new-0123456789");
    assert!(verify_signature(
        KEY,
        &seen[0].body,
        seen[0].header("x-signature-256").unwrap()
    ));
}
