//! Rotation handlers through the public API, beyond what `webhooks.rs` covers: the random
//! handler on every type it supports and refuses, its configuration bounds, the registry,
//! and the webhook handler's URL checks, error kinds and redirect handling against a real
//! listener on 127.0.0.1.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secret_core::value::{
    ApiKeySecret, ConnectionStringSecret, EnvVariableSetSecret, GenericSecret,
    UsernamePasswordSecret,
};
use secret_core::{AnySecretValue, SecretError, SecretType, SecretValue};
use secret_lifecycle::rotation::{
    HandlerRegistry, MAX_RESPONSE_BYTES, RandomConfig, RandomHandler, RotationHandler,
    RotationSubject, WebhookRotationHandler,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn subject(secret_type: SecretType) -> RotationSubject {
    RotationSubject {
        id: "s-42".into(),
        name: "SERVICE_CREDENTIAL".into(),
        secret_type,
        version: 3,
    }
}

fn random(length: usize, alphabet: &str) -> RandomHandler {
    RandomHandler::new(RandomConfig {
        length,
        alphabet: alphabet.into(),
    })
    .unwrap()
}

fn generic(value: &str) -> SecretValue {
    SecretValue::new(AnySecretValue::Generic(GenericSecret {
        value: value.into(),
    }))
}

fn generic_text(v: &SecretValue) -> String {
    match v.expose_secret() {
        AnySecretValue::Generic(g) => g.value.clone(),
        _ => panic!("expected a GENERIC value, got {}", v.secret_type()),
    }
}

fn is_rotation_failed(e: &SecretError) -> bool {
    matches!(e, SecretError::RotationFailed { .. })
}

#[tokio::test]
async fn random_handler_rotates_generic_values_within_the_configured_alphabet() {
    let h = random(24, "0123456789");
    let new = h
        .rotate(&subject(SecretType::Generic), &generic("old value"))
        .await
        .unwrap();
    let text = generic_text(&new);
    assert_eq!(text.chars().count(), 24);
    assert!(text.chars().all(|c| c.is_ascii_digit()), "{text}");
}

#[tokio::test]
async fn random_handler_uses_the_default_length_and_alphanumerics() {
    let h = RandomHandler::new(RandomConfig::default()).unwrap();
    let current = SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret { key: "old".into() }));
    let new = h
        .rotate(&subject(SecretType::ApiKey), &current)
        .await
        .unwrap();
    match new.expose_secret() {
        AnySecretValue::ApiKey(k) => {
            assert_eq!(k.key.len(), 40);
            assert!(k.key.chars().all(|c| c.is_ascii_alphanumeric()));
        }
        _ => panic!("expected an API_KEY value"),
    }
}

#[tokio::test]
async fn random_handler_keeps_the_username_and_replaces_the_password() {
    let h = random(16, "abcdefghij");
    let current = SecretValue::new(AnySecretValue::UsernamePassword(UsernamePasswordSecret {
        username: "svc-payments".into(),
        password: "abcdefghijabcdef".into(),
    }));
    let new = h
        .rotate(&subject(SecretType::UsernamePassword), &current)
        .await
        .unwrap();
    match new.expose_secret() {
        AnySecretValue::UsernamePassword(u) => {
            assert_eq!(u.username, "svc-payments");
            assert_ne!(u.password, "abcdefghijabcdef");
            assert_eq!(u.password.len(), 16);
        }
        _ => panic!("expected a USERNAME_PASSWORD value"),
    }
}

#[tokio::test]
async fn random_values_differ_from_the_current_one_and_from_each_other() {
    // The smallest space the configuration allows (10^16 values), so a repeat here would
    // mean the generator is broken, not unlucky.
    let h = random(16, "0123456789");
    let current = generic("0123456789012345");
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let new = h
            .rotate(&subject(SecretType::Generic), &current)
            .await
            .unwrap();
        let text = generic_text(&new);
        assert_ne!(text, "0123456789012345");
        assert!(seen.insert(text), "a value repeated");
    }
}

