//! The `secret` binary against a real server (in-process, over real HTTP on a free port):
//! login and its private profile, get (masked unless --reveal), set from standard input,
//! list, versions, rollback, import, export, run (references resolved into the child's
//! environment, the exit code and signals passed through) and inject; exit codes 0, 1
//! (naming the key or id) and 2 (usage).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use secret_testkit::http::*;

const BIN: &str = env!("CARGO_BIN_EXE_secret");

struct Cli {
    server: String,
    token: String,
    dir: tempfile::TempDir,
}

impl Cli {
    fn new(s: &Server) -> Cli {
        Cli {
            server: s.base.clone(),
            token: s.token(&org_admin()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn profile(&self) -> PathBuf {
        self.dir.path().join("profile.json")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("SECRETS_PROFILE", self.profile())
            .env("SECRETS_URL", &self.server)
            .env("SECRETS_TOKEN", &self.token)
            .env("SECRETS_ORGANIZATION", "org-1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `secret ARGS` with `stdin`, off the async runtime.
    async fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command(args);
        let stdin = stdin.to_string();
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", err(o));
    out(o)
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_saves_a_private_profile_and_get_reveals_only_when_asked() {
    let s = spawn().await;
    let cli = Cli::new(&s);
    let admin = s.token(&org_admin());
    let id = s.create_key(&admin, "CLI_KEY", "sk-cli-value-00001").await;

    // The token from standard input (SECRETS_TOKEN unset), checked, then saved 0600.
    let mut cmd = cli.command(&["login"]);
    cmd.env_remove("SECRETS_TOKEN");
    let token = cli.token.clone();
    let login = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(token.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    ok(&login);
    #[cfg(unix)]
    assert_eq!(mode(&cli.profile()), 0o600);

    // From the profile alone.
    let mut cmd = cli.command(&["get", &id]);
    cmd.env_remove("SECRETS_TOKEN").env_remove("SECRETS_URL");
    let masked = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let masked = ok(&masked);
    assert!(
        masked.contains("CLI_KEY") && !masked.contains("sk-cli-value-00001"),
        "{masked}"
    );

    let revealed = ok(&cli.run(&["get", &id, "--reveal"], "").await);
    assert_eq!(revealed, "sk-cli-value-00001\n");
    let by_path = ok(&cli
        .run(
            &[
                "get",
                "secret://org/org-1/CLI_KEY",
                "--reveal",
                "--field",
                "key",
            ],
            "",
        )
        .await);
    assert_eq!(by_path, "sk-cli-value-00001\n");

    // A bad token is refused by login, and nothing is saved.
    let mut cmd = cli.command(&["login"]);
    cmd.env("SECRETS_TOKEN", "forged")
        .env("SECRETS_PROFILE", cli.dir.path().join("other.json"));
    let refused = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(!cli.dir.path().join("other.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_list_versions_rollback_and_the_exit_codes() {
    let s = spawn().await;
    let cli = Cli::new(&s);
    let id = s
        .create_key(&cli.token, "ROTATED_BY_CLI", "sk-cli-first-00001")
        .await;
    ok(&cli
        .run(
            &["set", &id, "--reason", "cli test"],
            "sk-cli-second-0002\n",
        )
        .await);
    assert_eq!(
        ok(&cli.run(&["get", &id, "--reveal"], "").await),
        "sk-cli-second-0002\n"
    );
    let listed = ok(&cli.run(&["list", "--search", "ROTATED"], "").await);
    assert!(
        listed.contains("ROTATED_BY_CLI") && listed.contains("v2"),
        "{listed}"
    );
    let versions = ok(&cli.run(&["versions", &id], "").await);
    assert!(
        versions.contains("v2") && versions.contains("cli test"),
        "{versions}"
    );
    ok(&cli.run(&["rollback", &id, "--version", "1"], "").await);
    assert_eq!(
        ok(&cli.run(&["get", &id, "--reveal"], "").await),
        "sk-cli-first-00001\n"
    );

    // Errors name the id; usage errors exit 2.
    let missing = "01a20000-0000-7000-8000-000000000000";
    let o = cli.run(&["get", missing, "--reveal"], "").await;
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains(missing), "{}", err(&o));
    let o = cli.run(&["set", &id], "").await;
    assert_eq!(o.status.code(), Some(1), "an empty value is refused");
    let o = cli.run(&["get"], "").await;
    assert_eq!(o.status.code(), Some(2));
    let o = cli.run(&["frobnicate"], "").await;
    assert_eq!(o.status.code(), Some(2));
    let o = cli.run(&["completions", "bash"], "").await;
    assert!(ok(&o).contains("secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_resolves_references_into_the_childs_environment_and_passes_its_exit_code() {
    let s = spawn().await;
    let cli = Cli::new(&s);
    let id = s
        .create_key(&cli.token, "RUN_KEY", "sk-run-value-00001")
        .await;
    s.create_key(&cli.token, "RUN_OTHER", "sk-run-other-00002")
        .await;
    let env_file = cli.dir.path().join("app.env");
    std::fs::write(
        &env_file,
        format!("OPENAI_API_KEY=secret://{id}\nPLAIN=kept\n"),
    )
    .unwrap();
    let mut cmd = cli.command(&[
        "run",
        "--env-file",
        env_file.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo \"$OPENAI_API_KEY|$OTHER|$PLAIN\"; exit 7",
    ]);
    cmd.env("OTHER", "secret://org/org-1/RUN_OTHER#key");
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "stderr: {}", err(&o));
    assert_eq!(out(&o), "sk-run-value-00001|sk-run-other-00002|kept\n");

    // One reference that does not resolve: the command never starts, the key is named.
    let mut cmd = cli.command(&["run", "--", "sh", "-c", "echo started"]);
    cmd.env("BROKEN", "secret://org/org-1/NO_SUCH_SECRET");
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("BROKEN"), "{}", err(&o));
    assert!(!out(&o).contains("started"));

    // A signal to `secret run` reaches the child, whose exit code comes back.
    let mut cmd = cli.command(&[
        "run",
        "--",
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    let child = cmd.spawn().unwrap();
    let o = tokio::task::spawn_blocking(move || {
        let pid = child.id().to_string();
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(42), "stderr: {}", err(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_renders_references_into_a_private_file_and_import_export_round_trip() {
    let s = spawn().await;
    let cli = Cli::new(&s);
    let id = s
        .create_key(&cli.token, "INJECTED", "sk-inject-value-001")
        .await;
    let template = cli.dir.path().join("config.tmpl");
    let output = cli.dir.path().join("config.yaml");
    std::fs::write(
        &template,
        format!(
            "api_key: {{{{ secret://{id} }}}}\nagain: {{{{secret://org/org-1/INJECTED#key}}}}\n"
        ),
    )
    .unwrap();
    ok(&cli
        .run(
            &[
                "inject",
                "-i",
                template.to_str().unwrap(),
                "-o",
                output.to_str().unwrap(),
            ],
            "",
        )
        .await);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "api_key: sk-inject-value-001\nagain: sk-inject-value-001\n"
    );
    #[cfg(unix)]
    assert_eq!(mode(&output), 0o600);

    let env = cli.dir.path().join("import.env");
    std::fs::write(
        &env,
        "IMPORTED_ONE=sk-imported-000001\nIMPORTED_TWO=sk-imported-000002\n",
    )
    .unwrap();
    let o = cli.run(&["import", env.to_str().unwrap()], "").await;
    ok(&o);
    assert!(err(&o).contains("2 imported"), "{}", err(&o));
    assert_eq!(
        ok(&cli
            .run(&["get", "secret://org/org-1/IMPORTED_TWO", "--reveal"], "")
            .await),
        "sk-imported-000002\n"
    );
    let exported = cli.dir.path().join("export.json");
    ok(&cli
        .run(&["export", "-o", exported.to_str().unwrap()], "")
        .await);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    assert!(doc["secrets"].as_array().unwrap().len() >= 3, "{doc}");
    #[cfg(unix)]
    assert_eq!(mode(&exported), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_example_runs_its_command_with_the_resolved_token() {
    let s = spawn().await;
    let cli = Cli::new(&s);
    s.create_key(&cli.token, "DEPLOY_TOKEN", "deploy-token-0123456789")
        .await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/shell");
    let bin_dir = PathBuf::from(BIN).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(root.join("run-with-secrets.sh"));
    cmd.arg(root.join("deploy.env"))
        .env("PATH", path)
        .env("SECRETS_PROFILE", cli.profile())
        .env("SECRETS_URL", &cli.server)
        .env("SECRETS_TOKEN", &cli.token)
        .env("SECRETS_ORGANIZATION", "org-1");
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let printed = ok(&o);
    assert_eq!(
        printed,
        "DEPLOY_TOKEN is set (23 characters); DEPLOY_TARGET=staging\n"
    );
}
