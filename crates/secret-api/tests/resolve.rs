//! `POST /api/secrets/resolve` over HTTP (§9.3): plain strings kept; `secret://` URIs (by
//! id and by scope path, with `#field` and `?version=N`) and SECRET_REF objects resolved in
//! one audited batch with the consumer module and resource id; any failure (not found,
//! expired, denied, a bad field or reference) answers an error naming each key and no value
//! at all; the rate limit counts the request once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Duration;
use reqwest::Method;
use secret_api::http::HttpSettings;
use secret_core::Clock;
use secret_testkit::db::TestService;
use secret_testkit::http::*;
use serde_json::{Value, json};

async fn create(s: &Server, token: &str, body: Value) -> String {
    let r = s
        .call(Method::POST, "/api/secrets", token, Some(body))
        .await;
    r.expect(201, "");
    r.body["id"].as_str().unwrap().to_string()
}

fn org(name: &str, value: Value) -> Value {
    json!({"name": name, "type": value["type"], "scope": "ORGANIZATION",
           "organizationId": "org-1", "value": value})
}

async fn resolve(s: &Server, token: &str, variables: Value) -> Reply {
    let req = s
        .request(Method::POST, "/api/secrets/resolve", Some(token))
        .header("X-Consumer-Module", "mcp-server")
        .header("X-Consumer-Resource-Id", "tool-42")
        .json(&json!({"variables": variables}));
    s.send(req).await
}

