//! The `secret-server` binary's library: settings (flags and `SECRETS_*` environment
//! variables, secrets also from `..._FILE`), dev-mode key generation, and the
//! subcommands: `serve` (the default), `token issue`, `migrate`, `audit verify` and
//! `keys status | rotate-data-key | reencrypt | destroy-retired | rotate-master-key`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use secret_access::{TokenIssuer, TokenVerifier};
use secret_api::http::HttpSettings;
use secret_core::{
    OrgRole, Principal, ProjectMembership, ProjectRole, RoleMembership, TeamMembership, TeamRole,
};
use secret_startup::{read_key_file, write_private_file};
use zeroize::Zeroizing;

mod keys;
mod verify;

pub use keys::{KeysCommand, NEW_MASTER_KEY_ENV};

pub use secret_startup::{LogFormat, StoreSettings, connect, init_tracing, runtime};

pub use verify::{VerifyArgs, VerifyFailure, exit_code};

/// The secret manager's server.
#[derive(Debug, Parser)]
#[command(name = "secret-server", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    /// Log format: human-readable text or JSON lines.
    #[arg(long, env = "SECRETS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The server's settings: the shared store settings plus listening and tokens.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub store: StoreSettings,
    /// Address to listen on.
    #[arg(
        long,
        env = "SECRETS_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
    /// File holding the HS256 token key (alternative to SECRETS_JWT_SECRET).
    #[arg(long, env = "SECRETS_JWT_SECRET_FILE", global = true)]
    pub jwt_secret_file: Option<PathBuf>,
    /// PEM public key verifying RS256 or EdDSA tokens.
    #[arg(long, env = "SECRETS_JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// PEM private key for `token issue` when tokens are RS256 or EdDSA.
    #[arg(long, env = "SECRETS_JWT_PRIVATE_KEY_FILE", global = true)]
    pub jwt_private_key_file: Option<PathBuf>,
    /// The `iss` every bearer token must carry (and `token issue` writes). Dev mode uses
    /// `secret-manager-dev` when unset. Set it in production.
    #[arg(long, env = "SECRETS_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// The `aud` every bearer token must name (and `token issue` writes). Dev mode uses
    /// `secret-manager` when unset. Set it in production.
    #[arg(long, env = "SECRETS_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Value reads allowed per user per minute.
    #[arg(
        long,
        env = "SECRETS_RATE_LIMIT_PER_MINUTE",
        default_value_t = 100,
        global = true
    )]
    pub rate_limit_per_minute: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "SECRETS_MAX_BODY_BYTES", default_value_t = 256 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SECRETS_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Load balancers and proxies (comma-separated addresses or CIDR blocks, e.g.
    /// `10.0.0.0/8,fd00::/8`) whose `X-Forwarded-For` names the client address recorded in
    /// audit records; by default none is trusted and the peer address is recorded.
    #[arg(long, env = "SECRETS_TRUSTED_PROXIES", global = true,
        value_parser = secret_api::http::parse_cidrs, default_value = "")]
    pub trusted_proxies: std::vec::Vec<secret_api::http::Cidr>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API (the default).
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Signed tokens for development, tests and the UI.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The key hierarchy: status, data-key rotation, re-encryption, master-key rotation
    /// (each audited as KEY_ROTATED or KEY_RETIRED).
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the keyed audit chain with the master key: exit 0 printing the records checked,
    /// where the keyed part starts and the head (`head: SEQ:HASH`); exit 1 naming the first
    /// record that was changed, removed or inserted; exit 2 when it could not check.
    Verify(VerifyArgs),
}

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token and print it (only the token) on standard output.
    Issue(TokenIssueArgs),
}

