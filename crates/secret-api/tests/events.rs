//! Over real HTTP: `GET /api/secrets/events` (server-sent `secret-changed` events for the
//! secrets the caller may see, never a value; the stream ends when the token expires),
//! `/readyz`'s detail of the change feed, and the trusted-proxy setting that decides when
//! `X-Forwarded-For` names the client recorded in audit records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use secret_api::http::{HttpSettings, parse_cidrs};
use secret_testkit::db::TestService;
use secret_testkit::http::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(5);

/// A client's end of the event stream.
struct Events {
    response: reqwest::Response,
    buffer: String,
    /// Everything received, to check that no value ever went over the stream.
    seen: String,
}

impl Events {
    async fn open(s: &Server, token: &str) -> Events {
        let response = s
            .client
            .get(format!("{}/api/secrets/events", s.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut events = Events {
            response,
            buffer: String::new(),
            seen: String::new(),
        };
        // The stream says it is subscribed before any change can be missed.
        let first = events.frame().await.expect("the stream ended at once");
        assert!(first.contains(": subscribed"), "{first}");
        events
    }

    /// The next frame (up to a blank line), or `None` when the stream ended.
    async fn frame(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                return Some(frame);
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("no frame within the wait")
                .unwrap()?;
            let text = String::from_utf8(chunk.to_vec()).unwrap();
            self.seen.push_str(&text);
            self.buffer.push_str(&text);
        }
    }

    /// The next event, skipping comments: its name and its data.
    async fn next(&mut self) -> (String, Value) {
        loop {
            let frame = self.frame().await.expect("the stream ended");
            let mut name = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).unwrap());
                }
            }
            if let (Some(name), Some(data)) = (name, data) {
                return (name, data);
            }
        }
    }

    /// The next `secret-changed` event's data.
    async fn changed(&mut self) -> Value {
        loop {
            let (name, data) = self.next().await;
            if name == "secret-changed" {
                return data;
            }
            assert_eq!(name, "resync", "unknown event {name}");
        }
    }
}

