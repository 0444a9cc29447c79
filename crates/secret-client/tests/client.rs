//! `secret-client` against a real `secret-server` (in-process, over real HTTP on a free
//! port; SQLite, or PostgreSQL with `DATABASE_URL`): the operations with their wire types,
//! typed errors, the cache and its push invalidation, stale-if-error, retries honouring
//! `Retry-After`, and the `SecretReader` shared with the embedded service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secret_client::{
    CacheSettings, ClientConfig, ClientError, ListQuery, SecretClient, StaticToken,
};
use secret_core::reference::ConfigValue;
use secret_core::wire::{
    CreateSecretRequest, GrantAccessRequest, RollbackRequest, RotateSecretRequest,
    UpdateSecretValueRequest,
};
use secret_core::{SecretError, SecretId, SecretReader, SecretValue};
use secret_testkit::http::*;
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(5);

fn client(s: &Server, token: String, cache: CacheSettings) -> SecretClient {
    let config = ClientConfig::new(&s.base)
        .unwrap()
        .consumer_module("client-tests")
        .organization("org-1")
        .cache(cache);
    SecretClient::new(config, StaticToken::new(token)).unwrap()
}

fn long_cache() -> CacheSettings {
    CacheSettings {
        ttl: Duration::from_secs(300),
        ..CacheSettings::default()
    }
}

fn key(v: &SecretValue) -> String {
    match v.expose_secret() {
        secret_core::AnySecretValue::ApiKey(k) => k.key.clone(),
        other => panic!("unexpected {:?}", other.secret_type()),
    }
}

fn api_key_value(k: &str) -> SecretValue {
    serde_json::from_value(json!({"type": "API_KEY", "key": k})).unwrap()
}

fn create_request(name: &str, k: &str) -> CreateSecretRequest {
    serde_json::from_value(api_key_body(name, k)).unwrap()
}

async fn reads(s: &Server, id: &str) -> i64 {
    s.t.db
        .raw()
        .await
        .count(&format!(
            "SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRET_READ' \
             AND outcome = 'SUCCESS' AND secret_id = '{id}'"
        ))
        .await
}