async fn reads(s: &Server) -> i64 {
    s.t.db
        .raw()
        .await
        .count(
            "SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRET_READ' \
             AND outcome = 'SUCCESS'",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_of_every_form_resolve_in_one_audited_batch() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let key = create(
        &s,
        &admin,
        org(
            "OPENAI_KEY",
            json!({"type": "API_KEY", "key": "sk-res-1-0123456789"}),
        ),
    )
    .await;
    let db = create(
        &s,
        &admin,
        org(
            "DB",
            json!({"type": "USERNAME_PASSWORD", "username": "app", "password": "pw-res-1"}),
        ),
    )
    .await;
    s.call(
        Method::PUT,
        &format!("/api/secrets/{db}/value"),
        &admin,
        Some(json!({"value": {"type": "USERNAME_PASSWORD", "username": "app", "password": "pw-res-2"}})),
    )
    .await
    .expect(200, "");
    let mine = create(
        &s,
        &admin,
        json!({"name": "MINE", "type": "GENERIC", "scope": "USER",
               "value": {"type": "GENERIC", "value": "my-own"}}),
    )
    .await;
    let before = reads(&s).await;
    let r = resolve(
        &s,
        &admin,
        json!({
            "PLAIN": "postgres://localhost:5432/app",
            "BY_ID": format!("secret://{key}"),
            "BY_NAME": "secret://org/org-1/OPENAI_KEY",
            "DB_USER": "secret://org/org-1/DB#username",
            "DB_PASSWORD": "secret://org/org-1/DB",
            "DB_OLD": "secret://org/org-1/DB?version=1#password",
            "OBJECT": {"type": "SECRET_REF", "secretId": db, "field": "password", "version": null},
            "MINE": "secret://user/MINE",
        }),
    )
    .await;
    r.expect(200, "");
    assert_eq!(
        r.body,
        json!({"variables": {
            "PLAIN": "postgres://localhost:5432/app",
            "BY_ID": "sk-res-1-0123456789",
            "BY_NAME": "sk-res-1-0123456789",
            "DB_USER": "app",
            "DB_PASSWORD": "pw-res-2",
            "DB_OLD": "pw-res-1",
            "OBJECT": "pw-res-2",
            "MINE": "my-own",
        }})
    );
    // One record per secret version read (key v1, db v2, db v1, mine v1), each with the
    // consumer module and resource id.
    assert_eq!(reads(&s).await - before, 4);
    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRET_READ' \
             AND consumer_module = 'mcp-server' AND secret_id IN ('{key}', '{db}', '{mine}')"
        ))
        .await,
        4
    );
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM secret_usage WHERE secret_id = '{db}' \
             AND consumer_resource_id = 'tool-42'"
        ))
        .await,
        2
    );
    assert_never_logged(&["sk-res-1-0123456789", "pw-res-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_failure_names_each_key_and_returns_no_value() {
    let (t, clock) = TestService::with_manual_clock().await;
    let s = spawn_with(t, settings()).await;
    let admin = s.token(&org_admin());
    let ok = create(
        &s,
        &admin,
        org(
            "OK",
            json!({"type": "API_KEY", "key": "sk-res-ok-0123456789"}),
        ),
    )
    .await;
    let mut soon = org(
        "SOON",
        json!({"type": "API_KEY", "key": "sk-res-soon-0123456789"}),
    );
    soon["expiresAt"] = json!((clock.now() + Duration::hours(1)).to_rfc3339());
    create(&s, &admin, soon).await;
    clock.advance(Duration::hours(2));
    let before = reads(&s).await;
    let r = resolve(
        &s,
        &admin,
        json!({
            "A_OK": format!("secret://{ok}"),
            "B_MISSING": "secret://org/org-1/NOPE",
            "C_EXPIRED": "secret://org/org-1/SOON",
            "D_FIELD": format!("secret://{ok}#password"),
        }),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "SECRET_NOT_FOUND");
    assert!(r.body.get("variables").is_none());
    assert!(!r.text.contains("sk-res-ok"), "{}", r.text);
    let details = r.body["error"]["details"].as_array().unwrap();
    let by_key: Vec<(&str, &str)> = details
        .iter()
        .map(|d| (d["key"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        by_key,
        [
            ("B_MISSING", "SECRET_NOT_FOUND"),
            ("C_EXPIRED", "SECRET_EXPIRED")
        ],
        "{details:?}"
    );
    // Nothing was read: no value left the service.
    assert_eq!(reads(&s).await, before);

    // A field the type lacks fails its key alone; the read is not recorded either.
    let r = resolve(
        &s,
        &admin,
        json!({"A_OK": format!("secret://{ok}"), "D_FIELD": format!("secret://{ok}#password")}),
    )
    .await;
    r.expect(400, "VALIDATION_ERROR");
    assert_eq!(r.body["error"]["details"][0]["key"], "D_FIELD");
    assert!(
        r.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("fields: key")
    );
    assert_eq!(reads(&s).await, before);

    // Denied: a member may see an organization secret but not read it without a grant.
    let r = resolve(
        &s,
        &s.token(&org_member()),
        json!({"K": format!("secret://{ok}")}),
    )
    .await;
    r.expect(403, "ACCESS_DENIED");
    assert_eq!(r.body["error"]["details"][0]["key"], "K");
    // An outsider does not even learn that it exists.
    let r = resolve(
        &s,
        &s.token(&outsider()),
        json!({"K": format!("secret://{ok}")}),
    )
    .await;
    r.expect(404, "SECRET_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_name_every_bad_key() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let r = resolve(
        &s,
        &admin,
        json!({
            "GOOD": "plain",
            "1BAD": "plain",
            "NOT_A_REF": "secret://MY_KEY",
            "OBJ": {"type": "SECRET_REF"},
            "NUM": 3,
        }),
    )
    .await;
    r.expect(400, "VALIDATION_ERROR");
    let keys: Vec<&str> = r.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["1BAD", "NOT_A_REF", "NUM", "OBJ"]);
    assert!(r.text.contains("not a secret id"), "{}", r.text);
    s.call(
        Method::POST,
        "/api/secrets/resolve",
        &admin,
        Some(json!({"vars": {}})),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    s.call(Method::GET, "/api/secrets/resolve", &admin, None)
        .await
        .expect(405, "METHOD_NOT_ALLOWED");
    s.send(s.request(Method::POST, "/api/secrets/resolve", None))
        .await
        .expect(401, "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_counts_once_against_the_rate_limit() {
    let s = spawn_with(
        TestService::new().await,
        HttpSettings {
            rate_limit_per_minute: 2,
            ..settings()
        },
    )
    .await;
    let admin = s.token(&org_admin());
    let mut variables = serde_json::Map::new();
    for n in 0..10 {
        let id = create(
            &s,
            &admin,
            org(
                &format!("R{n}"),
                json!({"type": "API_KEY", "key": format!("sk-rl-{n}-0123456789")}),
            ),
        )
        .await;
        variables.insert(format!("K{n}"), json!(format!("secret://{id}")));
    }
    let variables = Value::Object(variables);
    resolve(&s, &admin, variables.clone()).await.expect(200, "");
    resolve(&s, &admin, variables.clone()).await.expect(200, "");
    resolve(&s, &admin, variables)
        .await
        .expect(429, "RATE_LIMITED");
}
