//! Vault configurations over HTTP against the real server (§12.1, §12.2, issue 10): the
//! pinned wire shape, write-only credentials, who may see and change what, one default per
//! scope, the built-in `local` configuration, and where a new secret's value is kept. On
//! SQLite, and on PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::Method;
use secret_core::{OrgRole, Principal};
use secret_testkit::http::*;
use serde_json::{Value, json};

const TOKEN: &str = "hvs.CANARY-vault-token-51c9";

fn root() -> Principal {
    Principal::user("root").as_super_admin()
}

fn bao(name: &str, scope: &str, token: &str) -> Value {
    json!({"name": name, "description": "dev OpenBao", "backend": "HASHICORP_VAULT",
           "scope": scope,
           "config": {"address": "http://127.0.0.1:1", "namespace": null, "mount": "secret",
                      "auth": {"method": "TOKEN", "token": token}},
           "isDefault": false})
}

async fn configure(s: &Server, token: &str, body: Value) -> Value {
    let r = s.call(Method::POST, "/api/vaults", token, Some(body)).await;
    r.expect(201, "");
    r.body
}

async fn vault_audit(s: &Server, token: &str, event: &str) -> Vec<Value> {
    let r = s
        .get(
            &format!("/api/secrets/audit?eventType={event}&limit=100"),
            token,
        )
        .await;
    r.expect(200, "");
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_is_configured_in_the_pinned_shape_and_its_credentials_never_come_back() {
    let s = spawn().await;
    let root = s.token(&root());
    let v = configure(&s, &root, bao("bao-dev", "GLOBAL", TOKEN)).await;
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["name"], "bao-dev");
    assert_eq!(v["backend"], "HASHICORP_VAULT");
    assert_eq!(v["scope"], "GLOBAL");
    assert_eq!(v["healthStatus"], "UNKNOWN");
    assert_eq!(v["lastHealthCheck"], Value::Null);
    assert_eq!(v["secretCount"], 0);
    assert_eq!(v["isActive"], true);
    assert_eq!(v["isDefault"], false);
    assert_eq!(v["config"]["address"], "http://127.0.0.1:1");
    assert_eq!(v["config"]["mount"], "secret");
    assert_eq!(v["config"]["auth"], json!({"method": "TOKEN"}));

    // Listed after the built-in one; readable alone; the token in no answer.
    let list = s.get("/api/vaults", &root).await;
    list.expect(200, "");
    let ids: Vec<&str> = list.body["vaults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["local", id.as_str()]);
    let one = s.get(&format!("/api/vaults/{id}"), &root).await;
    one.expect(200, "");
    for text in [&list.text, &one.text] {
        assert!(!text.contains("CANARY"), "{text}");
    }

    // Stored encrypted: the token's bytes are nowhere in the row.
    let mut raw = s.t.db.raw().await;
    let blob = raw
        .fetch_bytes(
            "SELECT encrypted_config FROM vault_configurations WHERE name = 'bao-dev'",
            &[],
        )
        .await;
    assert!(!blob.is_empty());
    assert!(!String::from_utf8_lossy(&blob).contains("CANARY"));

    // Audited with the settings' public part only.
    let records = vault_audit(&s, &root, "VAULT_CONFIGURED").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["details"]["vaultId"], id.as_str());
    assert_eq!(
        records[0]["details"]["config"]["address"],
        "http://127.0.0.1:1"
    );
    assert!(!records[0].to_string().contains("CANARY"));
    assert_never_logged(&[TOKEN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_refused_naming_the_field_and_writing_nothing() {
    let s = spawn().await;
    let root = s.token(&root());
    let mut body = bao("b", "GLOBAL", TOKEN);
    body["config"]["auth"] = json!({"method": "TOKEN"});
    let r = s.call(Method::POST, "/api/vaults", &root, Some(body)).await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(r.text.contains("config.auth.token"), "{}", r.text);

    let mut body = bao("b", "GLOBAL", TOKEN);
    body["config"]["auth"]["token"] = json!(12345);
    let r = s.call(Method::POST, "/api/vaults", &root, Some(body)).await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(!r.text.contains("12345"), "{}", r.text);

    let mut body = bao("b", "GLOBAL", TOKEN);
    body["config"]["address"] = json!(format!("http://x:{TOKEN}@127.0.0.1:8200"));
    let r = s.call(Method::POST, "/api/vaults", &root, Some(body)).await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(!r.text.contains("CANARY"), "{}", r.text);

    let mut body = bao("b", "GLOBAL", TOKEN);
    body["backend"] = json!("LOCAL_ENCRYPTED");
    s.call(Method::POST, "/api/vaults", &root, Some(body))
        .await
        .expect(400, "VALIDATION_ERROR");
    let mut body = bao("b", "ORGANIZATION", TOKEN);
    body["organizationId"] = Value::Null;
    s.call(Method::POST, "/api/vaults", &root, Some(body))
        .await
        .expect(400, "VALIDATION_ERROR");
    let mut body = bao("b", "GLOBAL", TOKEN);
    body["color"] = json!("red");
    s.call(Method::POST, "/api/vaults", &root, Some(body))
        .await
        .expect(400, "VALIDATION_ERROR");

    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM vault_configurations").await,
        1
    );
    // Failures are audited too, without the token.
    let failed = vault_audit(&s, &root, "VAULT_CONFIGURED").await;
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|r| r["outcome"] == "FAILURE"));
    assert!(!json!(failed).to_string().contains("CANARY"));
    assert_never_logged(&[TOKEN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_see_and_change_vaults_and_only_their_own() {
    let s = spawn().await;
    let root = s.token(&root());
    let admin1 = s.token(&Principal::user("a1").with_org("org-1", OrgRole::Admin));
    let admin2 = s.token(&Principal::user("a2").with_org("org-2", OrgRole::Admin));
    let member = s.token(&org_member());

    // An org admin configures for its own organization only, never GLOBAL.
    s.call(
        Method::POST,
        "/api/vaults",
        &admin1,
        Some(bao("g", "GLOBAL", TOKEN)),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    let mut other = bao("o2", "ORGANIZATION", TOKEN);
    other["organizationId"] = json!("org-2");
    s.call(Method::POST, "/api/vaults", &admin1, Some(other))
        .await
        .expect(403, "ACCESS_DENIED");
    let mut mine = bao("o1", "ORGANIZATION", TOKEN);
    mine["organizationId"] = json!("org-1");
    let o1 = configure(&s, &admin1, mine).await;
    let o1_id = o1["id"].as_str().unwrap();
    assert_eq!(o1["organizationId"], "org-1");
    let g = configure(&s, &root, bao("g", "GLOBAL", TOKEN)).await;
    let g_id = g["id"].as_str().unwrap();

    // Members see nothing; each admin sees the global ones and its own organization's.
    s.get("/api/vaults", &member)
        .await
        .expect(403, "ACCESS_DENIED");
    let names = |r: &Reply| -> Vec<String> {
        r.body["vaults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&s.get("/api/vaults", &admin1).await),
        ["local", "g", "o1"]
    );
    assert_eq!(names(&s.get("/api/vaults", &admin2).await), ["local", "g"]);
    s.get(&format!("/api/vaults/{o1_id}"), &admin2)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    s.call(
        Method::DELETE,
        &format!("/api/vaults/{o1_id}"),
        &admin2,
        None,
    )
    .await
    .expect(404, "SECRET_NOT_FOUND");
    // A global vault is visible to an org admin but not theirs to change.
    s.call(
        Method::PUT,
        &format!("/api/vaults/{g_id}"),
        &admin1,
        Some(json!({"description": "mine now"})),
    )
    .await
    .expect(403, "ACCESS_DENIED");
    // Duplicate names within one scope are a conflict; across scopes they are fine.
    s.call(
        Method::POST,
        "/api/vaults",
        &root,
        Some(bao("g", "GLOBAL", TOKEN)),
    )
    .await
    .expect(409, "CONFLICT");
    let mut again = bao("g", "ORGANIZATION", TOKEN);
    again["organizationId"] = json!("org-1");
    configure(&s, &admin1, again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_has_one_default_and_the_global_one_falls_back_to_local() {
    let s = spawn().await;
    let root = s.token(&root());
    let default_of = |r: &Reply| -> Vec<String> {
        r.body["vaults"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["isDefault"] == true)
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(default_of(&s.get("/api/vaults", &root).await), ["local"]);
    let mut a = bao("a", "GLOBAL", TOKEN);
    a["isDefault"] = json!(true);
    let a = configure(&s, &root, a).await;
    let a_id = a["id"].as_str().unwrap();
    assert_eq!(default_of(&s.get("/api/vaults", &root).await), ["a"]);
    let b = configure(&s, &root, bao("b", "GLOBAL", TOKEN)).await;
    let b_id = b["id"].as_str().unwrap();
    s.call(
        Method::PUT,
        &format!("/api/vaults/{b_id}"),
        &root,
        Some(json!({"isDefault": true})),
    )
    .await
    .expect(200, "");
    assert_eq!(default_of(&s.get("/api/vaults", &root).await), ["b"]);
    // An organization's default is its own and leaves the global one alone.
    let mut o = bao("o", "ORGANIZATION", TOKEN);
    o["organizationId"] = json!("org-1");
    o["isDefault"] = json!(true);
    configure(&s, &root, o).await;
    assert_eq!(default_of(&s.get("/api/vaults", &root).await), ["b", "o"]);
    // A default cannot be disabled; clearing or deleting the global default makes local it.
    s.call(
        Method::PUT,
        &format!("/api/vaults/{b_id}"),
        &root,
        Some(json!({"isActive": false})),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    s.call(Method::DELETE, &format!("/api/vaults/{b_id}"), &root, None)
        .await
        .expect(204, "");
    assert_eq!(
        default_of(&s.get("/api/vaults", &root).await),
        ["local", "o"]
    );
    s.call(
        Method::PUT,
        &format!("/api/vaults/{a_id}"),
        &root,
        Some(json!({"isDefault": true})),
    )
    .await
    .expect(200, "");
    s.call(
        Method::PUT,
        &format!("/api/vaults/{a_id}"),
        &root,
        Some(json!({"isDefault": false})),
    )
    .await
    .expect(200, "");
    assert_eq!(
        default_of(&s.get("/api/vaults", &root).await),
        ["local", "o"]
    );
    // Local stays the default until another is chosen.
    s.call(
        Method::PUT,
        "/api/vaults/local",
        &root,
        Some(json!({"isDefault": false})),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    let updates = vault_audit(&s, &root, "VAULT_UPDATED").await;
    assert!(
        updates
            .iter()
            .any(|r| r["details"]["fields"] == json!(["isDefault"]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_local_vault_cannot_be_deleted_disabled_or_given_settings() {
    let s = spawn().await;
    let root = s.token(&root());
    let local = s.get("/api/vaults/local", &root).await;
    local.expect(200, "");
    assert_eq!(local.body["backend"], "LOCAL_ENCRYPTED");
    assert_eq!(local.body["scope"], "GLOBAL");
    assert_eq!(local.body["config"], json!({}));
    s.call(Method::DELETE, "/api/vaults/local", &root, None)
        .await
        .expect(409, "CONFLICT");
    for change in [
        json!({"isActive": false}),
        json!({"name": "elsewhere"}),
        json!({"config": {"address": "http://127.0.0.1:8200"}}),
    ] {
        s.call(Method::PUT, "/api/vaults/local", &root, Some(change))
            .await
            .expect(400, "VALIDATION_ERROR");
    }
    let r = s
        .call(
            Method::PUT,
            "/api/vaults/local",
            &root,
            Some(json!({"description": "this machine"})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["description"], "this machine");
    // Checking it is a real check, recorded as its health and audited.
    let h = s
        .call(Method::POST, "/api/vaults/local/health", &root, None)
        .await;
    h.expect(200, "");
    assert_eq!(h.body["healthy"], true);
    assert_eq!(h.body["healthStatus"], "HEALTHY");
    assert!(h.body["lastHealthCheck"].is_string());
    let checks = vault_audit(&s, &root, "VAULT_HEALTH_CHECK").await;
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["details"]["healthStatus"], "HEALTHY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_without_config_keeps_the_credentials_and_one_with_config_replaces_them() {
    let s = spawn().await;
    let root = s.token(&root());
    let v = configure(&s, &root, bao("keep", "GLOBAL", TOKEN)).await;
    let id = v["id"].as_str().unwrap();
    let mut raw = s.t.db.raw().await;
    let sql = "SELECT encrypted_config FROM vault_configurations WHERE name = 'keep'";
    let before = raw.fetch_bytes(sql, &[]).await;
    let r = s
        .call(
            Method::PUT,
            &format!("/api/vaults/{id}"),
            &root,
            Some(json!({"description": "renamed", "name": "kept"})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["config"]["auth"]["method"], "TOKEN");
    let sql = "SELECT encrypted_config FROM vault_configurations WHERE name = 'kept'";
    assert_eq!(raw.fetch_bytes(sql, &[]).await, before);
    let r = s
        .call(
            Method::PUT,
            &format!("/api/vaults/{id}"),
            &root,
            Some(
                json!({"config": {"address": "https://vault.example:8200", "mount": "kv",
                "auth": {"method": "APPROLE", "roleId": "role-1", "secretId": TOKEN}}}),
            ),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["config"]["address"], "https://vault.example:8200");
    assert_eq!(r.body["config"]["mount"], "kv");
    assert_eq!(r.body["config"]["auth"]["method"], "APPROLE");
    assert!(!r.text.contains("CANARY") && !r.text.contains("role-1"));
    assert_ne!(raw.fetch_bytes(sql, &[]).await, before);
    // A replacement is validated whole: a partial one is refused.
    s.call(
        Method::PUT,
        &format!("/api/vaults/{id}"),
        &root,
        Some(json!({"config": {"mount": "kv"}})),
    )
    .await
    .expect(400, "VALIDATION_ERROR");
    assert_never_logged(&[TOKEN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_kept_in_the_vault_it_names_or_its_scopes_default() {
    let s = spawn().await;
    let root = s.token(&root());
    let admin = s.token(&org_admin());
    let mut body = api_key_body("ON_LOCAL", "sk-on-local-0123456789");
    body["vaultId"] = json!("local");
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(201, "");
    assert_eq!(r.body["vaultId"], "local");
    assert_eq!(r.body["storageBackend"], "LOCAL_ENCRYPTED");
    let id = s
        .create_key(&admin, "DEFAULTED", "sk-defaulted-0123456789")
        .await;
    let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(meta.body["vaultId"], "local");
    let local = s.get("/api/vaults/local", &root).await;
    assert_eq!(local.body["secretCount"], 2);

    // An organization's vault serves only that organization's secrets.
    let mut o2 = bao("o2", "ORGANIZATION", TOKEN);
    o2["organizationId"] = json!("org-2");
    let o2 = configure(&s, &root, o2).await;
    let mut body = api_key_body("ELSEWHERE", "sk-elsewhere-0123456789");
    body["vaultId"] = o2["id"].clone();
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(400, "VAULT_NOT_CONFIGURED");
    // A vault of another kind than the one asked for is a validation error.
    let mut body = api_key_body("MISMATCH", "sk-mismatch-0123456789");
    body["vaultId"] = json!("local");
    body["storageBackend"] = json!("HASHICORP_VAULT");
    s.call(Method::POST, "/api/secrets", &admin, Some(body))
        .await
        .expect(400, "VALIDATION_ERROR");
    // Two vaults of a kind and none the default: the choices are named.
    let a = configure(&s, &root, bao("bao-a", "GLOBAL", TOKEN)).await;
    configure(&s, &root, bao("bao-b", "GLOBAL", TOKEN)).await;
    let mut body = api_key_body("AMBIGUOUS", "sk-ambiguous-0123456789");
    body["storageBackend"] = json!("HASHICORP_VAULT");
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(400, "VAULT_NOT_CONFIGURED");
    assert!(r.text.contains(a["id"].as_str().unwrap()), "{}", r.text);
    // A disabled vault is not configured for anyone.
    let a_id = a["id"].as_str().unwrap();
    s.call(
        Method::PUT,
        &format!("/api/vaults/{a_id}"),
        &root,
        Some(json!({"isActive": false})),
    )
    .await
    .expect(200, "");
    let mut body = api_key_body("ON_DISABLED", "sk-disabled-0123456789");
    body["vaultId"] = json!(a_id);
    s.call(Method::POST, "/api/secrets", &admin, Some(body))
        .await
        .expect(400, "VAULT_NOT_CONFIGURED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_holding_secrets_cannot_be_deleted() {
    let s = spawn().await;
    let root = s.token(&root());
    let admin = s.token(&org_admin());
    s.create_key(&admin, "HELD", "sk-held-0123456789").await;
    let mut raw = s.t.db.raw().await;
    let v = configure(&s, &root, bao("holder", "GLOBAL", TOKEN)).await;
    let id = v["id"].as_str().unwrap();
    // Place the secret in it as a migration would (no backend is reached here).
    raw.exec(
        &format!("UPDATE secrets SET vault_config_id = '{id}' WHERE name = 'HELD'"),
        &[],
    )
    .await;
    let r = s
        .call(Method::DELETE, &format!("/api/vaults/{id}"), &root, None)
        .await;
    r.expect(409, "CONFLICT");
    assert!(r.text.contains("1 secret"), "{}", r.text);
    assert_eq!(
        s.get(&format!("/api/vaults/{id}"), &root).await.body["secretCount"],
        1
    );
    let deleted = vault_audit(&s, &root, "VAULT_DELETED").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["outcome"], "FAILURE");
}