/// The principal a minted token carries.
#[derive(Debug, Args)]
pub struct TokenIssueArgs {
    /// User id (`sub`).
    #[arg(long)]
    pub sub: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Platform-wide administrator.
    #[arg(long)]
    pub super_admin: bool,
    /// Organization membership, `ID=ADMIN|MEMBER` (repeatable).
    #[arg(long = "org", value_parser = parse_membership::<OrgRole>)]
    pub orgs: Vec<(String, OrgRole)>,
    /// Team membership, `TEAM@ORG=LEAD|MEMBER` (repeatable).
    #[arg(long = "team", value_parser = parse_team)]
    pub teams: Vec<(String, TeamMembership)>,
    /// Project membership, `PROJECT@ORG=ADMIN|MEMBER` or `PROJECT@ORG/TEAM=ADMIN|MEMBER`
    /// (repeatable).
    #[arg(long = "project", value_parser = parse_project)]
    pub projects: Vec<(String, ProjectMembership)>,
    /// Platform role, `ROLE@ORG` within an organization or `ROLE` platform-wide
    /// (repeatable).
    #[arg(long = "role", value_parser = parse_role)]
    pub roles: Vec<RoleMembership>,
    /// Lifetime of the token.
    #[arg(long, default_value_t = 3600)]
    pub ttl_seconds: u32,
}

fn parse_membership<R: serde::de::DeserializeOwned>(s: &str) -> Result<(String, R), String> {
    let (id, role) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ID=ROLE, got '{s}'"))?;
    if id.is_empty() {
        return Err("the id before '=' is empty".to_string());
    }
    let role: R = serde_json::from_value(serde_json::Value::String(role.to_ascii_uppercase()))
        .map_err(|_| format!("unknown role '{role}'"))?;
    Ok((id.to_string(), role))
}

/// Splits `ID@PLACE`, refusing the flat `ID` form with the form to write instead.
fn split_place<'a>(id: &'a str, expected: &str) -> Result<(&'a str, &'a str), String> {
    match id.split_once('@') {
        Some((id, place)) if !id.is_empty() && !place.is_empty() => Ok((id, place)),
        Some(_) => Err(format!(
            "expected {expected}: the id and the organization must not be empty"
        )),
        None => Err(format!(
            "'{id}' does not name its organization; write {expected} (memberships name their \
             organization so that the service can check a secret's place)"
        )),
    }
}

/// `TEAM@ORG=ROLE`.
fn parse_team(s: &str) -> Result<(String, TeamMembership), String> {
    const FORM: &str = "--team TEAM@ORG=LEAD|MEMBER, e.g. --team t1@o1=LEAD";
    let (id, role) = parse_membership::<TeamRole>(s)?;
    let (team, org) = split_place(&id, FORM)?;
    if org.contains('/') {
        return Err(format!("a team names only its organization; write {FORM}"));
    }
    Ok((
        team.to_string(),
        TeamMembership {
            org: org.to_string(),
            role,
        },
    ))
}

/// `PROJECT@ORG=ROLE` or `PROJECT@ORG/TEAM=ROLE`.
fn parse_project(s: &str) -> Result<(String, ProjectMembership), String> {
    const FORM: &str = "--project PROJECT@ORG=ADMIN|MEMBER or PROJECT@ORG/TEAM=ADMIN|MEMBER, \
                        e.g. --project p1@o1/t1=ADMIN";
    let (id, role) = parse_membership::<ProjectRole>(s)?;
    let (project, place) = split_place(&id, FORM)?;
    let (org, team) = match place.split_once('/') {
        Some((org, team)) if !org.is_empty() && !team.is_empty() => (org, Some(team)),
        Some(_) => return Err(format!("expected {FORM}")),
        None => (place, None),
    };
    Ok((
        project.to_string(),
        ProjectMembership {
            org: org.to_string(),
            team: team.map(str::to_string),
            role,
        },
    ))
}

