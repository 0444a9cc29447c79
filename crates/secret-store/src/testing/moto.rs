//! A real moto server (AWS service mocks, from PyPI) for the AWS Secrets Manager backend's
//! tests: `moto_server` on a free port, started once per test process and stopped when the
//! process ends. Tests keep apart by a name prefix of their own rather than by resetting
//! the server, so they can run in parallel.
//!
//! The binary is `$SECRETS_TEST_MOTO`, `moto_server` on the `PATH`, or
//! `~/.local/bin/moto_server` (where `scripts/moto.sh install` puts it). When none is found,
//! [`server`] returns `None` after reporting the skip, or fails under
//! `SECRETS_TEST_STRICT=1`.
//!
//! moto's known gaps (see DEPENDENCIES.md): it checks no signature (any access key works),
//! lets a write through to a secret pending deletion, never purges, cannot rotate (that
//! needs Lambda), and answers `GetSecretValue` without a stage from the version written
//! last rather than from `AWSCURRENT`. The tests do not rely on any of those behaviours
//! (the backend always reads by version id).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secret_core::StorageBackendKind;
use secret_core::vault::{AwsSecretsManagerConfig, BackendConfig};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::process::{ServerProcess, find_bin, free_port};

/// The region the tests use.
pub const REGION: &str = "us-east-1";

/// A running moto server.
#[derive(Debug, Clone)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The server's process, to stop, freeze and thaw it in tests.
    pub process: ServerProcess,
    bin: PathBuf,
}

static SERVER: OnceCell<Option<Moto>> = OnceCell::const_new();

/// Whether the server answers its own API (`GET /moto-api/`).
fn answers(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

fn start(bin: &Path) -> Moto {
    let port = free_port();
    let process = ServerProcess::start("moto", bin, &format!("-H 127.0.0.1 -p {port}"), port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(port) {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port} (see its log in the temp directory)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        process,
        bin: bin.to_path_buf(),
    }
}

async fn launch() -> Option<Moto> {
    let Some(bin) = find_bin("SECRETS_TEST_MOTO", "moto_server") else {
        super::skip(
            "AWS Secrets Manager tests",
            "no `moto_server` binary (run `scripts/moto.sh install`, or set SECRETS_TEST_MOTO)",
        );
        return None;
    };
    tokio::task::spawn_blocking(move || start(&bin)).await.ok()
}

/// The test process's moto server, started on first use; `None` when it cannot be.
pub async fn server() -> Option<Moto> {
    SERVER.get_or_init(launch).await.clone()
}

/// A configuration's `config` in its wire shape: `endpoint`, a static test key (moto checks
/// no signature), `prefix` before every name.
pub fn config_json(endpoint: &str, prefix: &str, timeout_seconds: u64) -> Value {
    json!({"region": REGION, "endpointUrl": endpoint, "kmsKeyId": null,
           "namePrefix": prefix, "timeoutSeconds": timeout_seconds,
           "auth": {"method": "ACCESS_KEY", "accessKeyId": "AKIATESTING",
                    "secretAccessKey": "testing-secret-access-key", "sessionToken": null}})
}

/// The parsed settings of [`config_json`].
pub fn config(endpoint: &str, prefix: &str, timeout_seconds: u64) -> AwsSecretsManagerConfig {
    match BackendConfig::parse(
        StorageBackendKind::AwsSecretsManager,
        config_json(endpoint, prefix, timeout_seconds),
    ) {
        Ok(BackendConfig::AwsSecretsManager(c)) => c,
        other => panic!("the moto test settings do not parse: {other:?}"),
    }
}

/// A name prefix no other test uses.
pub fn fresh_prefix() -> String {
    format!("t-{}/", uuid::Uuid::now_v7().simple())
}

impl Moto {
    /// A second server, for a test that stops it (the shared one stays up for the rest).
    pub async fn spawn_private() -> Option<Moto> {
        let shared = server().await?;
        tokio::task::spawn_blocking(move || start(&shared.bin))
            .await
            .ok()
    }

    /// A configuration's `config` in its wire shape for this server (see [`config_json`]).
    pub fn config_json(&self, prefix: &str, timeout_seconds: u64) -> Value {
        config_json(&self.endpoint, prefix, timeout_seconds)
    }

    /// The parsed settings of [`Moto::config_json`].
    pub fn config(&self, prefix: &str, timeout_seconds: u64) -> AwsSecretsManagerConfig {
        config(&self.endpoint, prefix, timeout_seconds)
    }

    /// An SDK client of its own, to look at what the server holds.
    pub async fn client(&self) -> aws_sdk_secretsmanager::Client {
        let creds = aws_credential_types::Credentials::new(
            "AKIATESTING",
            "testing-secret-access-key",
            None,
            None,
            "moto-test",
        );
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new(REGION))
            .endpoint_url(self.endpoint.clone())
            .credentials_provider(creds)
            .load()
            .await;
        aws_sdk_secretsmanager::Client::new(&sdk)
    }

    /// What the server serves as the current value of `name` (`AWSCURRENT`), as JSON;
    /// `None` when it serves nothing (no such secret, or it is scheduled for deletion).
    pub async fn current_value(&self, name: &str) -> Option<Value> {
        let out = self
            .client()
            .await
            .get_secret_value()
            .secret_id(name)
            // Named explicitly: moto answers a request without a stage from the version
            // written last, not from the one AWSCURRENT labels (AWS uses AWSCURRENT).
            .version_stage("AWSCURRENT")
            .send()
            .await
            .ok()?;
        serde_json::from_str(out.secret_string()?).ok()
    }

    /// Whether the server holds a secret `name` at all (scheduled for deletion or not).
    pub async fn holds(&self, name: &str) -> bool {
        self.client()
            .await
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .is_ok()
    }
}
