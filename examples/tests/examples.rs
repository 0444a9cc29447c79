//! Every example runs to success: the Rust ones embedded on a fresh SQLite database (and
//! the LLM client also remote, against a real server over HTTP); the shell example is run
//! by `secret-cli`'s tests, which build the `secret` binary it needs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use secret_testkit::http::*;

fn run(bin: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("example.db").display()
    );
    let mut cmd = Command::new(bin);
    cmd.env("SECRETS_DATABASE_URL", &url)
        .env_remove("SECRETS_MASTER_KEY")
        .env_remove("SECRETS_MASTER_KEY_FILE")
        .env_remove("SECRETS_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{bin} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn the_mcp_server_maps_missing_and_expired_credentials_to_its_own_errors() {
    let out = stdout(&run(env!("CARGO_BIN_EXE_mcp-server"), &[]));
    assert!(
        out.contains("AuthSecretExpired") && out.contains("AuthSecretMissing"),
        "{out}"
    );
    assert!(out.contains("every outcome as expected"), "{out}");
    assert!(!out.contains("ghp_example"), "a value was printed");
}

#[test]
fn the_config_resolver_turns_references_into_values_and_names_what_failed() {
    let out = stdout(&run(env!("CARGO_BIN_EXE_config-resolver"), &[]));
    assert!(out.contains("DATABASE_HOST=orders-db.internal"), "{out}");
    assert!(
        out.contains("DATABASE_PASSWORD=<secret, 21 chars>"),
        "{out}"
    );
    assert!(
        out.contains("unresolved: SENTRY_DSN (SECRET_NOT_FOUND)"),
        "{out}"
    );
    assert!(!out.contains("example-password"), "a value was printed");
}

#[test]
fn the_llm_client_reads_its_key_embedded() {
    let out = stdout(&run(env!("CARGO_BIN_EXE_llm-client"), &[]));
    assert!(
        out.contains("embedded") && out.matches("with key ...6789").count() == 3,
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_client_reads_its_key_from_a_server() {
    let s = spawn().await;
    let token = s.token(&org_admin());
    let id = s
        .create_key(&token, "LLM_KEY", "sk-remote-llm-00004321")
        .await;
    // Its creation's change event, which the server's feed announces within its poll
    // interval, would drop a value cached before it arrives.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let base = s.base.clone();
    let secret = id.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            env!("CARGO_BIN_EXE_llm-client"),
            &[
                ("SECRETS_URL", &base),
                ("SECRETS_TOKEN", &token),
                ("SECRETS_ORGANIZATION", "org-1"),
                ("LLM_API_KEY_SECRET_ID", &secret),
            ],
        )
    })
    .await
    .unwrap();
    let out = stdout(&out);
    assert!(
        out.contains("secret-client") && out.matches("with key ...4321").count() == 3,
        "{out}"
    );
    // Three requests, one read: the reader's cache served the other two.
    let reads = s
        .t
        .db
        .raw()
        .await
        .count(&format!(
            "SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRET_READ' AND secret_id = '{id}'"
        ))
        .await;
    assert_eq!(reads, 1);
}
