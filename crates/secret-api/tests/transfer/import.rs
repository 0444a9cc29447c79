//! Import from .env and JSON.

use chrono::{Duration, Utc};
use reqwest::Method;
use secret_testkit::http::*;
use serde_json::{Value, json};

use super::{env_body, import_env, super_admin, value_of};

// ------------------------------------------------------------------ .env import

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_import_reads_dotenv_semantics_and_expands_nothing() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let home = std::env::var("HOME").unwrap_or_default();
    let content = "\u{feff}# comment\r\n\
        export EXPORTED=after-export\r\n\
        SPACED = around the equals \r\n\
        SINGLE='single $HOME \\n stays'\r\n\
        DOUBLE=\"double \\\"quoted\\\" \\\\ and\\nnewline\"\r\n\
        MULTI=\"first\r\nsecond\"\r\n\
        INLINE=value # an inline comment\r\n\
        FROM_ENV=$HOME\r\n\
        MASTER=${SECRETS_MASTER_KEY}\r\n\
        PATHY=\"${PATH}\"\r\n\
        DUP=first\r\n\
        EMPTY=\r\n\
        BARE\r\n\
        1BAD=starts with a digit\r\n\
        DUP=second\r\n";
    let body = import_env(&s, &admin, env_body(content)).await;
    let total = body["total"].as_u64().unwrap();
    assert_eq!(body["imported"], 10, "{body}");
    assert_eq!(body["skipped"], 0);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len() as u64, total - 10, "{body}");
    let error_of = |name: &str| {
        errors
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no error for {name}: {body}"))
            .clone()
    };
    assert_eq!(error_of("EMPTY")["line"], 13);
    assert_eq!(error_of("EMPTY")["code"], "VALIDATION_ERROR");
    assert_eq!(error_of("BARE")["line"], 14);
    assert_eq!(error_of("1BAD")["line"], 15);
    assert!(
        !error_of("1BAD")["error"]
            .as_str()
            .unwrap()
            .contains("digit")
    );
    // Indexes count from 0 in input order, and the items are in that order too.
    let indexes: Vec<u64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..total).collect::<Vec<_>>());
    // The duplicate key: the last declaration wins, and the result says so.
    let warning = &body["warnings"][0];
    assert_eq!(warning["name"], "DUP");
    assert_eq!(warning["line"], 16);
    assert!(warning["message"].as_str().unwrap().contains("12, 16"));

    let key = |v: Value| v["key"].as_str().unwrap().to_owned();
    assert_eq!(key(value_of(&s, &admin, "EXPORTED").await), "after-export");
    assert_eq!(
        key(value_of(&s, &admin, "SPACED").await),
        "around the equals"
    );
    assert_eq!(
        key(value_of(&s, &admin, "SINGLE").await),
        "single $HOME \\n stays"
    );
    assert_eq!(
        key(value_of(&s, &admin, "DOUBLE").await),
        "double \"quoted\" \\ and\nnewline"
    );
    assert_eq!(key(value_of(&s, &admin, "MULTI").await), "first\r\nsecond");
    assert_eq!(key(value_of(&s, &admin, "INLINE").await), "value");
    assert_eq!(key(value_of(&s, &admin, "DUP").await), "second");
    // Nothing comes from the server's environment: the characters are stored as written.
    let from_env = key(value_of(&s, &admin, "FROM_ENV").await);
    assert_eq!(from_env, "$HOME");
    assert!(home.is_empty() || !from_env.contains(&home));
    assert_eq!(
        key(value_of(&s, &admin, "MASTER").await),
        "${SECRETS_MASTER_KEY}"
    );
    assert_eq!(key(value_of(&s, &admin, "PATHY").await), "${PATH}");
    let v = value_of(&s, &admin, "INLINE").await;
    assert_eq!(v["type"], "API_KEY");
    assert_never_logged(&["after-export", "around the equals", "single $HOME"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_value_type_skip_and_overwrite() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let mut body = env_body("APP_TOKEN=one\nOTHER=two\n");
    body["stripPrefix"] = json!("APP_");
    body["prefix"] = json!("PROD_");
    body["valueType"] = json!("GENERIC");
    let r = import_env(&s, &admin, body.clone()).await;
    assert_eq!(r["imported"], 2, "{r}");
    let names: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["PROD_TOKEN", "PROD_OTHER"]);
    assert_eq!(
        value_of(&s, &admin, "PROD_TOKEN").await,
        json!({"type": "GENERIC", "value": "one"})
    );

    // The names exist now: skipped without overwrite.
    body["content"] = json!("APP_TOKEN=three\n");
    let r = import_env(&s, &admin, body.clone()).await;
    assert_eq!(
        (r["imported"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(r["items"][0]["action"], "SKIPPED");
    assert_eq!(value_of(&s, &admin, "PROD_TOKEN").await["value"], "one");

    // With overwrite: a new version with changeReason "Import".
    body["overwrite"] = json!(true);
    let r = import_env(&s, &admin, body.clone()).await;
    assert_eq!(r["imported"], 1, "{r}");
    assert_eq!(r["items"][0]["action"], "UPDATED");
    let id = r["items"][0]["secretId"].as_str().unwrap().to_owned();
    assert_eq!(value_of(&s, &admin, "PROD_TOKEN").await["value"], "three");
    let versions = s.get(&format!("/api/secrets/{id}/versions"), &admin).await;
    assert_eq!(versions.body["items"][0]["version"], 2);
    assert_eq!(versions.body["items"][0]["changeReason"], "Import");

    // An overwrite keeps the type: an API_KEY for the GENERIC secret is that item's error.
    body["valueType"] = json!("API_KEY");
    let r = import_env(&s, &admin, body.clone()).await;
    assert_eq!(r["errors"][0]["name"], "PROD_TOKEN");
    assert_eq!(r["errors"][0]["code"], "VALIDATION_ERROR");

    // Only API_KEY and GENERIC are value types of a .env import.
    body["valueType"] = json!("CERTIFICATE");
    let r = s
        .call(Method::POST, "/api/secrets/import/env", &admin, Some(body))
        .await;
    r.expect(400, "VALIDATION_ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_and_writes_nothing() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    s.create_key(&admin, "EXISTS", "sk-existing-0123456789")
        .await;
    let before = s.rows().await;
    let mut raw = s.t.db.raw().await;
    let audit_before = raw.count("SELECT COUNT(*) FROM secret_audit_logs").await;
    let mut body = env_body("NEW_ONE=a\nEXISTS=b\nEMPTY=\n");
    body["dryRun"] = json!(true);
    let r = import_env(&s, &admin, body.clone()).await;
    assert_eq!(r["dryRun"], true);
    assert_eq!(
        (r["imported"].as_u64(), r["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    let actions: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["CREATED", "SKIPPED", "FAILED"]);
    body["overwrite"] = json!(true);
    let r = import_env(&s, &admin, body).await;
    assert_eq!(r["items"][1]["action"], "UPDATED");
    assert_eq!(s.rows().await, before);
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_audit_logs").await,
        audit_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_atomic_import_writes_all_or_nothing() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    s.create_key(&admin, "KEEP", "sk-keep-0123456789").await;
    let before = s.rows().await;
    let mut body = env_body("A_ONE=1\nKEEP=new\nbad name=x\nA_TWO=2\n");
    body["atomic"] = json!(true);
    body["overwrite"] = json!(true);
    let r = import_env(&s, &admin, body.clone()).await;
    assert_eq!(r["imported"], 0, "{r}");
    assert_eq!(r["errors"].as_array().unwrap().len(), 1, "{r}");
    let actions: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["NOT_WRITTEN", "NOT_WRITTEN", "FAILED", "NOT_WRITTEN"]
    );
    assert_eq!(s.rows().await, before);
    assert_eq!(
        value_of(&s, &admin, "KEEP").await["key"],
        "sk-keep-0123456789"
    );

    body["content"] = json!("A_ONE=1\nKEEP=new\nA_TWO=2\n");
    let r = import_env(&s, &admin, body).await;
    assert_eq!(r["imported"], 3, "{r}");
    assert_eq!(s.rows().await.0, before.0 + 2);
    assert_eq!(value_of(&s, &admin, "KEEP").await["key"], "new");
    assert_eq!(value_of(&s, &admin, "A_TWO").await["key"], "2");
    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRETS_IMPORTED'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_is_for_super_admins_and_admins_of_the_org() {
    let s = spawn().await;
    for (who, status, code) in [
        (org_member(), 403, "ACCESS_DENIED"),
        (outsider(), 403, "ACCESS_DENIED"),
    ] {
        let r = s
            .call(
                Method::POST,
                "/api/secrets/import/env",
                &s.token(&who),
                Some(env_body("A=1\n")),
            )
            .await;
        r.expect(status, code);
    }
    assert_eq!(s.rows().await.0, 0);
    // A GLOBAL import needs a super admin.
    let mut body = env_body("GLOBAL_ONE=1\n");
    body["targetScope"] = json!("GLOBAL");
    let r = s
        .call(
            Method::POST,
            "/api/secrets/import/env",
            &s.token(&org_admin()),
            Some(body.clone()),
        )
        .await;
    r.expect(403, "ACCESS_DENIED");
    let r = import_env(&s, &s.token(&super_admin()), body).await;
    assert_eq!(r["imported"], 1);
    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count(
            "SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'ACCESS_DENIED' \
             AND outcome = 'DENIED'"
        )
        .await,
        3
    );
}

// ------------------------------------------------------------------ JSON import

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_import_checks_each_item_as_its_type() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let body = json!({
        "targetScope": "ORGANIZATION",
        "secrets": [
            {"name": "GOOD_KEY", "type": "API_KEY", "value": {"type": "API_KEY", "key": "sk-good-0123"},
             "description": "imported", "tags": ["imported"], "metadata": {"from": "json"}},
            {"name": "NO_PASSWORD", "type": "USERNAME_PASSWORD",
             "value": {"type": "USERNAME_PASSWORD", "username": "svc"}},
            {"name": "PLAIN", "value": "a plain string is GENERIC"},
            {"name": "MISMATCH", "type": "GENERIC", "value": {"type": "API_KEY", "key": "k"}},
            {"name": "NO_VALUE", "type": "API_KEY"},
            {"name": "GOOD_KEY", "type": "API_KEY", "value": {"type": "API_KEY", "key": "again"}},
            {"name": "DB", "type": "CONNECTION_STRING", "value": "postgres://u:p@db:5432/app",
             "expiresAt": (Utc::now() + Duration::days(30)).to_rfc3339()},
        ]
    });
    let r = s
        .call(Method::POST, "/api/secrets/import/json", &admin, Some(body))
        .await;
    r.expect(200, "");
    assert_eq!(r.body["total"], 7);
    assert_eq!(r.body["imported"], 3, "{}", r.text);
    let failed: Vec<(u64, &str)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [
            (1, "NO_PASSWORD"),
            (3, "MISMATCH"),
            (4, "NO_VALUE"),
            (5, "GOOD_KEY")
        ]
    );
    assert!(!r.text.contains("svc\""), "no value is quoted: {}", r.text);
    assert_eq!(
        value_of(&s, &admin, "PLAIN").await,
        json!({"type": "GENERIC", "value": "a plain string is GENERIC"})
    );
    assert_eq!(
        value_of(&s, &admin, "GOOD_KEY").await["key"],
        "sk-good-0123"
    );
    let list = s.get("/api/secrets?search=DB", &admin).await;
    let db = &list.body["items"][0];
    assert_eq!(db["type"], "CONNECTION_STRING");
    assert!(db["expiresAt"].is_string());
}
