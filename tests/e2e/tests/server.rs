//! End-to-end: the real `secret-server` binary, started in dev mode on port 0 (SQLite, or
//! PostgreSQL when `DATABASE_URL` points at a server), driven over HTTP, stopped with
//! SIGTERM; its whole log output is then searched for the secret values used.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::Path;
use std::process::Command;

use secret_testkit::process::{ServerProcess as Server, call, exec_sql};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-secret-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_life_of_a_secret_over_http_leaves_no_value_in_the_logs() {
    let server = Server::start(BIN, &[]);
    let admin = server.token(&["--sub", "alice", "--org", "org-1=ADMIN"]);
    let reader = server.token(&["--sub", "bob", "--org", "org-1=MEMBER"]);
    let base = server.base.clone();
    let v1 = format!("sk-e2e-first-{}", uuid::Uuid::new_v4().simple());
    let v2 = format!("sk-e2e-second-{}", uuid::Uuid::new_v4().simple());
    let pw = format!("pw-{}", uuid::Uuid::new_v4().simple());

    let (status, _, health) = call(reqwest::Method::GET, format!("{base}/healthz"), "", None).await;
    assert_eq!(status, 200, "{health}");

    let (status, headers, created) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({
            "name": "OPENAI_API_KEY",
            "type": "API_KEY",
            "value": {"type": "API_KEY", "key": v1},
            "scope": "ORGANIZATION",
            "organizationId": "org-1",
            "tags": ["llm"]
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert!(headers.get("x-request-id").is_some());
    let id = created["id"].as_str().unwrap().to_string();
    assert!(!created.to_string().contains(&v1));

    let (status, headers, value) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/value"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["value"]["key"], v1.as_str());
    assert_eq!(headers.get("etag").unwrap(), "\"1\"");

    let (status, _, body) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/value"),
        &reader,
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "ACCESS_DENIED");

    let (status, _, rotated) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets/{id}/rotate"),
        &admin,
        Some(json!({"newValue": {"type": "API_KEY", "key": v2}})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["currentVersion"], 2);

    let (status, _, versions) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/versions"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        versions
            .as_array()
            .map(Vec::len)
            .or(versions["items"].as_array().map(Vec::len)),
        Some(2)
    );

    let (status, _, old) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/versions/1"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(old["value"]["key"], v1.as_str());

    let (status, _, up) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({
            "name": "DB_LOGIN",
            "type": "USERNAME_PASSWORD",
            "value": {"type": "USERNAME_PASSWORD", "username": "app", "password": pw},
            "scope": "ORGANIZATION",
            "organizationId": "org-1"
        })),
    )
    .await;
    assert_eq!(status, 201, "{up}");

    // A bad request that carries a value must not echo it either.
    let (status, _, bad) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({"name": "1bad", "type": "API_KEY", "value": {"type": "API_KEY", "key": v1}, "scope": "ORGANIZATION"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(!bad.to_string().contains(&v1));

    let (status, _, _) = call(
        reqwest::Method::DELETE,
        format!("{base}/api/secrets/{id}"),
        &admin,
        None,
    )
    .await;
    assert!(
        status == 200 || status == 204,
        "soft delete answered {status}"
    );
    let (status, _, gone) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/value"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404, "{gone}");

    let logs = server.stop();
    assert!(logs.contains("secret-server listening"));
    for secret in [&v1, &v2, &pw] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret value appeared in the server's logs"
        );
    }
}

#[test]
fn without_dev_mode_or_keys_the_server_refuses_to_start_and_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("SECRETS_MASTER_KEY")
        .env_remove("SECRETS_MASTER_KEY_FILE")
        .env_remove("SECRETS_JWT_SECRET")
        .env_remove("SECRETS_DEV")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SECRETS_MASTER_KEY"), "{err}");
}

