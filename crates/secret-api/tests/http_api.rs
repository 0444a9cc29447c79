//! End-to-end tests of the REST layer: the real actix server on 127.0.0.1:0 over a fresh
//! database (SQLite, or PostgreSQL when `DATABASE_URL` says so), driven over HTTP with
//! reqwest and HS256 tokens. Every log line of the whole binary is captured, and tests that
//! send values check that none of them was logged.

// Test helpers outside #[test] functions panic on purpose when the set-up fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use secret_access::TokenIssuer;
use secret_api::http::HttpSettings;
use secret_core::{OrgRole, Principal};
use secret_testkit::http::*;
use secret_testkit::{RawValue, TestService};
use serde_json::{Value, json};

// ------------------------------------------------------------------ the life of a secret

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_lives_through_every_endpoint() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let member = s.token(&org_member());
    let (v1, v2, v3) = (
        "sk-life-one-0123456789",
        "sk-life-two-0123456789",
        "sk-life-three-0123456789",
    );

    // Create: 201, Location, ETag, and no value in the metadata.
    let r = s
        .call(
            Method::POST,
            "/api/secrets",
            &admin,
            Some(api_key_body("OPENAI_API_KEY", v1)),
        )
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/secrets/{id}").as_str())
    );
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.body["organizationId"], "org-1");
    assert_eq!(r.body["type"], "API_KEY");
    assert_eq!(r.body["currentVersion"], 1);
    assert!(!r.text.contains(v1));

    // List, with repeated and comma-separated tags.
    for query in [
        "?scope=ORGANIZATION&tags=llm&tags=prod",
        "?tags=llm,prod&type=API_KEY&search=openai",
    ] {
        let r = s.get(&format!("/api/secrets{query}"), &admin).await;
        r.expect(200, "");
        assert_eq!(r.body["total"], 1, "{query}");
        assert_eq!(r.body["page"], 1);
        assert_eq!(r.body["limit"], 20);
        assert_eq!(r.body["items"][0]["id"], id.as_str());
        assert!(!r.text.contains(v1));
    }
    let r = s.get("/api/secrets?tags=nope", &admin).await;
    assert_eq!(r.body["total"], 0);

    // Metadata and value.
    let r = s.get(&format!("/api/secrets/{id}"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert!(!r.text.contains(v1));
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(
        r.body,
        json!({"id": id, "name": "OPENAI_API_KEY", "version": 1,
               "value": {"type": "API_KEY", "key": v1}})
    );

    // Metadata update: absent keeps, null clears.
    let r = s
        .send(
            s.request(Method::PUT, &format!("/api/secrets/{id}"), Some(&admin))
                .header("If-Match", "\"1\"")
                .json(&json!({"description": "the key", "tags": ["llm"]})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["description"], "the key");
    assert_eq!(r.body["tags"], json!(["llm"]));
    assert_eq!(r.body["metadata"], json!({"owner": "platform"}));
    let r = s
        .call(
            Method::PUT,
            &format!("/api/secrets/{id}"),
            &admin,
            Some(json!({"description": null, "metadata": null})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["metadata"], json!({}));
    assert_eq!(r.body["tags"], json!(["llm"]));

    // New value, rotation.
    let r = s
        .send(
            s.request(
                Method::PUT,
                &format!("/api/secrets/{id}/value"),
                Some(&admin),
            )
            .header("If-Match", "1")
            .json(&json!({"value": {"type": "API_KEY", "key": v2}, "changeReason": "leaked"})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["currentVersion"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert!(!r.text.contains(v2));
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/rotate"),
            &admin,
            Some(json!({"newValue": {"type": "API_KEY", "key": v3}})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["currentVersion"], 3);
    assert!(r.body["lastRotatedAt"].is_string());
    assert!(!r.text.contains(v3));

    // Versions, a version's value, rollback.
    let r = s.get(&format!("/api/secrets/{id}/versions"), &admin).await;
    r.expect(200, "");
    let versions: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![3, 2, 1]);
    assert_eq!(r.body["total"], 3);
    assert_eq!(r.body["items"][1]["changeReason"], "leaked");
    assert!(!r.text.contains(v1) && !r.text.contains(v2));
    let r = s
        .get(&format!("/api/secrets/{id}/versions/2"), &admin)
        .await;
    r.expect(200, "");
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["value"]["key"], v2);
    assert_eq!(r.body["version"], 2);
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/rollback"),
            &admin,
            Some(json!({"version": 1})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["currentVersion"], 4);
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(
        (r.body["version"].clone(), r.body["value"]["key"].clone()),
        (json!(4), json!(v1))
    );

    // Access: a member may see metadata but not read, until granted.
    s.get(&format!("/api/secrets/{id}/value"), &member)
        .await
        .expect(403, "ACCESS_DENIED");
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/access"),
            &admin,
            Some(json!({"granteeType": "USER", "granteeId": "user-2", "canRead": true})),
        )
        .await;
    r.expect(201, "");
    let grant_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["canUpdate"], false);
    let r = s.get(&format!("/api/secrets/{id}/access"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["items"][0]["granteeId"], "user-2");
    let r = s.get(&format!("/api/secrets/{id}/value"), &member).await;
    r.expect(200, "");
    assert_eq!(r.body["value"]["key"], v1);
    let r = s
        .call(
            Method::DELETE,
            &format!("/api/secrets/{id}/access/{grant_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    s.get(&format!("/api/secrets/{id}/value"), &member)
        .await
        .expect(403, "ACCESS_DENIED");

    // Soft delete, restore, delete again, purge.
    let r = s
        .call(Method::DELETE, &format!("/api/secrets/{id}"), &admin, None)
        .await;
    r.expect(200, "");
    assert!(r.body["deletedAt"].is_string());
    assert!(r.body["recoveryDeadline"].is_string());
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    let r = s.get("/api/secrets?includeDeleted=true", &admin).await;
    assert_eq!(r.body["total"], 1);
    let r = s.get("/api/secrets", &admin).await;
    assert_eq!(r.body["total"], 0);
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/restore"),
            &admin,
            None,
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["deletedAt"], Value::Null);
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(200, "");
    s.call(Method::DELETE, &format!("/api/secrets/{id}"), &admin, None)
        .await
        .expect(200, "");
    let r = s
        .call(
            Method::DELETE,
            &format!("/api/secrets/{id}/permanent"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    s.get(&format!("/api/secrets/{id}"), &admin)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    assert_eq!(s.rows().await, (0, 0, 0));

    assert_never_logged(&[v1, v2, v3, &admin, &member]);
}

// ------------------------------------------------------------------ errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_carries_its_code() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let value = "sk-errors-0123456789";
    let id = s.create_key(&admin, "ERRORS_KEY", value).await;

    // 400 VALIDATION_ERROR: a bad name, malformed JSON, an unknown field, a bad query, a
    // bad version number, a malformed If-Match, a wrong content type.
    s.call(
        Method::POST,
        "/api/secrets",
        &admin,
        Some(api_key_body("1-bad name", value)),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    let r = s
        .send(
            s.request(Method::POST, "/api/secrets", Some(&admin))
                .header("Content-Type", "application/json")
                .body(format!(
                    r#"{{"name":"X","value":{{"type":"API_KEY","key":"{value}""#
                )),
        )
        .await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(!r.text.contains(value));
    let mut body = api_key_body("UNKNOWN_FIELD", value);
    body["colour"] = json!("blue");
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );
    let mut body = api_key_body("BAD_SCOPE", value);
    body["scope"] = json!(value);
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(!r.text.contains(value), "a rejected body is never echoed");
    s.get("/api/secrets?scope=PLANET", &admin)
        .await
        .expect(400, "VALIDATION_ERROR");
    s.get("/api/secrets?limit=1000", &admin)
        .await
        .expect(400, "VALIDATION_ERROR");
    s.get(&format!("/api/secrets/{id}/versions/first"), &admin)
        .await
        .expect(400, "VALIDATION_ERROR");
    s.send(
        s.request(Method::DELETE, &format!("/api/secrets/{id}"), Some(&admin))
            .header("If-Match", "W/\"1\""),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    s.send(
        s.request(Method::POST, "/api/secrets", Some(&admin))
            .header("Content-Type", "text/plain")
            .body(api_key_body("TEXT", value).to_string()),
    )
    .await
    .expect(400, "VALIDATION_ERROR");

    // 400 INVALID_SECRET_TYPE: the value is not of the declared type.
    let mut body = api_key_body("WRONG_TYPE", value);
    body["value"] = json!({"type": "GENERIC", "value": value});
    s.call(Method::POST, "/api/secrets", &admin, Some(body))
        .await
        .expect(400, "INVALID_SECRET_TYPE");

    // 401 UNAUTHENTICATED (no token, bad token) and REAUTHENTICATION_REQUIRED.
    s.send(s.request(Method::GET, "/api/secrets", None))
        .await
        .expect(401, "UNAUTHENTICATED");
    // Authentication comes before any parsing: a bad body or If-Match is still 401.
    s.send(
        s.request(Method::PUT, &format!("/api/secrets/{id}/value"), None)
            .header("If-Match", "garbage")
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await
    .expect(401, "UNAUTHENTICATED");
    let r = s
        .send(s.request(Method::GET, "/api/secrets", Some("not-a-token")))
        .await;
    r.expect(401, "UNAUTHENTICATED");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let stale = s.token(&org_admin().authenticated_at(Utc::now() - Duration::minutes(10)));
    s.call(Method::DELETE, &format!("/api/secrets/{id}"), &admin, None)
        .await
        .expect(200, "");
    s.call(
        Method::DELETE,
        &format!("/api/secrets/{id}/permanent"),
        &stale,
        None,
    )
    .await
    .expect(401, "REAUTHENTICATION_REQUIRED");
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/restore"),
        &admin,
        None,
    )
    .await
    .expect(200, "");

    // 403 ACCESS_DENIED: visible, not permitted.
    s.get(&format!("/api/secrets/{id}/value"), &s.token(&org_member()))
        .await
        .expect(403, "ACCESS_DENIED");

    // 404 SECRET_NOT_FOUND: unknown id, unknown version, invisible secret, unknown grant.
    s.get("/api/secrets/no-such-id", &admin)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    s.get(&format!("/api/secrets/{id}/versions/9"), &admin)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    s.get(&format!("/api/secrets/{id}"), &s.token(&outsider()))
        .await
        .expect(404, "SECRET_NOT_FOUND");
    s.call(
        Method::DELETE,
        &format!("/api/secrets/{id}/access/no-such-grant"),
        &admin,
        None,
    )
    .await
    .expect(404, "SECRET_NOT_FOUND");

    // 409 CONFLICT: the name is taken; a live secret cannot be purged.
    s.call(
        Method::POST,
        "/api/secrets",
        &admin,
        Some(api_key_body("ERRORS_KEY", value)),
    )
    .await
    .expect(409, "CONFLICT");
    s.call(
        Method::DELETE,
        &format!("/api/secrets/{id}/permanent"),
        &admin,
        None,
    )
    .await
    .expect(409, "CONFLICT");

    // 409 VERSION_CONFLICT: a stale If-Match.
    s.send(
        s.request(
            Method::PUT,
            &format!("/api/secrets/{id}/value"),
            Some(&admin),
        )
        .header("If-Match", "\"7\"")
        .json(&json!({"value": {"type": "API_KEY", "key": value}})),
    )
    .await
    .expect(409, "VERSION_CONFLICT");

    // 405 with the envelope for an unsupported method; 404 for an unknown route.
    s.call(Method::PATCH, "/api/secrets", &admin, None)
        .await
        .expect(405, "METHOD_NOT_ALLOWED");
    s.get("/api/nothing/here", &admin)
        .await
        .expect(404, "NOT_FOUND");

    // 400 VAULT_NOT_CONFIGURED: a backend with no vault behind it, or an unknown vault.
    let mut body = api_key_body("IN_AZURE", value);
    body["storageBackend"] = json!("AZURE_KEY_VAULT");
    s.call(Method::POST, "/api/secrets", &admin, Some(body))
        .await
        .expect(400, "VAULT_NOT_CONFIGURED");
    let mut body = api_key_body("IN_NOWHERE", value);
    body["vaultId"] = json!("no-such-vault");
    s.call(Method::POST, "/api/secrets", &admin, Some(body))
        .await
        .expect(400, "VAULT_NOT_CONFIGURED");

    assert_never_logged(&[value]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_secret_answers_410() {
    let (t, clock) = TestService::with_manual_clock().await;
    let s = spawn_with(t, settings()).await;
    let admin = s.token(&org_admin());
    let mut body = api_key_body("SHORT_LIVED", "sk-expiring-0123456789");
    body["expiresAt"] = json!((secret_testkit::t0() + Duration::hours(1)).to_rfc3339());
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap().to_owned();
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(200, "");
    clock.advance(Duration::hours(2));
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(410, "SECRET_EXPIRED");
    s.get(&format!("/api/secrets/{id}/versions/1"), &admin)
        .await
        .expect(410, "SECRET_EXPIRED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_failure_is_an_opaque_500() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let id = s
        .create_key(&admin, "TAMPERED", "sk-tampered-0123456789")
        .await;
    // Garbage in place of the ciphertext (before any read could cache it).
    s.t.db
        .raw()
        .await
        .exec(
            "UPDATE secret_versions SET encrypted_value = $1 WHERE secret_id = $2",
            &[RawValue::Bytes(vec![7; 64]), RawValue::Text(id.clone())],
        )
        .await;
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    r.expect(500, "DECRYPTION_FAILED");
    assert_eq!(r.body["error"]["message"], "decryption failed");
    assert!(!r.body.to_string().contains("sk-tampered"));
    // The cause is logged at error level with the request id.
    let request_id = r.header("x-request-id").unwrap().to_owned();
    let logged = logs();
    assert!(
        logged.lines().any(|l| l.contains("ERROR")
            && l.contains(&request_id)
            && l.contains("DECRYPTION_FAILED")),
        "the 500's cause is logged with its request id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_write_nothing() {
    let s = spawn_with(
        TestService::new().await,
        HttpSettings {
            max_body_bytes: 4096,
            ..settings()
        },
    )
    .await;
    let admin = s.token(&org_admin());
    let member = s.token(&org_member());
    let id = s.create_key(&admin, "KEPT", "sk-kept-0123456789").await;
    let before = s.rows().await;
    assert_eq!(before, (1, 1, 0));

    let new_value = json!({"value": {"type": "API_KEY", "key": "sk-new-0123456789"}});
    // Unauthenticated, invalid, too large, duplicate, denied, stale, wrong type.
    s.send(
        s.request(Method::POST, "/api/secrets", None)
            .json(&api_key_body("NEW", "sk-x-0123456789")),
    )
    .await
    .expect(401, "UNAUTHENTICATED");
    s.call(
        Method::POST,
        "/api/secrets",
        &admin,
        Some(api_key_body("bad name!", "sk-x-0123456789")),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    s.call(
        Method::POST,
        "/api/secrets",
        &admin,
        Some(api_key_body("BIG", &"k".repeat(6000))),
    )
    .await
    .expect(413, "PAYLOAD_TOO_LARGE");
    s.call(
        Method::POST,
        "/api/secrets",
        &admin,
        Some(api_key_body("KEPT", "sk-x-0123456789")),
    )
    .await
    .expect(409, "CONFLICT");
    s.call(
        Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &member,
        Some(new_value.clone()),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    s.send(
        s.request(
            Method::PUT,
            &format!("/api/secrets/{id}/value"),
            Some(&admin),
        )
        .header("If-Match", "\"2\"")
        .json(&new_value),
    )
    .await
    .expect(409, "VERSION_CONFLICT");
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/rotate"),
        &admin,
        Some(json!({"newValue": {"type": "GENERIC", "value": "x"}})),
    )
    .await
    .expect(400, "INVALID_SECRET_TYPE");
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/access"),
        &member,
        Some(json!({"granteeType": "USER", "granteeId": "user-9"})),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    s.call(
        Method::POST,
        "/api/secrets/import/json",
        &admin,
        Some(json!({"secrets": []})),
    )
    .await
    .expect(400, "VALIDATION_ERROR");

    assert_eq!(s.rows().await, before);
    let r = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(r.body["currentVersion"], 1);
    assert_never_logged(&["sk-kept-0123456789", "sk-new-0123456789", &admin]);
}

// ------------------------------------------------------------------ routes and auth

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_routes_are_never_captured_by_a_secret_id() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let routes = [
        (Method::GET, "/api/secrets/export", 200, ""),
        // No body: the import routes' own answer, not a secret id's.
        (
            Method::POST,
            "/api/secrets/import/env",
            400,
            "VALIDATION_ERROR",
        ),
        (
            Method::POST,
            "/api/secrets/import/json",
            400,
            "VALIDATION_ERROR",
        ),
        (
            Method::POST,
            "/api/secrets/migrate",
            400,
            "VALIDATION_ERROR",
        ),
        (
            Method::GET,
            "/api/secrets/migrations/0190aaaa-0000-7000-8000-000000000000",
            404,
            "SECRET_NOT_FOUND",
        ),
        (
            Method::GET,
            "/api/secrets/migrate",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Method::POST,
            "/api/secrets/resolve",
            400,
            "VALIDATION_ERROR",
        ),
        (
            Method::DELETE,
            "/api/secrets/resolve",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        // Methods the {id} routes answer must not reach them either.
        (
            Method::DELETE,
            "/api/secrets/export",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Method::PUT,
            "/api/secrets/import/env",
            405,
            "METHOD_NOT_ALLOWED",
        ),
    ];
    for (method, path, status, code) in routes {
        let r = s.call(method.clone(), path, &admin, None).await;
        r.expect(status, code);
        // The methods they answer need a token like every /api route.
        if status != 405 {
            s.send(s.request(method.clone(), path, None))
                .await
                .expect(401, "UNAUTHENTICATED");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_invalid_token_is_401_everywhere_under_api() {
    let s = spawn().await;
    let other_issuer = TokenIssuer::hs256(&[9u8; 32]).unwrap();
    let forged = other_issuer
        .mint(&org_admin(), Duration::minutes(5), Utc::now())
        .unwrap();
    let expired = s
        .issuer
        .mint(
            &org_admin(),
            Duration::minutes(5),
            Utc::now() - Duration::hours(1),
        )
        .unwrap();
    for path in [
        "/api/secrets",
        "/api/secrets/some-id",
        "/api/secrets/some-id/value",
        "/api/secrets/some-id/versions/1",
        "/api/secrets/some-id/access",
    ] {
        s.send(s.request(Method::GET, path, None))
            .await
            .expect(401, "UNAUTHENTICATED");
        for bad in [forged.as_str(), expired.as_str(), "x.y.z"] {
            let r = s.send(s.request(Method::GET, path, Some(bad))).await;
            r.expect(401, "UNAUTHENTICATED");
            assert!(!r.text.contains(bad), "the token is never echoed");
        }
        let r = s
            .send(
                s.client
                    .get(format!("{}{path}", s.base))
                    .header("Authorization", "Basic dXNlcjpwYXNz"),
            )
            .await;
        r.expect(401, "UNAUTHENTICATED");
    }
    let r = s
        .send(s.request(Method::GET, "/api/secrets", Some(&expired)))
        .await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_reads_are_rate_limited_per_user() {
    let s = spawn_with(
        TestService::new().await,
        HttpSettings {
            rate_limit_per_minute: 3,
            refusal_window: std::time::Duration::from_millis(600),
            ..settings()
        },
    )
    .await;
    let admin = s.token(&org_admin());
    let id = s
        .create_key(&admin, "LIMITED", "sk-limited-0123456789")
        .await;
    let value_path = format!("/api/secrets/{id}/value");
    s.get(&value_path, &admin).await.expect(200, "");
    s.get(&value_path, &admin).await.expect(200, "");
    s.get(&format!("/api/secrets/{id}/versions/1"), &admin)
        .await
        .expect(200, "");
    let r = s.get(&value_path, &admin).await;
    r.expect(429, "RATE_LIMITED");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=120).contains(&retry), "{retry}");
    s.get(&format!("/api/secrets/{id}/versions/1"), &admin)
        .await
        .expect(429, "RATE_LIMITED");
    // Metadata reads are not limited; other users have their own budget.
    s.get(&format!("/api/secrets/{id}"), &admin)
        .await
        .expect(200, "");
    let other = Principal::user("user-1b")
        .with_org("org-1", OrgRole::Admin)
        .authenticated_at(Utc::now());
    s.get(&value_path, &s.token(&other)).await.expect(200, "");
    // The first refused read of the window is in the audit trail in full; the second is
    // summarised when the window is over.
    let r = s.get("/api/secrets/audit?outcome=DENIED", &admin).await;
    assert_eq!(r.body["total"], 1, "{}", r.text);
    let denied = &r.body["items"][0];
    assert_eq!(denied["eventType"], "ACCESS_DENIED");
    assert_eq!(denied["secretId"], id.as_str());
    assert!(
        denied["errorMessage"]
            .as_str()
            .unwrap()
            .contains("rate limit")
    );
    let mut summary = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let r = s.get("/api/secrets/audit?outcome=DENIED", &admin).await;
        if r.body["total"] == 2 {
            summary = r.body["items"][0].clone();
            break;
        }
    }
    assert_eq!(
        summary["eventType"], "ACCESS_DENIED",
        "no summary: {summary}"
    );
    assert_eq!(summary["details"]["summarised"], true);
    assert_eq!(summary["details"]["refusals"], 1);
    assert_eq!(summary["details"]["askedFor"], json!([id]));
    assert_eq!(
        summary["secretId"],
        id.as_str(),
        "one secret: filed under it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_and_if_match_guard_against_lost_updates() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let id = s
        .create_key(&admin, "GUARDED", "sk-guarded-0123456789")
        .await;
    let put_value = |etag: &str, key: &str| {
        s.request(
            Method::PUT,
            &format!("/api/secrets/{id}/value"),
            Some(&admin),
        )
        .header("If-Match", etag.to_owned())
        .json(&json!({"value": {"type": "API_KEY", "key": key}}))
    };
    // Two writers read version 1; the second write loses.
    let r = s.send(put_value("\"1\"", "sk-first-0123456789")).await;
    r.expect(200, "");
    assert_eq!(r.header("etag"), Some("\"2\""));
    let r = s.send(put_value("\"1\"", "sk-second-0123456789")).await;
    r.expect(409, "VERSION_CONFLICT");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("current version is 2")
    );
    // `*` and no header skip the check.
    s.send(put_value("*", "sk-third-0123456789"))
        .await
        .expect(200, "");
    // Rotate, rollback, metadata update and delete honour If-Match too.
    for (method, path, body) in [
        (
            Method::POST,
            format!("/api/secrets/{id}/rotate"),
            Some(json!({"newValue": {"type": "API_KEY", "key": "sk-rot-0123456789"}})),
        ),
        (
            Method::POST,
            format!("/api/secrets/{id}/rollback"),
            Some(json!({"version": 1})),
        ),
        (
            Method::PUT,
            format!("/api/secrets/{id}"),
            Some(json!({"description": "d"})),
        ),
        (Method::DELETE, format!("/api/secrets/{id}"), None),
    ] {
        let mut req = s
            .request(method.clone(), &path, Some(&admin))
            .header("If-Match", "\"1\"");
        if let Some(body) = &body {
            req = req.json(body);
        }
        s.send(req).await.expect(409, "VERSION_CONFLICT");
    }
    let r = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(r.header("etag"), Some("\"3\""));
    let r = s
        .send(
            s.request(Method::DELETE, &format!("/api/secrets/{id}"), Some(&admin))
                .header("If-Match", "\"3\""),
        )
        .await;
    r.expect(200, "");
    // Purging checks If-Match as well.
    s.send(
        s.request(
            Method::DELETE,
            &format!("/api/secrets/{id}/permanent"),
            Some(&admin),
        )
        .header("If-Match", "\"2\""),
    )
    .await
    .expect(409, "VERSION_CONFLICT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let s = spawn_with(
        TestService::new().await,
        HttpSettings {
            max_body_bytes: 2048,
            ..settings()
        },
    )
    .await;
    let admin = s.token(&org_admin());
    let r = s
        .call(
            Method::POST,
            "/api/secrets",
            &admin,
            Some(api_key_body("HUGE", &"z".repeat(3000))),
        )
        .await;
    r.expect(413, "PAYLOAD_TOO_LARGE");
    assert!(!r.text.contains("zzzz"));
    // Just under the limit is fine.
    s.call(
        Method::POST,
        "/api/secrets",
        &admin,
        Some(api_key_body("SMALL", &"z".repeat(1500))),
    )
    .await
    .expect(201, "");
}

// ------------------------------------------------------------------ observability

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_or_generated_and_logged() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let r = s
        .send(
            s.request(Method::GET, "/api/secrets", Some(&admin))
                .header("X-Request-Id", "trace-abc.123_X"),
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("trace-abc.123_X"));
    let r = s
        .send(
            s.request(Method::GET, "/api/secrets/nope", Some(&admin))
                .header("X-Request-Id", "bad id with spaces"),
        )
        .await;
    let generated = r.header("x-request-id").unwrap().to_owned();
    assert_ne!(generated, "bad id with spaces");
    assert_eq!(generated.len(), 36, "a UUID");
    assert_eq!(r.body["error"]["requestId"], generated.as_str());
    let r = s.send(s.client.get(format!("{}/healthz", s.base))).await;
    assert!(r.header("x-request-id").is_some());
    // The request's log line carries its id and route pattern, never the path's id.
    let logged = logs();
    let line = logged
        .lines()
        .find(|l| l.contains(&generated) && l.contains("request completed"))
        .expect("a log line for the request");
    assert!(line.contains("/api/secrets/{id}"), "{line}");
    assert!(line.contains("404"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let id = s
        .create_key(&admin, "HEADERS", "sk-headers-0123456789")
        .await;
    for (path, token) in [
        (format!("/api/secrets/{id}/value"), Some(admin.as_str())),
        ("/api/secrets".to_owned(), None),
        ("/healthz".to_owned(), None),
        ("/nowhere".to_owned(), None),
    ] {
        let r = s.send(s.request(Method::GET, &path, token)).await;
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route() {
    let s = spawn().await;
    let r = s
        .send(s.client.get(format!("{}/api/openapi.json", s.base)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = r.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/secrets", "post"),
        ("/api/secrets", "get"),
        ("/api/secrets/{id}", "get"),
        ("/api/secrets/{id}", "put"),
        ("/api/secrets/{id}", "delete"),
        ("/api/secrets/{id}/value", "get"),
        ("/api/secrets/{id}/value", "put"),
        ("/api/secrets/{id}/restore", "post"),
        ("/api/secrets/{id}/permanent", "delete"),
        ("/api/secrets/{id}/rotate", "post"),
        ("/api/secrets/{id}/versions", "get"),
        ("/api/secrets/{id}/versions/{version}", "get"),
        ("/api/secrets/{id}/rollback", "post"),
        ("/api/secrets/{id}/access", "get"),
        ("/api/secrets/{id}/access", "post"),
        ("/api/secrets/{id}/access/{grantId}", "delete"),
        ("/api/secrets/audit", "get"),
        ("/api/secrets/audit/{id}", "get"),
        ("/api/secrets/compliance/report", "get"),
        ("/api/secrets/export", "get"),
        ("/api/secrets/import/env", "post"),
        ("/api/vaults", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    assert_eq!(
        paths["/api/secrets/{id}/value"]["get"]["security"][0]["bearer"],
        json!([])
    );
    let schemes = &r.body["components"]["securitySchemes"]["bearer"];
    assert_eq!(schemes["scheme"], "bearer");
    let schemas = r.body["components"]["schemas"].as_object().unwrap();
    for name in [
        "CreateSecretRequest",
        "SecretMetadataResponse",
        "SecretValue",
        "ErrorResponse",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
    assert_eq!(
        schemas["SecretValue"]["oneOf"].as_array().unwrap().len(),
        9,
        "the nine value types"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_method_and_status() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    for _ in 0..3 {
        s.get("/api/secrets/missing", &admin).await;
    }
    s.get("/api/secrets", &admin).await;
    let r = s.send(s.client.get(format!("{}/metrics", s.base))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        r.text.contains(
            "http_requests_total{method=\"GET\",route=\"/api/secrets/{id}\",status=\"404\"} 3"
        ),
        "{}",
        r.text
    );
    assert!(r.text.contains(
        "http_request_duration_seconds_count{method=\"GET\",route=\"/api/secrets\",status=\"200\"} 1"
    ));
    assert!(
        r.text
            .contains("# TYPE http_request_duration_seconds histogram")
    );
    assert!(
        !r.text.contains("/api/secrets/missing"),
        "raw paths are not labels"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_and_readiness_need_no_token() {
    let s = spawn().await;
    for path in ["/healthz", "/readyz"] {
        let r = s.send(s.client.get(format!("{}{path}", s.base))).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.body, json!({"status": "ok"}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_headers_are_validated() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    s.send(
        s.request(Method::GET, "/api/secrets", Some(&admin))
            .header("X-Consumer-Module", "mcp-server")
            .header("X-Consumer-Resource-Id", "server-42"),
    )
    .await
    .expect(200, "");
    s.send(
        s.request(Method::GET, "/api/secrets", Some(&admin))
            .header("X-Consumer-Module", "bad module/name"),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    s.send(
        s.request(Method::GET, "/api/secrets", Some(&admin))
            .header("X-Team-Id", "team 1"),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
}

// ------------------------------------------------------------------ audit and compliance

fn super_admin() -> Principal {
    Principal::user("root").as_super_admin()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_queries_filter_page_and_keep_organizations_apart() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let other = s.token(&outsider());
    let id = s.create_key(&admin, "ORG1_KEY", "sk-org1-0123456789").await;
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(200, "");
    // The other organization's admin works in org-2 and fails to read org-1's secret.
    let body = json!({"name": "ORG2_KEY", "type": "API_KEY", "scope": "ORGANIZATION",
        "organizationId": "org-2", "value": {"type": "API_KEY", "key": "sk-org2-0123456789"}});
    s.call(Method::POST, "/api/secrets", &other, Some(body))
        .await
        .expect(201, "");
    s.get(&format!("/api/secrets/{id}/value"), &other)
        .await
        .expect(404, "SECRET_NOT_FOUND");

    // org-1's admin sees org-1's records only: create, read, and the refused read.
    let r = s.get("/api/secrets/audit", &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["total"], 3, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert!(items.iter().all(|i| i["organizationId"] == "org-1"));
    assert_eq!(items[0]["eventType"], "ACCESS_DENIED", "newest first");
    assert_eq!(items[0]["actorId"], "user-3");
    assert_eq!(items[0]["details"]["attempted"], "SECRET_READ");
    assert_eq!(items[2]["eventType"], "SECRET_CREATED");
    assert!(items[0]["hash"].as_str().unwrap().len() == 64);

    let r = s.get("/api/secrets/audit?outcome=DENIED", &admin).await;
    assert_eq!(r.body["total"], 1);
    let r = s
        .get(
            "/api/secrets/audit?eventType=SECRET_READ,SECRET_CREATED&actorId=user-1",
            &admin,
        )
        .await;
    assert_eq!(r.body["total"], 2);
    let r = s
        .get(
            &format!("/api/secrets/audit?secretId={id}&limit=1&page=2"),
            &admin,
        )
        .await;
    assert_eq!(
        (
            r.body["total"].clone(),
            r.body["items"][0]["eventType"].clone()
        ),
        (json!(3), json!("SECRET_READ"))
    );
    let r = s
        .get(
            "/api/secrets/audit?startDate=2000-01-01&endDate=2000-12-31",
            &admin,
        )
        .await;
    assert_eq!(r.body["total"], 0);
    s.get("/api/secrets/audit?eventType=SECRET_LOOKED_AT", &admin)
        .await
        .expect(400, "VALIDATION_ERROR");

    // One record: readable by its organization's admin, not found for another's.
    let record_id = items[1]["id"].as_str().unwrap().to_string();
    let r = s
        .get(&format!("/api/secrets/audit/{record_id}"), &admin)
        .await;
    r.expect(200, "");
    assert_eq!(r.body["eventType"], "SECRET_READ");
    assert_eq!(r.body["details"]["version"], 1);
    s.get(&format!("/api/secrets/audit/{record_id}"), &other)
        .await
        .expect(404, "SECRET_NOT_FOUND");

    // The other admin sees its own organization's create only; members see nothing.
    let r = s.get("/api/secrets/audit", &other).await;
    assert_eq!(r.body["total"], 1);
    s.get("/api/secrets/audit", &s.token(&org_member()))
        .await
        .expect(403, "ACCESS_DENIED");
    // A super admin sees every record.
    let r = s.get("/api/secrets/audit", &s.token(&super_admin())).await;
    assert_eq!(r.body["total"], 4);
    // The literal route is not a secret id: PUT is not an update of secret "audit".
    s.call(Method::PUT, "/api/secrets/audit", &admin, Some(json!({})))
        .await
        .expect(405, "METHOD_NOT_ALLOWED");
    assert_never_logged(&["sk-org1-0123456789", "sk-org2-0123456789"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_report_in_json_and_pdf_shows_the_same_figures() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let id = s
        .create_key(&admin, "NO_EXPIRY_KEY", "sk-report-0123456789")
        .await;
    let mut req = s.request(
        Method::GET,
        &format!("/api/secrets/{id}/value"),
        Some(&admin),
    );
    req = req.header("X-Consumer-Module", "llm-client");
    s.send(req).await.expect(200, "");
    s.get(&format!("/api/secrets/{id}/value"), &s.token(&org_member()))
        .await
        .expect(403, "ACCESS_DENIED");
    let expiring = json!({"name": "SOON", "type": "API_KEY", "scope": "ORGANIZATION",
        "organizationId": "org-1", "expiresAt": (Utc::now() + Duration::days(10)).to_rfc3339(),
        "value": {"type": "API_KEY", "key": "sk-soon-0123456789"}});
    s.call(Method::POST, "/api/secrets", &admin, Some(expiring))
        .await
        .expect(201, "");

    let today = Utc::now().format("%Y-%m-%d").to_string();
    let month_ago = (Utc::now() - Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let path = format!("/api/secrets/compliance/report?startDate={month_ago}&endDate={today}");
    let r = s.get(&path, &admin).await;
    r.expect(200, "");
    let report = &r.body;
    assert_eq!(report["organizationId"], "org-1");
    assert_eq!(report["summary"]["totalSecrets"], 2);
    assert_eq!(report["summary"]["activeSecrets"], 2);
    assert_eq!(report["summary"]["expiringWithin30Days"], 1);
    assert_eq!(report["accessReport"]["totalAccesses"], 1);
    assert_eq!(report["accessReport"]["uniqueUsers"], 1);
    assert_eq!(report["accessReport"]["deniedAccesses"], 1);
    assert_eq!(report["accessReport"]["accessesByModule"]["llm-client"], 1);
    assert_eq!(report["accessReport"]["accessesByScope"]["ORGANIZATION"], 1);
    let findings = report["findings"].as_array().unwrap();
    let no_expiry = findings
        .iter()
        .find(|f| f["affectedSecrets"] == json!([id.clone()]) && f["category"] == "Lifecycle")
        .expect("the secret without expiry is a finding");
    let description = no_expiry["description"].as_str().unwrap().to_string();

    let res = s
        .request(Method::GET, &format!("{path}&format=pdf"), Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&bytes).expect("a well-formed PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).unwrap();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for figure in [
        "Total secrets: 2",
        "Expiring within 30 days: 1",
        "Total accesses: 1",
        "Denied accesses: 1",
        description.as_str(),
    ] {
        assert!(text.contains(figure), "the PDF lacks {figure:?}: {text}");
    }

    // Who may ask: not a member, not another organization's admin for org-1.
    s.get(&path, &s.token(&org_member()))
        .await
        .expect(403, "ACCESS_DENIED");
    s.get(
        &format!("{path}&organizationId=org-1"),
        &s.token(&outsider()),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    s.get("/api/secrets/compliance/report?endDate=2026-01-01", &admin)
        .await
        .expect(400, "VALIDATION_ERROR");
}

// ------------------------------------------------------------------ lifecycle settings

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_settings_are_set_on_create_and_update_and_shown() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let body = json!({"name": "AUTO", "type": "API_KEY", "scope": "ORGANIZATION",
        "organizationId": "org-1", "value": {"type": "API_KEY", "key": "sk-auto-0123456789"},
        "rotationEnabled": true, "rotationIntervalDays": 30, "rotationStrategy": "AUTOMATIC",
        "rotationHandler": "random", "notifyBeforeDays": [7, 30, 7],
        "notificationRecipients": ["ops@example.com"], "versionRetention": 5});
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(201, "");
    assert_eq!(r.body["rotationStrategy"], "AUTOMATIC");
    assert_eq!(r.body["rotationHandler"], "random");
    assert_eq!(
        r.body["notifyBeforeDays"],
        json!([30, 7]),
        "sorted, without duplicates"
    );
    assert_eq!(r.body["notificationRecipients"], json!(["ops@example.com"]));
    assert_eq!(r.body["versionRetention"], 5);
    assert_eq!(r.body["status"], "ACTIVE");
    assert_eq!(r.body["rotationFailures"], 0);
    let id = r.body["id"].as_str().unwrap().to_string();

    let r = s
        .call(Method::PUT, &format!("/api/secrets/{id}"), &admin,
            Some(json!({"rotationStrategy": "NOTIFY_ONLY", "rotationHandler": null, "versionRetention": null})))
        .await;
    r.expect(200, "");
    assert_eq!(r.body["rotationStrategy"], "NOTIFY_ONLY");
    assert_eq!(r.body["rotationHandler"], Value::Null);
    assert_eq!(r.body["versionRetention"], 10, "back to the default");
    assert_eq!(r.body["notifyBeforeDays"], json!([30, 7]), "kept");

    // AUTOMATIC needs a handler; notice days are bounded.
    for bad in [
        json!({"rotationStrategy": "AUTOMATIC"}),
        json!({"notifyBeforeDays": [0]}),
        json!({"versionRetention": 0}),
    ] {
        s.call(
            Method::PUT,
            &format!("/api/secrets/{id}"),
            &admin,
            Some(bad),
        )
        .await
        .expect(400, "VALIDATION_ERROR");
    }
}