async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < WITHIN, "{what}: not within {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_speak_the_wire_types_and_values_are_cached_after_one_audited_read() {
    let s = spawn().await;
    let c = client(&s, s.token(&org_admin()), long_cache());
    eventually("the change stream connects", || async {
        c.is_invalidation_connected()
    })
    .await;
    let created = c
        .create_secret(&create_request("CLIENT_KEY", "sk-client-0000001"))
        .await
        .unwrap();
    let id = created.id.clone();
    assert_eq!(created.current_version, 1);
    let listed = c
        .list_secrets(&ListQuery {
            search: Some("CLIENT".into()),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(c.get_metadata(&id).await.unwrap().name, "CLIENT_KEY");

    // The creation's own change event drops whatever was cached before it arrived (the
    // client keeps nothing the server said changed); it arrives within milliseconds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(key(&c.get_secret(&id).await.unwrap()), "sk-client-0000001");
    assert_eq!(key(&c.get_secret(&id).await.unwrap()), "sk-client-0000001");
    assert_eq!(
        reads(&s, &id).await,
        1,
        "the second read came from the cache"
    );
    assert_eq!(c.cached_values(), 1);

    // A write through this client drops its own copy at once.
    let updated = c
        .update_value(
            &id,
            &UpdateSecretValueRequest {
                value: api_key_value("sk-client-0000002"),
                change_reason: Some("test".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.current_version, 2);
    assert_eq!(key(&c.get_secret(&id).await.unwrap()), "sk-client-0000002");
    c.rotate_secret(
        &id,
        &RotateSecretRequest {
            new_value: api_key_value("sk-client-0000003"),
        },
    )
    .await
    .unwrap();
    let versions = c.list_versions(&id).await.unwrap();
    assert_eq!(versions.items.len(), 3);
    assert_eq!(
        key(&c.get_version(&id, 1).await.unwrap().value),
        "sk-client-0000001"
    );
    let rolled = c
        .rollback_secret(
            &id,
            &serde_json::from_value::<RollbackRequest>(json!({"version": 1})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rolled.current_version, 4);
    assert_eq!(key(&c.get_secret(&id).await.unwrap()), "sk-client-0000001");

    let grant = c
        .grant_access(
            &id,
            &serde_json::from_value::<GrantAccessRequest>(
                json!({"granteeType": "USER", "granteeId": "user-2", "canRead": true}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(c.list_grants(&id).await.unwrap().items.len(), 1);
    c.revoke_access(&id, grant.id.as_str()).await.unwrap();
    assert!(
        c.list_vaults()
            .await
            .unwrap()
            .vaults
            .iter()
            .any(|v| v.id.as_str() == "local")
    );

    c.delete_secret(&id).await.unwrap();
    assert!(matches!(
        c.get_secret(&id).await,
        Err(ClientError::SecretNotFound { .. })
    ));
    c.restore_secret(&id).await.unwrap();
    assert_eq!(key(&c.get_secret(&id).await.unwrap()), "sk-client-0000001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_typed_by_the_servers_code() {
    let s = spawn().await;
    let admin = client(&s, s.token(&org_admin()), CacheSettings::disabled());
    let member = client(&s, s.token(&org_member()), CacheSettings::disabled());
    let id = s
        .create_key(&s.token(&org_admin()), "TYPED", "sk-typed-0000001")
        .await;
    let id = SecretId::from(id.as_str());
    let missing = SecretId::from("01a20000-0000-7000-8000-000000000000");
    assert!(matches!(
        admin.get_secret(&missing).await,
        Err(ClientError::SecretNotFound { .. })
    ));
    assert!(matches!(
        member.get_secret(&id).await,
        Err(ClientError::AccessDenied { .. })
    ));
    let forged = client(&s, "not-a-token".into(), CacheSettings::disabled());
    assert!(matches!(
        forged.get_secret(&id).await,
        Err(ClientError::Unauthenticated { .. })
    ));
    let Err(err) = admin
        .create_secret(&create_request("TYPED", "sk-typed-0000002"))
        .await
    else {
        panic!("a second secret of the same name was created");
    };
    assert!(matches!(err, ClientError::Conflict { .. }), "{err:?}");
    // The same failures as the embedded service reports them.
    assert!(matches!(
        SecretError::from(member.get_secret(&id).await.unwrap_err()),
        SecretError::AccessDenied { .. }
    ));
    // A value never appears in an error.
    let Err(err) = admin
        .update_value(
            &id,
            &UpdateSecretValueRequest {
                value: serde_json::from_value(
                    json!({"type": "GENERIC", "value": "hunter2-secret"}),
                )
                .unwrap(),
                change_reason: None,
            },
        )
        .await
    else {
        panic!("a GENERIC value was accepted for an API_KEY secret");
    };
    assert!(!format!("{err} {err:?}").contains("hunter2-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_value_is_dropped_as_soon_as_the_server_says_it_changed_or_was_revoked() {
    let s = spawn().await;
    let admin_token = s.token(&org_admin());
    let id = s
        .create_key(&admin_token, "PUSHED", "sk-pushed-000001")
        .await;
    let sid = SecretId::from(id.as_str());
    s.call(
        reqwest::Method::POST,
        &format!("/api/secrets/{id}/access"),
        &admin_token,
        Some(json!({"granteeType": "USER", "granteeId": "user-2", "canRead": true})),
    )
    .await
    .expect(201, "");
    let member = client(&s, s.token(&org_member()), long_cache());
    assert_eq!(
        key(&member.get_secret(&sid).await.unwrap()),
        "sk-pushed-000001"
    );
    eventually("the change stream connects", || async {
        member.is_invalidation_connected()
    })
    .await;

    // Another process (here: the admin over plain HTTP) changes the value.
    s.call(
        reqwest::Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &admin_token,
        Some(json!({"value": {"type": "API_KEY", "key": "sk-pushed-000002"}})),
    )
    .await
    .expect(200, "");
    eventually("the update reaches the cache", || async {
        member
            .get_secret(&sid)
            .await
            .map(|v| key(&v))
            .ok()
            .as_deref()
            == Some("sk-pushed-000002")
    })
    .await;

    let grants = s
        .get(&format!("/api/secrets/{id}/access"), &admin_token)
        .await;
    let grant = grants.body["items"][0]["id"].as_str().unwrap().to_string();
    s.call(
        reqwest::Method::DELETE,
        &format!("/api/secrets/{id}/access/{grant}"),
        &admin_token,
        None,
    )
    .await;
    eventually("the revocation reaches the cache", || async {
        matches!(
            member.get_secret(&sid).await,
            Err(ClientError::AccessDenied { .. })
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_past_its_ttl_is_served_while_the_server_is_down_and_only_then() {
    let s = spawn().await;
    let token = s.token(&org_admin());
    let id = SecretId::from(
        s.create_key(&token, "STALE", "sk-stale-0000001")
            .await
            .as_str(),
    );
    let other = SecretId::from(
        s.create_key(&token, "NEVER_READ", "sk-never-000001")
            .await
            .as_str(),
    );
    // The creations' change events (the feed brings them within its poll interval) would
    // drop what is cached before they arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut config = ClientConfig::new(&s.base).unwrap().cache(CacheSettings {
        ttl: Duration::from_millis(200),
        stale_if_error: Duration::from_secs(60),
        refresh_ahead_percent: 0,
        ..CacheSettings::default()
    });
    config.max_retries = 1;
    config.initial_backoff = Duration::from_millis(10);
    let c = SecretClient::new(config, StaticToken::new(token)).unwrap();
    eventually("the change stream connects", || async {
        c.is_invalidation_connected()
    })
    .await;
    assert_eq!(key(&c.get_secret(&id).await.unwrap()), "sk-stale-0000001");
    s.handle.stop(false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(key(&c.get_secret(&id).await.unwrap()), "sk-stale-0000001");
    let err = c.get_secret(&other).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

/// A server that answers each connection in turn with the next of `answers`, recording
/// when each request arrived.
fn scripted(answers: Vec<String>) -> (String, std::sync::mpsc::Receiver<Instant>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for answer in answers {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            tx.send(Instant::now()).unwrap();
            conn.write_all(answer.as_bytes()).unwrap();
        }
    });
    (base, rx)
}

fn answer(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_answers_are_retried_after_the_servers_retry_after() {
    let body = json!({"id": "01a20000-0000-7000-8000-000000000001", "name": "RETRIED",
        "version": 1, "value": {"type": "API_KEY", "key": "sk-retried-000001"}})
    .to_string();
    let busy =
        json!({"error": {"code": "VAULT_CONNECTION_FAILED", "message": "busy", "requestId": "r"}})
            .to_string();
    let (base, arrivals) = scripted(vec![
        answer("503 Service Unavailable", "Retry-After: 1\r\n", &busy),
        answer("200 OK", "", &body),
    ]);
    let c = SecretClient::new(
        ClientConfig::new(&base)
            .unwrap()
            .cache(CacheSettings::disabled()),
        StaticToken::new("t"),
    )
    .unwrap();
    let v = c
        .get_secret(&SecretId::from("01a20000-0000-7000-8000-000000000001"))
        .await
        .unwrap();
    assert_eq!(key(&v), "sk-retried-000001");
    let first = arrivals.recv().unwrap();
    let second = arrivals.recv().unwrap();
    assert!(
        second - first >= Duration::from_millis(950),
        "Retry-After was not honoured"
    );

    // Out of retries: the typed error, with the server's hint.
    let limited =
        json!({"error": {"code": "RATE_LIMITED", "message": "slow down", "requestId": "r"}})
            .to_string();
    let (base, _arrivals) = scripted(vec![
        answer("429 Too Many Requests", "Retry-After: 7\r\n", &limited),
        answer("429 Too Many Requests", "Retry-After: 7\r\n", &limited),
    ]);
    let mut config = ClientConfig::new(&base)
        .unwrap()
        .cache(CacheSettings::disabled());
    config.max_retries = 1;
    config.max_backoff = Duration::from_millis(50);
    let c = SecretClient::new(config, StaticToken::new("t")).unwrap();
    let err = c
        .get_secret(&SecretId::from("01a20000-0000-7000-8000-000000000001"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ClientError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_reads_the_same_through_the_embedded_service_and_the_client() {
    let s = spawn().await;
    let token = s.token(&org_admin());
    let id = s
        .create_key(&token, "SHARED_READER", "sk-reader-000001")
        .await;
    let sid = SecretId::from(id.as_str());
    let embedded: Arc<dyn SecretReader> = Arc::new(s.t.service.reader(
        secret_core::SecretContext::new(org_admin(), "reader-tests").in_organization("org-1"),
    ));
    let remote: Arc<dyn SecretReader> = Arc::new(client(&s, token, long_cache()));
    let mut variables = BTreeMap::new();
    variables.insert("PLAIN".to_string(), ConfigValue::Plain("as-is".into()));
    variables.insert(
        "KEY".to_string(),
        ConfigValue::from_json(&json!(format!("secret://{id}#key"))).unwrap(),
    );
    for reader in [&embedded, &remote] {
        assert_eq!(
            key(&reader.get_secret(&sid).await.unwrap()),
            "sk-reader-000001"
        );
        let many = reader
            .get_secrets(std::slice::from_ref(&sid))
            .await
            .unwrap();
        assert_eq!(key(&many[&sid]), "sk-reader-000001");
        let resolved = reader.resolve(&variables).await.unwrap();
        assert_eq!(resolved["PLAIN"].as_str(), "as-is");
        assert_eq!(resolved["KEY"].as_str(), "sk-reader-000001");
    }
    // A failed resolution names the key, embedded or remote.
    let mut bad = BTreeMap::new();
    bad.insert(
        "MISSING".to_string(),
        ConfigValue::from_json(&json!("secret://org/org-1/NO_SUCH_SECRET")).unwrap(),
    );
    for reader in [&embedded, &remote] {
        match reader.resolve(&bad).await.unwrap_err() {
            SecretError::Unresolved { failures, .. } => {
                assert_eq!(failures.len(), 1);
                assert_eq!(failures[0].key, "MISSING");
            }
            other => panic!("{other:?}"),
        }
    }
}
