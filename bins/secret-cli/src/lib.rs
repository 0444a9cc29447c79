//! `secret`, the command line of the secret manager, built on `secret-client`.
//!
//! - `secret login --server URL`: the token from `SECRETS_TOKEN` or standard input (never
//!   an argument, which would land in the shell's history), checked against the server and
//!   saved with the URL in a profile only its owner may read.
//! - `get REF`: a secret's metadata with its masked display; its value (or one field) only
//!   with `--reveal`. `REF` is an id or a `secret://` reference.
//! - `set REF`: a new value from standard input or `--file`, never from an argument.
//! - `list`, `versions REF`, `rollback REF --version N`, `import FILE`, `export`.
//! - `run [--env-file F] -- CMD ARGS`: every `secret://` reference in the env file and the
//!   environment resolved in one request and handed to CMD's environment (nothing written
//!   to disk); signals are forwarded and CMD's exit code is `secret`'s.
//! - `inject -i TEMPLATE -o FILE`: `{{ secret://... }}` rendered, the output mode 0600.
//! - `completions SHELL`.
//!
//! The server is `--server URL` or `SECRETS_URL`, else the profile's; the token
//! `SECRETS_TOKEN`, else the profile's. Exit codes: 0 success, 1 an error (the message on
//! standard error names the key or id), 2 bad usage; `run` exits with the child's code.

mod commands;
mod profile;
mod run;

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use secret_client::{CacheSettings, ClientConfig, SecretClient, StaticToken};

/// The secret manager's command line.
#[derive(Debug, Parser)]
#[command(name = "secret", version, about)]
pub struct Cli {
    /// The server (default: SECRETS_URL, else the profile's).
    #[arg(long, env = "SECRETS_URL", global = true)]
    pub server: Option<String>,
    /// The organization requests are made in (X-Organization-Id).
    #[arg(long, env = "SECRETS_ORGANIZATION", global = true)]
    pub org: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save the server URL and a token (from SECRETS_TOKEN or standard input) in the
    /// profile, after checking them against the server.
    Login(LoginArgs),
    /// Show a secret (masked), or with --reveal its value or one field.
    Get(GetArgs),
    /// Write a new value, read from standard input or --file.
    Set(SetArgs),
    /// List the secrets you may see.
    List(ListArgs),
    /// A secret's versions.
    Versions(RefArg),
    /// Roll a secret back to an earlier version (as a new version).
    Rollback(RollbackArgs),
    /// Import a .env or JSON file.
    Import(ImportArgs),
    /// Export secrets (metadata only unless --include-values).
    Export(ExportArgs),
    /// Run a command with every secret:// reference of its environment resolved.
    Run(run::RunArgs),
    /// Render {{ secret://... }} references of a template into a file (mode 0600).
    Inject(run::InjectArgs),
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Read the token from standard input even when SECRETS_TOKEN is set.
    #[arg(long)]
    pub token_stdin: bool,
}

/// A secret: an id, or a secret:// reference (by id or by scope path).
#[derive(Debug, Args)]
pub struct RefArg {
    /// `ID`, `secret://ID` or `secret://org/ORG/NAME` (any scope path).
    pub secret: String,
}

/// `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// `ID`, `secret://ID` or `secret://org/ORG/NAME` (optionally `#field`, `?version=N`).
    pub secret: String,
    /// Print the value (its default field, or --field) on standard output.
    #[arg(long)]
    pub reveal: bool,
    /// The field to print (e.g. `password` of USERNAME_PASSWORD).
    #[arg(long)]
    pub field: Option<String>,
    /// The version (default: the current one).
    #[arg(long)]
    pub version: Option<i64>,
    /// Print the metadata as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The secret to update.
    pub secret: String,
    /// Read the value from this file instead of standard input.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Why (recorded as the version's change reason).
    #[arg(long)]
    pub reason: Option<String>,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// GLOBAL, ORGANIZATION, TEAM, PROJECT or USER.
    #[arg(long)]
    pub scope: Option<String>,
    /// A secret type, e.g. API_KEY.
    #[arg(long = "type")]
    pub secret_type: Option<String>,
    /// Names containing this.
    #[arg(long)]
    pub search: Option<String>,
    /// Only secrets with this tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub secret: String,
    /// The version whose value becomes the new one.
    #[arg(long)]
    pub version: i64,
}

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The .env or .json file.
    pub file: PathBuf,
    /// env or json (default: from the file's extension).
    #[arg(long)]
    pub format: Option<String>,
    /// The scope the secrets go to.
    #[arg(long, default_value = "ORGANIZATION")]
    pub scope: String,
    /// Overwrite secrets that exist (a new version each).
    #[arg(long)]
    pub overwrite: bool,
    /// Show what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// json or env.
    #[arg(long, default_value = "json")]
    pub format: String,
    /// Include the values (needs a recent sign-in).
    #[arg(long)]
    pub include_values: bool,
    /// Write to this file (mode 0600) instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Exit code of a failure that is not a usage error.
pub const EXIT_ERROR: i32 = 1;

/// Parses the command line and runs it; returns the process's exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return code;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(&anyhow::anyhow!("starting the runtime: {e}")),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

fn report(err: &anyhow::Error) -> i32 {
    let mut out = std::io::stderr().lock();
    let _ = std::io::Write::write_fmt(&mut out, format_args!("secret: {err:#}\n"));
    EXIT_ERROR
}

/// A client of the configured server with the configured token, caching nothing (each
/// command reads once).
pub(crate) fn client(cli_server: Option<&str>, org: Option<&str>) -> anyhow::Result<SecretClient> {
    let (server, token, profile_org) = profile::resolve(cli_server)?;
    let mut config = ClientConfig::new(&server)?
        .consumer_module("secret-cli")
        .cache(CacheSettings::disabled());
    if let Some(org) = org.map(str::to_owned).or(profile_org) {
        config = config.organization(org);
    }
    Ok(SecretClient::new(config, StaticToken::new(token.as_str()))?)
}

async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let server = cli.server.as_deref();
    let org = cli.org.as_deref();
    match cli.command {
        Command::Login(args) => commands::login(server, org, &args).await.map(|()| 0),
        Command::Get(args) => commands::get(&client(server, org)?, &args)
            .await
            .map(|()| 0),
        Command::Set(args) => commands::set(&client(server, org)?, &args)
            .await
            .map(|()| 0),
        Command::List(args) => commands::list(&client(server, org)?, &args)
            .await
            .map(|()| 0),
        Command::Versions(args) => commands::versions(&client(server, org)?, &args)
            .await
            .map(|()| 0),
        Command::Rollback(args) => commands::rollback(&client(server, org)?, &args)
            .await
            .map(|()| 0),
        Command::Import(args) => commands::import(&client(server, org)?, org, &args).await,
        Command::Export(args) => commands::export(&client(server, org)?, &args)
            .await
            .map(|()| 0),
        Command::Run(args) => run::run(&client(server, org)?, &args).await,
        Command::Inject(args) => run::inject(&client(server, org)?, &args).await.map(|()| 0),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "secret", &mut std::io::stdout());
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
