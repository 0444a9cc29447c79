//! Export to JSON and .env, and the round trips.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration, Utc};
use reqwest::Method;
use secret_core::{OrgRole, Principal};
use secret_testkit::http::*;
use serde_json::json;

use super::{env_body, import_env, super_admin, value_of};

// ------------------------------------------------------------------ export

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_export_imports_unchanged_into_another_org() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let secrets = json!([
        {"name": "K", "type": "API_KEY", "value": {"type": "API_KEY", "key": "sk-k-0123456789"},
         "description": "a key", "tags": ["a", "b"], "metadata": {"owner": "x"}},
        {"name": "UP", "type": "USERNAME_PASSWORD",
         "value": {"type": "USERNAME_PASSWORD", "username": "svc", "password": " p@ss \"w\" "}},
        {"name": "ENV", "type": "ENV_VARIABLE_SET",
         "value": {"type": "ENV_VARIABLE_SET", "variables": {"A": "1", "B": "two words"}}},
        {"name": "JSON_CRED", "type": "JSON_CREDENTIAL",
         "value": {"type": "JSON_CREDENTIAL", "credential": {"type": "service_account", "n": 1}}},
    ]);
    let r = s
        .call(
            Method::POST,
            "/api/secrets/import/json",
            &admin,
            Some(json!({"targetScope": "ORGANIZATION", "secrets": secrets})),
        )
        .await;
    assert_eq!(r.body["imported"], 4, "{}", r.text);

    // Metadata only by default: no value anywhere.
    let r = s
        .get("/api/secrets/export?scope=ORGANIZATION", &admin)
        .await;
    r.expect(200, "");
    assert_eq!(r.body["secrets"].as_array().unwrap().len(), 4);
    assert!(r.body["secrets"][0].get("value").is_none());
    assert!(!r.text.contains("sk-k-0123456789"));

    let r = s
        .get(
            "/api/secrets/export?scope=ORGANIZATION&includeValues=true",
            &admin,
        )
        .await;
    r.expect(200, "");
    assert!(r.body["exportedAt"].is_string());
    let exported = r.body["secrets"].clone();
    let k = exported
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "K")
        .unwrap();
    assert_eq!(k["scope"], "ORGANIZATION");
    assert_eq!(k["tags"], json!(["a", "b"]));
    assert_eq!(k["description"], "a key");

    // Into org-2, by its admin, the array unchanged.
    let other = s.token(&Principal::user("user-9").with_org("org-2", OrgRole::Admin));
    let r = s
        .call(
            Method::POST,
            "/api/secrets/import/json",
            &other,
            Some(
                json!({"targetScope": "ORGANIZATION", "organizationId": "org-2",
                        "secrets": exported}),
            ),
        )
        .await;
    assert_eq!(r.body["imported"], 4, "{}", r.text);
    let mut original = BTreeMap::new();
    for item in exported.as_array().unwrap() {
        original.insert(
            item["name"].as_str().unwrap().to_owned(),
            item["value"].clone(),
        );
    }
    let r = s
        .request(
            Method::GET,
            "/api/secrets/export?scope=ORGANIZATION&organizationId=org-2&includeValues=true",
            Some(&s.token(&super_admin())),
        )
        .header("X-Organization-Id", "org-2");
    let r = s.send(r).await;
    r.expect(200, "");
    let mut copied = BTreeMap::new();
    for item in r.body["secrets"].as_array().unwrap() {
        copied.insert(
            item["name"].as_str().unwrap().to_owned(),
            item["value"].clone(),
        );
    }
    assert_eq!(copied, original);

    // Each exported value was an audited read by the consumer "export".
    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRETS_EXPORTED'")
            .await,
        3
    );
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_usage WHERE consumer_module = 'export'")
            .await,
        8
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_needs_an_admin_and_values_a_recent_authentication() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    s.create_key(&admin, "K", "sk-export-0123456789").await;
    s.get("/api/secrets/export", &s.token(&org_member()))
        .await
        .expect(403, "ACCESS_DENIED");
    s.get("/api/secrets/export", &s.token(&outsider()))
        .await
        .expect(403, "ACCESS_DENIED");
    let stale = s.token(
        &Principal::user("user-1")
            .with_org("org-1", OrgRole::Admin)
            .authenticated_at(Utc::now() - Duration::minutes(10)),
    );
    s.get("/api/secrets/export?includeValues=true", &stale)
        .await
        .expect(401, "REAUTHENTICATION_REQUIRED");
    s.get("/api/secrets/export?format=env", &stale)
        .await
        .expect(401, "REAUTHENTICATION_REQUIRED");
    s.get("/api/secrets/export", &stale).await.expect(200, "");
    s.get("/api/secrets/export?format=xml", &admin)
        .await
        .expect(400, "VALIDATION_ERROR");
    s.get("/api/secrets/export?bogus=1", &admin)
        .await
        .expect(400, "VALIDATION_ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_export_writes_what_it_can_and_lists_the_rest() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let secrets = json!([
        {"name": "UP", "type": "USERNAME_PASSWORD",
         "value": {"type": "USERNAME_PASSWORD", "username": "svc", "password": "pw"}},
        {"name": "TOKEN", "type": "OAUTH2_TOKEN",
         "value": {"type": "OAUTH2_TOKEN", "accessToken": "at-123", "tokenType": "Bearer"}},
        {"name": "VARS", "type": "ENV_VARIABLE_SET",
         "value": {"type": "ENV_VARIABLE_SET", "variables": {"X_ONE": "1", "X_TWO": "$2"}}},
        {"name": "CRED", "type": "JSON_CREDENTIAL",
         "value": {"type": "JSON_CREDENTIAL", "credential": {"k": "v"}}},
    ]);
    let r = s
        .call(
            Method::POST,
            "/api/secrets/import/json",
            &admin,
            Some(json!({"targetScope": "ORGANIZATION", "secrets": secrets})),
        )
        .await;
    assert_eq!(r.body["imported"], 4, "{}", r.text);
    let r = s.get("/api/secrets/export?format=env", &admin).await;
    r.expect(200, "");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let read = secret_core::envfile::values(&r.text);
    let read: BTreeMap<String, String> = read.into_iter().collect();
    let want: BTreeMap<String, String> = [
        ("UP_USERNAME", "svc"),
        ("UP_PASSWORD", "pw"),
        ("TOKEN", "at-123"),
        ("X_ONE", "1"),
        ("X_TWO", "$2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(read, want, "{}", r.text);
    assert!(
        r.text
            .contains("#   CRED (JSON_CREDENTIAL, ORGANIZATION): no .env form")
    );
}

// ------------------------------------------------------------------ round trip with python-dotenv

/// What python-dotenv reads from each file (`dotenv_values(stream, interpolate=False)`),
/// or `None` when python3 with python-dotenv is not installed here.
fn python_dotenv(files: &[&str]) -> Option<Vec<BTreeMap<String, Option<String>>>> {
    let python = std::env::var("SECRETS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    // The contract follows python-dotenv 1.2.4, the release that reads a backslash right
    // before a closing quote as an escaped backslash (1.2.2 drops such a line).
    let script = "import io, json, sys, importlib.metadata as m\n\
        version = tuple(int(p) for p in m.version('python-dotenv').split('.')[:3])\n\
        if version < (1, 2, 4):\n\
        \x20   sys.exit('python-dotenv ' + m.version('python-dotenv') + ' is older than 1.2.4')\n\
        from dotenv import dotenv_values\n\
        out = []\n\
        for path in sys.argv[1:]:\n\
        \x20   text = open(path, encoding='utf-8-sig', newline='').read()\n\
        \x20   out.append(dotenv_values(stream=io.StringIO(text), interpolate=False))\n\
        print(json.dumps(out))\n";
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, content) in files.iter().enumerate() {
        let path = dir.path().join(format!("{i}.env"));
        std::fs::write(&path, content).unwrap();
        paths.push(path);
    }
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "python-dotenv is not usable: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Hard cases for a `.env` round trip.
const CORPUS: &str = "\u{feff}# hard cases\n\
export EXPORTED=after-export\n\
SPACED = around the equals \n\
SINGLE='single $HOME \\n stays'\n\
DOUBLE=\"double \\\"quoted\\\" \\\\ back\\nnewline\"\n\
MULTI=\"first line\nsecond line\n  third, indented\"\n\
INLINE=value # an inline comment\n\
HASH_IN=a#b\n\
QUOTED_HASH=\"a # not a comment\"\n\
DOLLAR=$HOME\n\
BRACED=${SECRETS_MASTER_KEY}\n\
IT='it\\'s'\n\
PADDED=\"  padded both ends  \"\n\
UNICODE=秘密-🔑-é\n\
EQUALS=a=b=c\n\
DUP=first\n\
DUP=second\n\
CRLF=crlf-line\r\n\
BACKSLASH_END=\"ends with \\\\\"\n\
TAB=\"tab\\there\"\n\
QUOTES_BOTH=\"single ' and double \\\"\"\n\
dash-key=lower-case-and-dash\n\
LAST=no newline at the end";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_round_trip_reads_the_same_in_python_dotenv() {
    let Some(original) = python_dotenv(&[CORPUS]) else {
        secret_store::testing::skip(
            "env_round_trip_reads_the_same_in_python_dotenv",
            "python3 with python-dotenv 1.2.4 or later is missing (scripts/python-dotenv.sh install)",
        );
        return;
    };
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let r = import_env(&s, &admin, env_body(CORPUS)).await;
    assert!(r["errors"].as_array().unwrap().is_empty(), "{r}");
    let export = s
        .get("/api/secrets/export?format=env&scope=ORGANIZATION", &admin)
        .await;
    export.expect(200, "");
    let read = python_dotenv(&[&export.text]).unwrap();
    assert_eq!(read[0], original[0], "the export:\n{}", export.text);
    assert_eq!(original[0].len(), 21);
}

// ------------------------------------------------------------------ a big file

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_line_file_imports_in_one_request() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let mut content = String::new();
    for i in 0..10_000 {
        content.push_str(&format!(
            "SERVICE_{i:05}_TOKEN=\"tok-{i}-value with spaces\"\n"
        ));
    }
    assert!(content.len() > 400_000, "{}", content.len());
    let started = Instant::now();
    let r = import_env(&s, &admin, env_body(&content)).await;
    let elapsed = started.elapsed();
    assert_eq!(r["imported"], 10_000, "{}", r["errors"]);
    eprintln!("10,000-line .env import: {elapsed:?}");
    assert_eq!(s.rows().await.0, 10_000);
    assert_eq!(
        value_of(&s, &admin, "SERVICE_09999_TOKEN").await["key"],
        "tok-9999-value with spaces"
    );
}