fn personal(name: &str, key: &str) -> Value {
    json!({"name": name, "type": "API_KEY", "scope": "USER",
           "value": {"type": "API_KEY", "key": key}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_name_the_changes_of_secrets_the_caller_may_see_and_never_a_value() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let mut member = Events::open(&s, &s.token(&org_member())).await;
    let own = s.token(&outsider());
    let mut outsider = Events::open(&s, &own).await;

    // The admin's personal secret is invisible to the member: the member's first event is
    // the organization secret created after it.
    let r = s
        .call(
            Method::POST,
            "/api/secrets",
            &admin,
            Some(personal("MINE", "sk-personal-0000001")),
        )
        .await;
    r.expect(201, "");
    let id = s.create_key(&admin, "SHARED", "sk-shared-value-0001").await;
    assert_eq!(
        member.changed().await,
        json!({"secretId": id, "version": 1, "change": "UPDATED"})
    );
    let r = s
        .call(
            Method::PUT,
            &format!("/api/secrets/{id}/value"),
            &admin,
            Some(json!({"value": {"type": "API_KEY", "key": "sk-shared-value-0002"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        member.changed().await,
        json!({"secretId": id, "version": 2, "change": "UPDATED"})
    );

    // A grant lets the outsider see it: it hears of that grant, and of its revocation,
    // after which it can no longer see the secret.
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/access"),
            &admin,
            Some(json!({"granteeType": "USER", "granteeId": "user-3", "canRead": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let grant = r.body["id"].as_str().unwrap().to_string();
    let granted = json!({"secretId": id, "version": 2, "change": "ACCESS_CHANGED"});
    assert_eq!(outsider.changed().await, granted);
    assert_eq!(member.changed().await, granted);
    let r = s
        .call(
            Method::DELETE,
            &format!("/api/secrets/{id}/access/{grant}"),
            &admin,
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(outsider.changed().await, granted);
    assert_eq!(member.changed().await, granted);

    let r = s
        .call(Method::DELETE, &format!("/api/secrets/{id}"), &admin, None)
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(
        member.changed().await,
        json!({"secretId": id, "version": 2, "change": "DELETED"})
    );
    // Nothing of the shared secret reaches the outsider any more: its next event is of its
    // own secret.
    let r = s
        .send(
            s.client
                .post(format!("{}/api/secrets", s.base))
                .bearer_auth(&own)
                .header("X-Organization-Id", "org-2")
                .json(&json!({"name": "OUTSIDER_OWN", "type": "API_KEY",
                    "scope": "ORGANIZATION", "organizationId": "org-2",
                    "value": {"type": "API_KEY", "key": "sk-outsider-own-0001"}})),
        )
        .await;
    r.expect(201, "");
    let own_id = r.body["id"].as_str().unwrap();
    assert_eq!(outsider.changed().await["secretId"], own_id);

    for stream in [&member.seen, &outsider.seen] {
        for value in [
            "sk-personal-0000001",
            "sk-shared-value-0001",
            "sk-shared-value-0002",
            "sk-outsider-own-0001",
        ] {
            assert!(
                !stream.contains(value),
                "a value went over the event stream"
            );
        }
        assert!(
            !stream.contains("MINE"),
            "an invisible secret's name went over the stream"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_needs_a_token_and_ends_when_the_token_expires() {
    let s = spawn_with(
        TestService::new().await,
        HttpSettings {
            event_heartbeat: Duration::from_millis(200),
            ..settings()
        },
    )
    .await;
    let r = s
        .send(s.client.get(format!("{}/api/secrets/events", s.base)))
        .await;
    r.expect(401, "UNAUTHENTICATED");
    // Past `exp` (beyond the verifier's 30 s leeway) three to four seconds from now (`exp`
    // counts whole seconds).
    let leeway = chrono::Duration::seconds(30);
    let token = s
        .issuer
        .mint(
            &org_member(),
            chrono::Duration::seconds(4),
            Utc::now() - leeway,
        )
        .unwrap();
    let mut events = Events::open(&s, &token).await;
    let start = std::time::Instant::now();
    while events.frame().await.is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(7),
            "the stream outlived its token"
        );
    }
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "ended before the token expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_routes_are_never_taken_for_an_id() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    for path in [
        "/api/secrets/events",
        "/api/secrets/resolve",
        "/api/secrets/migrations",
    ] {
        let r = s.call(Method::DELETE, path, &admin, None).await;
        assert_ne!(r.code(), "SECRET_NOT_FOUND", "{path} was taken for an id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_details_the_change_feed_on_request() {
    let s = spawn().await;
    let r = s
        .send(s.client.get(format!("{}/readyz?detail", s.base)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["checks"]["database"], "ok");
    assert!(
        ["CONNECTED", "CONNECTING"]
            .contains(&r.body["checks"]["changeFeed"]["status"].as_str().unwrap()),
        "{}",
        r.text
    );
    assert_eq!(r.body["checks"]["changeFeed"]["stalenessBoundSeconds"], 300);
}

async fn recorded_ip(s: &Server, forwarded: &str) -> String {
    let admin = s.token(&org_admin());
    let r = s
        .send(
            s.request(Method::POST, "/api/secrets", Some(&admin))
                .header("X-Forwarded-For", forwarded)
                .json(&api_key_body(
                    &format!("IP_{}", uuid_like()),
                    "sk-ip-test-00000001",
                )),
        )
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap();
    s.t.db
        .raw()
        .await
        .text(&format!(
            "SELECT ip_address FROM secret_audit_logs WHERE secret_id = '{id}' \
             AND event_type = 'SECRET_CREATED'"
        ))
        .await
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    // By default no proxy is trusted: the peer is recorded, whatever the header says.
    let s = spawn().await;
    assert_eq!(recorded_ip(&s, "203.0.113.7").await, "127.0.0.1");
    drop(s);
    let s = spawn_with(
        TestService::new().await,
        HttpSettings {
            trusted_proxies: parse_cidrs("127.0.0.0/8").unwrap(),
            ..settings()
        },
    )
    .await;
    assert_eq!(recorded_ip(&s, "203.0.113.7").await, "203.0.113.7");
    // What the client wrote left of the address its proxy appended proves nothing.
    assert_eq!(
        recorded_ip(&s, "198.51.100.9, 203.0.113.7").await,
        "203.0.113.7"
    );
}