#[tokio::test]
async fn random_handler_draws_every_character_of_the_alphabet() {
    // Rejection sampling keeps the draw uniform; 20 x 256 draws from 10 characters miss
    // one with probability about 10 * 0.9^5120, i.e. never.
    let h = random(256, "0123456789");
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    for _ in 0..20 {
        let new = h
            .rotate(&subject(SecretType::Generic), &generic("x"))
            .await
            .unwrap();
        for c in generic_text(&new).chars() {
            *counts.entry(c).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 10, "{counts:?}");
    // Each expected 512 times; a bias of the modulo kind (256 % 10 = 6) would show as
    // about 10% more of 0..=5, far inside these bounds, so only gross faults are caught.
    assert!(
        counts.values().all(|&n| (350..=700).contains(&n)),
        "{counts:?}"
    );
}

#[tokio::test]
async fn random_handler_refuses_types_it_cannot_generate_without_echoing_the_value() {
    let h = RandomHandler::new(RandomConfig::default()).unwrap();
    let cases = [
        (
            SecretType::ConnectionString,
            AnySecretValue::ConnectionString(ConnectionStringSecret {
                connection_string: "postgres://u:hunter2-secret@db/app".into(),
                parsed: None,
            }),
        ),
        (
            SecretType::OAuth2Token,
            serde_json::from_value::<AnySecretValue>(serde_json::json!({
                "type": "OAUTH2_TOKEN", "accessToken": "hunter2-secret", "tokenType": "Bearer"
            }))
            .unwrap(),
        ),
        (
            SecretType::EnvVariableSet,
            AnySecretValue::EnvVariableSet(EnvVariableSetSecret {
                variables: BTreeMap::from([("A".to_string(), "hunter2-secret".to_string())]),
            }),
        ),
    ];
    for (t, value) in cases {
        let err = h
            .rotate(&subject(t), &SecretValue::new(value))
            .await
            .unwrap_err();
        assert!(is_rotation_failed(&err), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("random generation does not apply"), "{text}");
        assert!(text.contains(t.as_str()), "{text}");
        assert!(!text.contains("hunter2-secret"), "{text}");
    }
}

#[test]
fn random_config_accepts_its_bounds_and_refuses_outside_them() {
    let ok = |length: usize, alphabet: &str| {
        RandomHandler::new(RandomConfig {
            length,
            alphabet: alphabet.into(),
        })
        .is_ok()
    };
    assert!(ok(16, "0123456789"));
    assert!(ok(256, "0123456789"));
    assert!(!ok(15, "0123456789"));
    assert!(!ok(257, "0123456789"));
    assert!(!ok(0, "0123456789"));
    assert!(!ok(40, "012345678"), "nine distinct characters");
    assert!(!ok(40, "001122334455667788"), "repeats count once");
    assert!(ok(40, "00112233445566778899"), "ten distinct, repeated");
    let err = RandomHandler::new(RandomConfig {
        length: 8,
        ..RandomConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("length"), "{err}");
}

/// A handler that only has a name, to check the registry's replacement.
#[derive(Debug)]
struct Named(&'static str, u32);

#[async_trait]
impl RotationHandler for Named {
    fn name(&self) -> &str {
        self.0
    }

    async fn rotate(
        &self,
        _subject: &RotationSubject,
        _current: &SecretValue,
    ) -> Result<SecretValue, SecretError> {
        Ok(generic(&self.1.to_string()))
    }
}

#[tokio::test]
async fn registering_a_taken_name_replaces_the_handler() {
    let mut r = HandlerRegistry::new();
    assert!(r.names().is_empty());
    r.register(Arc::new(
        RandomHandler::new(RandomConfig::default()).unwrap(),
    ));
    r.register(Arc::new(Named("webhook", 1)));
    r.register(Arc::new(Named("random", 2)));
    assert_eq!(r.names(), vec!["random", "webhook"]);
    let h = r.get("random").unwrap();
    let new = h
        .rotate(&subject(SecretType::Generic), &generic("x"))
        .await
        .unwrap();
    assert_eq!(generic_text(&new), "2");
    assert!(r.get("Random").is_none(), "names are exact");
}

#[tokio::test]
async fn the_default_test_and_post_rotate_steps_succeed() {
    let h = RandomHandler::new(RandomConfig::default()).unwrap();
    let s = subject(SecretType::Generic);
    h.test(&s, &generic("new")).await.unwrap();
    h.post_rotate(&s, &generic("new"), &generic("old"))
        .await
        .unwrap();
}

#[test]
fn webhook_handler_urls_must_be_https_except_on_loopback() {
    let new = |url: &str| WebhookRotationHandler::new(url, KEY.to_vec(), Duration::from_secs(1));
    for url in [
        "https://rotator.example.com/rotate",
        "http://127.0.0.1:8080/rotate",
        "http://localhost/rotate",
        "http://[::1]:8080/rotate",
    ] {
        assert!(new(url).is_ok(), "{url}");
    }
    for url in [
        "http://rotator.example.com/rotate",
        "http://10.0.0.7/rotate",
        "ftp://127.0.0.1/rotate",
        "not a url",
    ] {
        let err = new(url).unwrap_err();
        assert!(err.to_string().contains("url"), "{url}: {err}");
    }
    let err = new("http://rotator.example.com/").unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");
    let err = new("https://127.0.0.1/")
        .unwrap()
        .with_test_url("http://checker.example.com/")
        .unwrap_err();
    assert!(err.to_string().contains("testUrl"), "{err}");
    assert!(
        WebhookRotationHandler::new("https://x.example/", Vec::new(), Duration::from_secs(1))
            .is_err(),
        "an empty signing key is refused"
    );
}

#[test]
fn webhook_handler_debug_hides_the_signing_key() {
    let h = WebhookRotationHandler::new(
        "https://rotator.example.com/",
        b"signing-key-do-not-print".to_vec(),
        Duration::from_secs(1),
    )
    .unwrap();
    let debug = format!("{h:?}");
    assert!(debug.contains("[REDACTED]"), "{debug}");
    assert!(!debug.contains("signing-key"), "{debug}");
    assert!(!debug.contains("115, 105"), "{debug}"); // the key's bytes as a Vec<u8>
    assert_eq!(h.name(), "webhook");
}

/// A listener answering every request with `reply` and recording the raw requests.
async fn listen(reply: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text[..head_end]
                            .lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                            .map_or(0, |(_, v)| v.trim().parse::<usize>().unwrap());
                        if buf.len() >= head_end + 4 + len {
                            log.lock().unwrap().push(text);
                            break;
                        }
                    }
                }
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, seen)
}