#[test]
fn dev_mode_keys_are_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let issue = |data: &Path| {
        Command::new(BIN)
            .args(["--dev", "--data-dir"])
            .arg(data)
            .args(["token", "issue", "--sub", "u1", "--ttl-seconds", "60"])
            .env_remove("SECRETS_JWT_SECRET")
            .output()
            .unwrap()
    };
    let first = issue(&data);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let key = data.join("jwt.secret");
    let meta = std::fs::metadata(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let mut before = String::new();
    std::fs::File::open(&key)
        .unwrap()
        .read_to_string(&mut before)
        .unwrap();
    assert!(issue(&data).status.success());
    let after = std::fs::read_to_string(&key).unwrap();
    assert_eq!(before, after, "the dev key is reused");
    let token = String::from_utf8(first.stdout).unwrap();
    assert_eq!(
        token.trim().split('.').count(),
        3,
        "only the token is printed"
    );
}

#[test]
fn migrate_runs_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--data-dir"])
        .arg(dir.path())
        .arg("migrate")
        .env_remove("SECRETS_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("secrets.db").exists());
}

/// Runs `audit verify` against the server's database with `args`; dev mode (the data
/// directory's generated master key) unless `env` sets a master key or `dev` is false.
fn audit_verify(
    server: &Server,
    db_url: &str,
    dev: bool,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    if dev {
        cmd.arg("--dev");
    }
    cmd.args(["--data-dir"])
        .arg(&server.data_dir)
        .args(["--database-url", db_url, "audit", "verify"])
        .args(args)
        .env_remove("SECRETS_MASTER_KEY")
        .env_remove("SECRETS_MASTER_KEY_FILE")
        .env_remove("SECRETS_DEV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `head: SEQ:HASH` line of a successful run.
fn head_line(out: &std::process::Output) -> String {
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("head: "))
        .unwrap_or_else(|| panic!("no head line in {:?}", text(&out.stdout)))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_exits_0_1_or_2_and_prints_the_head() {
    let server = Server::start(BIN, &[]);
    let admin = server.token(&["--sub", "alice", "--org", "org-1=ADMIN"]);
    let base = server.base.clone();
    let (status, _, created) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({"name": "K", "type": "API_KEY", "value": {"type": "API_KEY", "key": "sk-verify-0123456789"},
            "scope": "ORGANIZATION", "organizationId": "org-1"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let read = || async {
        let (status, _, _) = call(
            reqwest::Method::GET,
            format!("{base}/api/secrets/{id}/value"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200);
    };
    read().await;
    read().await;
    let db = server.db_url.clone();

    // 0: intact, where the keyed part starts, and the head.
    let out = audit_verify(&server, &db, true, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "audit chain intact: 3 records checked");
    assert_eq!(lines[1], "keyed from: 1 (every record is keyed)");
    let head_3 = head_line(&out);
    let (seq, hash) = head_3.split_once(':').unwrap();
    assert_eq!(seq, "3");
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash}"
    );
    assert_eq!(lines.last().unwrap(), &format!("head: {head_3}"));

    // The chain grows; the head kept earlier is still in it.
    read().await;
    read().await;
    let out = audit_verify(&server, &db, true, &["--expect-head", &head_3], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("expected head {head_3}: present")));
    let head_5 = head_line(&out);
    assert!(head_5.starts_with("5:"), "{head_5}");

    // 2: could not check. No master key; a wrong one; a bad argument; no database.
    let out = audit_verify(&server, &db, false, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("could not be checked") && stderr.contains("SECRETS_MASTER_KEY"),
        "{stderr}"
    );
    let wrong = "c2VjcmV0LW1hbmFnZXItd3JvbmctbWFzdGVyLWtleSE=";
    let out = audit_verify(&server, &db, false, &[], &[("SECRETS_MASTER_KEY", wrong)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the master key does not match"), "{stderr}");
    assert!(!stderr.contains(wrong), "the master key is never printed");
    let out = audit_verify(&server, &db, true, &["--expect-head", "5:nothex"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = audit_verify(
        &server,
        "sqlite:///nonexistent-secret-manager-dir/secrets.db?mode=ro",
        true,
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty());

    // 1: an intruder edits a record directly in SQL.
    exec_sql(
        &db,
        "UPDATE secret_audit_logs SET actor_id = 'mallory' WHERE seq = 2",
    );
    let out = audit_verify(&server, &db, true, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("audit record 2 (id ") && stderr.contains("was changed or inserted"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());
    exec_sql(
        &db,
        "UPDATE secret_audit_logs SET actor_id = 'alice' WHERE seq = 2",
    );
    assert_eq!(
        audit_verify(&server, &db, true, &[], &[]).status.code(),
        Some(0)
    );

    // 1: the chain cut back to record 3 with its head: consistent, but not the kept head.
    exec_sql(&db, "DELETE FROM secret_audit_logs WHERE seq > 3");
    exec_sql(
        &db,
        &format!("UPDATE audit_chain_head SET seq = 3, hash = '{hash}' WHERE id = 1"),
    );
    let out = audit_verify(&server, &db, true, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(head_line(&out), head_3);
    let out = audit_verify(&server, &db, true, &["--expect-head", &head_5], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("audit records after 3 were removed: the expected head is record 5"),
        "{stderr}"
    );
    server.stop();
}

/// `token issue` with `args`, in dev mode on `data_dir`, with extra environment.
fn issue_token(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["--dev", "--data-dir"])
        .arg(data_dir)
        .args(["token", "issue"])
        .args(args)
        .env_remove("SECRETS_JWT_SECRET")
        .env_remove("SECRETS_JWT_ISSUER")
        .env_remove("SECRETS_JWT_AUDIENCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_name_their_memberships_places_and_are_checked_for_issuer_and_audience() {
    use base64::Engine;
    let server = Server::start(BIN, &[]);
    // The flat flags of earlier versions are refused with the form to write.
    for (flag, value, form) in [
        ("--team", "t1=LEAD", "TEAM@ORG"),
        ("--project", "p1=ADMIN", "PROJECT@ORG"),
    ] {
        let out = issue_token(&server.data_dir, &["--sub", "u", flag, value], &[]);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(form), "{flag}: {err}");
    }
    let token = server.token(&[
        "--sub",
        "lena",
        "--org",
        "o1=MEMBER",
        "--team",
        "t1@o1=LEAD",
        "--project",
        "p1@o1/t1=MEMBER",
        "--project",
        "p2@o1=ADMIN",
        "--role",
        "r-ops@o1",
        "--role",
        "r-plat",
    ]);
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["teams"],
        json!({"t1": {"org": "o1", "role": "LEAD"}})
    );
    assert_eq!(
        claims["projects"],
        json!({"p1": {"org": "o1", "team": "t1", "role": "MEMBER"},
               "p2": {"org": "o1", "role": "ADMIN"}})
    );
    assert_eq!(
        claims["roles"],
        json!([{"id": "r-ops", "org": "o1"}, {"id": "r-plat"}])
    );
    assert_eq!(claims["iss"], "secret-manager-dev");
    assert_eq!(claims["aud"], "secret-manager");

    // The lead creates TEAM secrets in its team's own organization only.
    let team_secret = |org: &str| {
        json!({"name": "LEAD_KEY", "type": "API_KEY", "scope": "TEAM",
               "organizationId": org, "teamId": "t1",
               "value": {"type": "API_KEY", "key": "sk-e2e-lead-0123456789"}})
    };
    let url = format!("{}/api/secrets", server.base);
    let (status, _, body) = call(
        reqwest::Method::POST,
        url.clone(),
        &token,
        Some(team_secret("o2")),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = call(
        reqwest::Method::POST,
        url.clone(),
        &token,
        Some(team_secret("o1")),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // A token signed with the same key for another service is refused.
    for env in [
        ("SECRETS_JWT_AUDIENCE", "another-service"),
        ("SECRETS_JWT_ISSUER", "https://elsewhere.example"),
    ] {
        let out = issue_token(
            &server.data_dir,
            &["--sub", "lena", "--org", "o1=ADMIN"],
            &[env],
        );
        assert!(out.status.success());
        let foreign = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let (status, _, body) = call(reqwest::Method::GET, url.clone(), &foreign, None).await;
        assert_eq!(status, 401, "{env:?}: {body}");
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    }
    server.stop();
}