/// `ROLE@ORG` or `ROLE` (platform-wide).
fn parse_role(s: &str) -> Result<RoleMembership, String> {
    let (id, org) = match s.split_once('@') {
        Some((id, org)) => (id, Some(org)),
        None => (s, None),
    };
    if id.is_empty()
        || org.is_some_and(|o| o.is_empty() || o.contains(['/', '=']))
        || id.contains('=')
    {
        return Err(
            "expected --role ROLE@ORG, or --role ROLE for a platform-wide role".to_string(),
        );
    }
    Ok(RoleMembership {
        id: id.to_string(),
        org: org.map(str::to_string),
    })
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> Result<()> {
    if let Some(Command::Audit(AuditCommand::Verify(args))) = &cli.command {
        let runtime = runtime().map_err(verify::could_not_check)?;
        return runtime.block_on(verify::run(&cli.settings.store, args));
    }
    let runtime = runtime()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve(cli.settings)),
        Command::Migrate => runtime.block_on(migrate(&cli.settings.store)),
        Command::Token(TokenCommand::Issue(args)) => issue_token(&cli.settings, &args),
        Command::Audit(AuditCommand::Verify(args)) => {
            runtime.block_on(verify::run(&cli.settings.store, &args))
        }
        Command::Keys(command) => runtime.block_on(keys::run(&cli.settings.store, &command)),
    }
}

impl Settings {
    /// The HS256 secret: SECRETS_JWT_SECRET, the secret file, or (dev) a generated one.
    fn jwt_secret(&self) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let from_env = std::env::var("SECRETS_JWT_SECRET")
            .ok()
            .filter(|v| !v.is_empty());
        match (&self.jwt_secret_file, from_env) {
            (Some(_), Some(_)) => {
                bail!("set SECRETS_JWT_SECRET or SECRETS_JWT_SECRET_FILE, not both")
            }
            (Some(path), None) => Ok(Some(read_key_file(path)?)),
            (None, Some(v)) => Ok(Some(Zeroizing::new(v.into_bytes()))),
            (None, None) if self.store.dev && self.jwt_public_key_file.is_none() => {
                self.store.ensure_data_dir()?;
                let path = self.store.data_dir.join("jwt.secret");
                if !path.exists() {
                    let mut bytes = [0u8; 48];
                    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no random source: {e}"))?;
                    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                    write_private_file(&path, text.as_bytes())?;
                    tracing::warn!(path = %path.display(), "dev mode: generated a token signing key; not for production");
                }
                Ok(Some(read_key_file(&path)?))
            }
            (None, None) => Ok(None),
        }
    }

    /// The issuer tokens must carry: the setting, or in dev mode the dev issuer.
    pub fn jwt_issuer(&self) -> Option<String> {
        non_empty(self.jwt_issuer.as_deref())
            .or_else(|| self.store.dev.then(|| DEV_JWT_ISSUER.to_string()))
    }

    /// The audience tokens must name: the setting, or in dev mode the dev audience.
    pub fn jwt_audience(&self) -> Option<String> {
        non_empty(self.jwt_audience.as_deref())
            .or_else(|| self.store.dev.then(|| DEV_JWT_AUDIENCE.to_string()))
    }

    /// The token verifier the server checks bearer tokens with: the key, and the issuer
    /// and audience when configured (then required in every token).
    pub fn token_verifier(&self) -> Result<TokenVerifier> {
        let mut verifier = self.token_key_verifier()?;
        if let Some(issuer) = self.jwt_issuer() {
            verifier = verifier.with_issuer(issuer);
        }
        if let Some(audience) = self.jwt_audience() {
            verifier = verifier.with_audience(audience);
        }
        Ok(verifier)
    }

    fn token_key_verifier(&self) -> Result<TokenVerifier> {
        if let Some(secret) = self.jwt_secret()? {
            return TokenVerifier::hs256(&secret).map_err(|e| anyhow!("SECRETS_JWT_SECRET: {e}"));
        }
        if let Some(path) = &self.jwt_public_key_file {
            let pem = read_key_file(path)?;
            return TokenVerifier::eddsa_pem(&pem)
                .or_else(|_| TokenVerifier::rs256_pem(&pem))
                .map_err(|e| anyhow!("SECRETS_JWT_PUBLIC_KEY_FILE {}: {e}", path.display()));
        }
        bail!(
            "no token key: set SECRETS_JWT_SECRET, SECRETS_JWT_SECRET_FILE or \
             SECRETS_JWT_PUBLIC_KEY_FILE (or run with --dev to generate one for development)"
        )
    }

    /// The token issuer `token issue` signs with, writing the configured issuer and
    /// audience.
    pub fn token_issuer(&self) -> Result<TokenIssuer> {
        let mut issuer = self.token_key_issuer()?;
        if let Some(iss) = self.jwt_issuer() {
            issuer = issuer.with_issuer(iss);
        }
        if let Some(aud) = self.jwt_audience() {
            issuer = issuer.with_audience(aud);
        }
        Ok(issuer)
    }

    fn token_key_issuer(&self) -> Result<TokenIssuer> {
        if let Some(secret) = self.jwt_secret()? {
            return TokenIssuer::hs256(&secret).map_err(|e| anyhow!("SECRETS_JWT_SECRET: {e}"));
        }
        if let Some(path) = &self.jwt_private_key_file {
            let pem = read_key_file(path)?;
            return TokenIssuer::eddsa_pem(&pem)
                .or_else(|_| TokenIssuer::rs256_pem(&pem))
                .map_err(|e| anyhow!("SECRETS_JWT_PRIVATE_KEY_FILE {}: {e}", path.display()));
        }
        bail!(
            "no signing key: set SECRETS_JWT_SECRET, SECRETS_JWT_SECRET_FILE or \
             SECRETS_JWT_PRIVATE_KEY_FILE (or use --dev)"
        )
    }
}