fn reply(status: u16, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn api_key(key: &str) -> SecretValue {
    SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret { key: key.into() }))
}

#[tokio::test]
async fn webhook_handler_failures_are_rotation_failed_errors() {
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cases = vec![(
        format!("http://127.0.0.1:{closed_port}/"),
        "could not be reached",
    )];
    for (status, body, expected) in [
        (404, "{}", "answered 404"),
        (503, "{}", "answered 503"),
        (
            200,
            r#"{"value":{"type":"GENERIC","value":"sk-leak"}}"#,
            "GENERIC value for a API_KEY",
        ),
        (200, r#"{"value":{"type":"API_KEY"}}"#, "not a valid"),
    ] {
        let (url, _) = listen(reply(status, "", body)).await;
        cases.push((url, expected));
    }
    for (url, expected) in cases {
        let h = WebhookRotationHandler::new(&url, KEY.to_vec(), Duration::from_secs(5)).unwrap();
        let err = h
            .rotate(&subject(SecretType::ApiKey), &api_key("sk-current"))
            .await
            .unwrap_err();
        assert!(is_rotation_failed(&err), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(expected), "{text}");
        assert!(
            !text.contains("sk-leak") && !text.contains("sk-current"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn webhook_handler_without_a_test_url_tests_nothing() {
    let (url, seen) = listen(reply(200, "", "{}")).await;
    let h = WebhookRotationHandler::new(&url, KEY.to_vec(), Duration::from_secs(5)).unwrap();
    h.test(&subject(SecretType::ApiKey), &api_key("sk-new"))
        .await
        .unwrap();
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn webhook_handler_does_not_follow_redirects_with_the_new_value() {
    // A 307/308 makes reqwest resend the same body, here the new value of the test step,
    // to wherever Location points, without the https check made at construction.
    let (elsewhere, leaked) = listen(reply(200, "", "{}")).await;
    let (url, _) = listen(reply(307, &format!("location: {elsewhere}\r\n"), "")).await;
    let h = WebhookRotationHandler::new(&url, KEY.to_vec(), Duration::from_secs(5))
        .unwrap()
        .with_test_url(&url)
        .unwrap();
    let result = h
        .test(
            &subject(SecretType::ApiKey),
            &api_key("sk-new-do-not-forward"),
        )
        .await;
    assert!(leaked.lock().unwrap().is_empty(), "the body was forwarded");
    let err = result.unwrap_err();
    assert!(is_rotation_failed(&err), "{err:?}");
}

#[tokio::test]
async fn webhook_handler_refuses_an_answer_over_64_kib() {
    // Announced too large, and too large without a length (chunked, read past the limit).
    let padding = "x".repeat(MAX_RESPONSE_BYTES);
    let body = format!(r#"{{"value":{{"type":"API_KEY","key":"sk-ok"}},"pad":"{padding}"}}"#);
    let announced = reply(200, "", &body);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    for raw in [announced, chunked] {
        let (url, _) = listen(raw).await;
        let h = WebhookRotationHandler::new(&url, KEY.to_vec(), Duration::from_secs(5)).unwrap();
        let err = h
            .rotate(&subject(SecretType::ApiKey), &api_key("sk-current"))
            .await
            .unwrap_err();
        assert!(is_rotation_failed(&err), "{err:?}");
        assert!(err.to_string().contains("exceeds 64 KiB"), "{err}");
    }
    // Just under the limit is read.
    let small = format!(
        r#"{{"value":{{"type":"API_KEY","key":"sk-small-0123456789"}},"pad":"{}"}}"#,
        "x".repeat(1024)
    );
    let (url, _) = listen(reply(200, "", &small)).await;
    let h = WebhookRotationHandler::new(&url, KEY.to_vec(), Duration::from_secs(5)).unwrap();
    assert!(
        h.rotate(&subject(SecretType::ApiKey), &api_key("sk-current"))
            .await
            .is_ok()
    );
}
