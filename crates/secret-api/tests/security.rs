//! The findings of the security review (issue 9), each tried over HTTP as an attacker would
//! against the real server, on SQLite and (with `DATABASE_URL`) PostgreSQL. Each test fails
//! on the code before its fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use secret_core::{OrgRole, Principal, ProjectRole, TeamRole};
use secret_testkit::http::*;
use serde_json::{Value, json};

/// Administers org `o1`, authenticated just now.
fn o1_admin() -> Principal {
    Principal::user("alice")
        .with_org("o1", OrgRole::Admin)
        .authenticated_at(Utc::now())
}

/// Leads team `t-att` of org `o2`: the attacker.
fn attacker() -> Principal {
    Principal::user("mallory")
        .with_org("o2", OrgRole::Member)
        .with_team("t-att", "o2", TeamRole::Lead)
}

/// A member of project `p1` of org `o1`, team `t1`.
fn p1_member() -> Principal {
    Principal::user("paula")
        .with_org("o1", OrgRole::Member)
        .with_project("p1", "o1", Some("t1"), ProjectRole::Member)
}

fn super_admin() -> Principal {
    Principal::user("root").as_super_admin()
}

fn secret_body(name: &str, scope: &str, place: Value) -> Value {
    let mut body = json!({
        "name": name,
        "type": "API_KEY",
        "value": {"type": "API_KEY", "key": "sk-security-0123456789"},
        "scope": scope,
    });
    for (k, v) in place.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// Calls these tests make on the shared harness's server.
trait SecurityCalls {
    async fn create_in(&self, token: &str, header_org: &str, body: Value) -> Reply;
    async fn audit(&self, query: &str) -> Vec<Value>;
}

impl SecurityCalls for Server {
    /// POSTs a secret with `X-Organization-Id: header_org`.
    async fn create_in(&self, token: &str, header_org: &str, body: Value) -> Reply {
        self.send(
            self.client
                .post(format!("{}/api/secrets", self.base))
                .bearer_auth(token)
                .header("X-Organization-Id", header_org)
                .json(&body),
        )
        .await
    }

    /// Every audit record (as a super admin sees them), newest first.
    async fn audit(&self, query: &str) -> Vec<Value> {
        let root = self.token(&super_admin());
        let r = self
            .get(&format!("/api/secrets/audit?limit=500&{query}"), &root)
            .await;
        r.expect(200, "");
        r.body["items"].as_array().unwrap().clone()
    }
}

// ------------------------------------------------------------------ finding 1

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_cannot_be_placed_in_organizations_the_caller_does_not_belong_to() {
    let s = spawn().await;
    let admin = s.token(&o1_admin());
    let mallory = s.token(&attacker());
    let place = json!({"organizationId": "o1", "projectId": "p1", "teamId": "t1"});
    s.create_in(&admin, "o1", secret_body("DB_PASSWORD", "PROJECT", place))
        .await
        .expect(201, "");
    let before = s.rows().await;

    // A lead of t-att (org o2) files a PROJECT secret under o1/p1 naming its own team.
    let attack = json!({"organizationId": "o1", "projectId": "p1", "teamId": "t-att"});
    let fresh = s
        .create_in(
            &mallory,
            "o2",
            secret_body("PLANTED", "PROJECT", attack.clone()),
        )
        .await;
    fresh.expect(403, "ACCESS_DENIED");
    // The same answer whether or not the name is taken there: no 409 oracle.
    let taken = s
        .create_in(
            &mallory,
            "o2",
            secret_body("DB_PASSWORD", "PROJECT", attack),
        )
        .await;
    taken.expect(403, "ACCESS_DENIED");
    assert_eq!(
        fresh.body["error"]["message"],
        taken.body["error"]["message"]
    );
    // A TEAM secret of its own team id, filed under o1.
    s.create_in(
        &mallory,
        "o2",
        secret_body(
            "PLANTED",
            "TEAM",
            json!({"organizationId": "o1", "teamId": "t-att"}),
        ),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    // A project admin naming any organization for its project.
    let p9_admin = s.token(
        &Principal::user("pete")
            .with_org("o2", OrgRole::Member)
            .with_project("p9", "o2", None, ProjectRole::Admin),
    );
    s.create_in(
        &p9_admin,
        "o2",
        secret_body(
            "PLANTED",
            "PROJECT",
            json!({"organizationId": "o1", "projectId": "p9"}),
        ),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    // A USER secret filed under a foreign organization.
    s.create_in(
        &mallory,
        "o2",
        secret_body("MINE", "USER", json!({"organizationId": "o1"})),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    assert_eq!(s.rows().await, before, "nothing was written");

    // What the caller's memberships do allow still works.
    s.create_in(
        &mallory,
        "o2",
        secret_body(
            "OURS",
            "TEAM",
            json!({"organizationId": "o2", "teamId": "t-att"}),
        ),
    )
    .await
    .expect(201, "");
    s.create_in(
        &mallory,
        "o2",
        secret_body("MINE", "USER", json!({"organizationId": "o2"})),
    )
    .await
    .expect(201, "");
    s.create_in(
        &p9_admin,
        "o2",
        secret_body(
            "P9_KEY",
            "PROJECT",
            json!({"organizationId": "o2", "projectId": "p9"}),
        ),
    )
    .await
    .expect(201, "");

    // Members of p1 list only the secret its admin put there.
    let r = s
        .get("/api/secrets?scope=PROJECT", &s.token(&p1_member()))
        .await;
    r.expect(200, "");
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["DB_PASSWORD"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_ids_match_only_within_their_organization() {
    let s = spawn().await;
    let admin = s.token(&o1_admin());
    let r = s
        .create_in(
            &admin,
            "o1",
            secret_body(
                "T1_KEY",
                "TEAM",
                json!({"organizationId": "o1", "teamId": "t1"}),
            ),
        )
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap().to_owned();
    // A lead of a team also called t1, but of org o2, neither sees nor owns it.
    let namesake = s.token(&Principal::user("nina").with_team("t1", "o2", TeamRole::Lead));
    s.get(&format!("/api/secrets/{id}"), &namesake)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    s.get(&format!("/api/secrets/{id}/value"), &namesake)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    // A TEAM grant to t1 serves o1's t1 only.
    let grant = json!({"granteeType": "TEAM", "granteeId": "t1", "canRead": true});
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/access"),
        &admin,
        Some(grant),
    )
    .await
    .expect(201, "");
    s.get(&format!("/api/secrets/{id}/value"), &namesake)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    let member = s.token(&Principal::user("tom").with_team("t1", "o1", TeamRole::Member));
    s.get(&format!("/api/secrets/{id}/value"), &member)
        .await
        .expect(200, "");
}

// ------------------------------------------------------------------ finding 2

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grantee_cannot_make_its_time_limited_grant_permanent() {
    let s = spawn().await;
    let admin = s.token(&o1_admin());
    let r = s
        .create_in(
            &admin,
            "o1",
            secret_body("SHARED", "ORGANIZATION", json!({"organizationId": "o1"})),
        )
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let access = format!("/api/secrets/{id}/access");
    let until = (Utc::now() + Duration::seconds(60)).to_rfc3339();
    let bob_grant = json!({"granteeType": "USER", "granteeId": "bob", "canRead": true,
        "canGrant": true, "expiresAt": until});
    let r = s.call(Method::POST, &access, &admin, Some(bob_grant)).await;
    r.expect(201, "");
    let bob_expiry: DateTime<Utc> = r.body["expiresAt"].as_str().unwrap().parse().unwrap();
    let bob = s.token(&Principal::user("bob"));

    // Bob re-grants himself the same without an expiry: refused, nothing changed.
    let forever = json!({"granteeType": "USER", "granteeId": "bob", "canRead": true,
        "canGrant": true});
    s.call(Method::POST, &access, &bob, Some(forever))
        .await
        .expect(403, "ACCESS_DENIED");
    // Nor through a later expiry.
    let later = json!({"granteeType": "USER", "granteeId": "bob", "canRead": true,
        "expiresAt": (Utc::now() + Duration::days(30)).to_rfc3339()});
    s.call(Method::POST, &access, &bob, Some(later))
        .await
        .expect(403, "ACCESS_DENIED");
    let grants = s.get(&access, &admin).await;
    let bobs: Vec<&Value> = grants.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["granteeId"] == "bob")
        .collect();
    assert_eq!(bobs.len(), 1);
    assert_eq!(
        bobs[0]["expiresAt"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        bob_expiry
    );

    // A grant Bob passes on expires with his own.
    let carol = json!({"granteeType": "USER", "granteeId": "carol", "canRead": true});
    let r = s.call(Method::POST, &access, &bob, Some(carol)).await;
    r.expect(201, "");
    let carol_expiry: DateTime<Utc> = r.body["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(carol_expiry, bob_expiry, "capped at the granter's grant");

    // The owner replacing Bob's grant is audited as a replacement, old and new.
    let permanent = json!({"granteeType": "USER", "granteeId": "bob", "canRead": true});
    s.call(Method::POST, &access, &admin, Some(permanent))
        .await
        .expect(201, "");
    let records = s
        .audit(&format!("secretId={id}&eventType=ACCESS_GRANTED"))
        .await;
    let replaced = records
        .iter()
        .find(|r| r["action"] == "GRANT_REPLACED")
        .expect("a GRANT_REPLACED record");
    assert_eq!(replaced["details"]["granteeId"], "bob");
    assert_eq!(replaced["details"]["canGrant"], false);
    assert_eq!(replaced["details"]["expiresAt"], Value::Null);
    assert_eq!(replaced["details"]["previous"]["canGrant"], true);
    assert!(replaced["details"]["previous"]["expiresAt"].is_string());
}

// ------------------------------------------------------------------ finding 3

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_attempts_are_filed_under_the_targeted_organization() {
    let s = spawn_with(
        secret_testkit::TestService::new().await,
        secret_api::http::HttpSettings {
            rate_limit_per_minute: 1,
            ..settings()
        },
    )
    .await;
    let admin = s.token(&o1_admin());
    let r = s
        .create_in(
            &admin,
            "o1",
            secret_body("TARGET", "ORGANIZATION", json!({"organizationId": "o1"})),
        )
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mallory = s.token(&attacker());

    // A refused create aimed at o1, sent with the attacker's own org in the header.
    s.create_in(
        &mallory,
        "o2",
        secret_body("PLANTED", "ORGANIZATION", json!({"organizationId": "o1"})),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    // A read of o1's secret the attacker may not see.
    s.send(
        s.client
            .get(format!("{}/api/secrets/{id}/value", s.base))
            .bearer_auth(&mallory)
            .header("X-Organization-Id", "o2"),
    )
    .await
    .expect(404, "SECRET_NOT_FOUND");

    let records = s.audit("actorId=mallory").await;
    assert_eq!(records.len(), 2, "{records:?}");
    for r in &records {
        assert_eq!(r["eventType"], "ACCESS_DENIED");
        assert_eq!(r["organizationId"], "o1", "filed under the target: {r}");
        assert_eq!(r["details"]["contextOrganizationId"], "o2");
    }
    // o1's admin sees both attempts; o2's admin sees neither.
    let r = s.get("/api/secrets/audit?actorId=mallory", &admin).await;
    assert_eq!(r.body["total"], 2, "{}", r.text);
    let o2_admin = s.token(&Principal::user("olga").with_org("o2", OrgRole::Admin));
    let r = s.get("/api/secrets/audit?actorId=mallory", &o2_admin).await;
    assert_eq!(r.body["total"], 0, "{}", r.text);

    // A grantee's rate-limited read names the secret it asked for.
    let grant = json!({"granteeType": "USER", "granteeId": "gus", "canRead": true});
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/access"),
        &admin,
        Some(grant),
    )
    .await
    .expect(201, "");
    let gus = s.token(&Principal::user("gus"));
    s.get(&format!("/api/secrets/{id}/value"), &gus)
        .await
        .expect(200, "");
    s.get(&format!("/api/secrets/{id}/value"), &gus)
        .await
        .expect(429, "RATE_LIMITED");
    let records = s.audit("actorId=gus&outcome=DENIED").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["secretId"], id.as_str());
    assert_eq!(records[0]["secretName"], "TARGET");
    assert_eq!(records[0]["organizationId"], "o1");
}

// ------------------------------------------------------------------ finding 7

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_page_numbers_are_a_validation_error_naming_the_field() {
    let s = spawn().await;
    let admin = s.token(&o1_admin());
    for (path, field) in [
        ("/api/secrets?page=18446744073709551615", "page"),
        ("/api/secrets?page=18446744073709551616", "page"),
        ("/api/secrets?page=0", "page"),
        ("/api/secrets?page=2000002&limit=500", "page"),
        ("/api/secrets?limit=501", "limit"),
        ("/api/secrets?limit=0", "limit"),
        ("/api/secrets/audit?page=18446744073709551615", "page"),
        (
            "/api/secrets/audit?page=9223372036854775807&limit=500",
            "page",
        ),
        ("/api/secrets/audit?limit=18446744073709551615", "limit"),
    ] {
        let r = s.get(path, &admin).await;
        r.expect(400, "VALIDATION_ERROR");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{path}: {message}");
    }
    // The largest allowed page answers (empty).
    let r = s.get("/api/secrets?page=2000001&limit=500", &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["items"], json!([]));
    assert_eq!(r.body["page"], 2_000_001);
}

// ------------------------------------------------------------------ finding 6

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_string_passwords_never_reach_plain_metadata() {
    let s = spawn().await;
    let admin = s.token(&o1_admin());
    let org = json!({"organizationId": "o1"});
    for (name, conn, password, host) in [
        (
            "MYSQL",
            "mysql://root:Pa@ssw0rd?x@10.0.0.5:3306/app",
            "Pa@ssw0rd?x",
            Some("10.0.0.5"),
        ),
        (
            "LIBPQ",
            "host=pg.example.com port=5432 dbname=inventory user=inv password=S3cr3t-Wd sslmode=verify-full",
            "S3cr3t-Wd",
            Some("pg.example.com"),
        ),
        (
            "ADO",
            "Server=tcp:sql.example.net,1433;Initial Catalog=db;User ID=u;Password=\"p;a=ss\"\"wd x\";",
            "p;a=ss\"wd x",
            Some("sql.example.net"),
        ),
    ] {
        let mut body = secret_body(name, "ORGANIZATION", org.clone());
        body["type"] = json!("CONNECTION_STRING");
        body["value"] = json!({"type": "CONNECTION_STRING", "connectionString": conn});
        let r = s.create_in(&admin, "o1", body).await;
        r.expect(201, "");
        let id = r.body["id"].as_str().unwrap().to_owned();
        let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
        meta.expect(200, "");
        assert_eq!(
            meta.body["facts"]["connection"]["host"].as_str(),
            host,
            "{name}: {}",
            meta.text
        );
        let escaped = serde_json::to_string(password).unwrap();
        let escaped = escaped.trim_matches('"');
        for piece in [password, escaped] {
            assert!(!meta.text.contains(piece), "{name}: {}", meta.text);
        }
        // Nor is any of it in a plain column of the row.
        let mut raw = s.t.db.raw().await;
        let facts = raw
            .text(&format!("SELECT facts FROM secrets WHERE id = '{id}'"))
            .await;
        assert!(!facts.contains(escaped), "{name}: {facts}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_shows_the_masked_value_kept_encrypted_beside_the_value() {
    let s = spawn().await;
    let admin = s.token(&o1_admin());
    let org = json!({"organizationId": "o1"});
    let mut body = secret_body("MASKED_KEY", "ORGANIZATION", org.clone());
    body["value"] = json!({"type": "API_KEY", "key": "sk-masked-0123456789Zq9X"});
    let r = s.create_in(&admin, "o1", body).await;
    r.expect(201, "");
    assert_eq!(r.body["maskedValue"], "••••••••Zq9X");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mut env = secret_body("ENV_SET", "ORGANIZATION", org.clone());
    env["type"] = json!("ENV_VARIABLE_SET");
    env["value"] = json!({"type": "ENV_VARIABLE_SET",
        "variables": {"DB_USER": "app", "DB_PASS": "hunter2-long"}});
    s.create_in(&admin, "o1", env).await.expect(201, "");

    // A member listing sees the masked displays; no value is in the answer.
    let member = s.token(&Principal::user("mo").with_org("o1", OrgRole::Member));
    let r = s.get("/api/secrets", &member).await;
    r.expect(200, "");
    let masked: Vec<(&str, &str)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap(),
                i["maskedValue"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        masked,
        [
            ("ENV_SET", "DB_PASS=••••••••, DB_USER=••••••••"),
            ("MASKED_KEY", "••••••••Zq9X")
        ]
    );
    assert!(!r.text.contains("hunter2-long") && !r.text.contains("sk-masked"));

    // A new version moves it; rollback moves it back.
    s.call(
        Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &admin,
        Some(json!({"value": {"type": "API_KEY", "key": "sk-masked-rotated-0000Wv7Y"}})),
    )
    .await
    .expect(200, "");
    let r = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(r.body["maskedValue"], "••••••••Wv7Y");
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/rollback"),
            &admin,
            Some(json!({"version": 1})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["maskedValue"], "••••••••Zq9X");

    // Stored only encrypted: no plain column holds the hint, and the blob is not it.
    let mut raw = s.t.db.raw().await;
    let blob = raw
        .fetch_bytes(
            "SELECT masked_value FROM secrets WHERE id = $1",
            &[secret_testkit::RawValue::Text(id.clone())],
        )
        .await;
    assert!(blob.len() > 12 + 16, "an AES-GCM blob");
    assert!(!blob.windows(4).any(|w| w == b"Zq9X"));
    let facts = raw
        .text(&format!("SELECT facts FROM secrets WHERE id = '{id}'"))
        .await;
    assert!(!facts.contains("Zq9X"), "{facts}");
}