/// The issuer dev mode checks and writes when SECRETS_JWT_ISSUER is unset.
pub const DEV_JWT_ISSUER: &str = "secret-manager-dev";
/// The audience dev mode checks and writes when SECRETS_JWT_AUDIENCE is unset.
pub const DEV_JWT_AUDIENCE: &str = "secret-manager";

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

async fn migrate(settings: &StoreSettings) -> Result<()> {
    connect(settings).await?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn serve(settings: Settings) -> Result<()> {
    if settings.store.dev {
        tracing::warn!(
            "running in dev mode: generated keys in the data directory, not for production"
        );
    }
    let master_key = settings.store.master_key()?;
    let verifier = settings.token_verifier()?;
    if settings.jwt_issuer().is_none() || settings.jwt_audience().is_none() {
        tracing::warn!(
            "SECRETS_JWT_ISSUER and SECRETS_JWT_AUDIENCE are not both set: tokens signed with \
             the same key for another service are accepted; set both in production"
        );
    }
    let service = secret_startup::open_service_with(&settings.store, &master_key).await?;
    drop(master_key);
    let listener = std::net::TcpListener::bind(settings.bind)
        .with_context(|| format!("binding {}", settings.bind))?;
    let addr = listener.local_addr()?;
    // In dev mode the web UI offers a sign-in page that mints a token for a chosen
    // principal, signed as `token issue` signs.
    let dev_sign_in = if settings.store.dev {
        Some(secret_api::http::DevSignIn::new(settings.token_issuer()?))
    } else {
        None
    };
    let http = HttpSettings {
        rate_limit_per_minute: settings.rate_limit_per_minute,
        max_body_bytes: settings.max_body_bytes,
        workers: settings.workers,
        trusted_proxies: settings.trusted_proxies.clone(),
        dev_sign_in,
        ..HttpSettings::default()
    };
    let server = secret_api::http::serve(listener, service, verifier, http)?;
    tracing::info!(%addr, "secret-server listening");
    // actix stops gracefully on SIGTERM and SIGINT: in-flight requests finish.
    server.await?;
    tracing::info!("secret-server stopped");
    Ok(())
}

fn issue_token(settings: &Settings, args: &TokenIssueArgs) -> Result<()> {
    let issuer = settings.token_issuer()?;
    let now = chrono::Utc::now();
    let mut principal = Principal::user(&args.sub).authenticated_at(now);
    principal.name = args.name.clone();
    principal.super_admin = args.super_admin;
    principal.orgs = args.orgs.iter().cloned().collect();
    principal.teams = args.teams.iter().cloned().collect();
    principal.projects = args.projects.iter().cloned().collect();
    principal.roles = args.roles.iter().cloned().collect();
    let token = issuer
        .mint(
            &principal,
            chrono::Duration::seconds(i64::from(args.ttl_seconds)),
            now,
        )
        .map_err(|e| anyhow!("{e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{token}")?;
    Ok(())
}
