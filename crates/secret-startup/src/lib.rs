//! The start-up every binary of the secret manager shares (`secret-server`,
//! `secret-scheduler`): where the data lives and how it is unlocked ([`StoreSettings`]),
//! reading key files with one rule ([`read_key_file`]), files only their owner may read
//! ([`write_private_file`]), logging ([`init_tracing`]), the async runtime ([`runtime`]),
//! connecting to the migrated database ([`connect`]) and opening the service on it
//! ([`open_service`]).
//!
//! Nothing here depends on an HTTP framework, so a binary without an HTTP server (the
//! scheduler) does not pull one in.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use secrecy::ExposeSecret;
use secret_api::{
    CacheConfig, DEFAULT_MAX_ENTRIES, DEFAULT_REFRESH_AHEAD_PERCENT, DEFAULT_TTL_SECS,
    SecretService,
};
use secret_core::SystemClock;
use secret_crypto::MasterKeyMaterial;
use secret_store::{Database, DbConfig};
use zeroize::Zeroizing;

/// How log lines are written (always to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the data lives and how it is unlocked: the settings every binary shares.
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// Directory for the default SQLite database and dev-mode keys.
    #[arg(
        long,
        env = "SECRETS_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL (default: SQLite in the data directory).
    #[arg(long, env = "SECRETS_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Development mode: generate a master key and a token key into the data directory
    /// when none is configured. Not for production.
    #[arg(long, env = "SECRETS_DEV", global = true)]
    pub dev: bool,
    /// File holding the master key (alternative to SECRETS_MASTER_KEY).
    #[arg(long, env = "SECRETS_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Read cache (§9.4): how long an entry is kept, in seconds; `0` turns the cache off.
    /// Writes by any process sharing the database drop their entries at once through the
    /// change feed; the TTL bounds staleness only while the feed is down.
    #[arg(long, env = "SECRETS_CACHE_TTL_SECONDS", default_value_t = DEFAULT_TTL_SECS, global = true)]
    pub cache_ttl_seconds: u64,
    /// Read cache: the most secrets kept.
    #[arg(long, env = "SECRETS_CACHE_MAX_SIZE", default_value_t = DEFAULT_MAX_ENTRIES, global = true)]
    pub cache_max_size: usize,
    /// Read cache: an entry read after this percentage of its TTL is reloaded in the
    /// background; `0` turns refresh-ahead off.
    #[arg(long, env = "SECRETS_CACHE_REFRESH_AHEAD_PERCENT",
        default_value_t = DEFAULT_REFRESH_AHEAD_PERCENT, global = true,
        value_parser = clap::value_parser!(u8).range(0..=99))]
    pub cache_refresh_ahead_percent: u8,
}

impl StoreSettings {
    /// The database URL: the flag, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("secrets.db").display()
            )
        })
    }

    /// The read cache these settings describe.
    pub fn cache(&self) -> CacheConfig {
        CacheConfig {
            enabled: self.cache_ttl_seconds > 0,
            ttl: std::time::Duration::from_secs(self.cache_ttl_seconds),
            max_entries: self.cache_max_size.max(1),
            refresh_ahead_percent: self.cache_refresh_ahead_percent,
            follow_changes: true,
        }
    }

    /// Creates the data directory if it is missing.
    pub fn ensure_data_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))
    }

    /// The master key: SECRETS_MASTER_KEY, the key file, or (dev) a generated one.
    pub fn master_key(&self) -> Result<MasterKeyMaterial> {
        if let Some(path) = &self.master_key_file {
            if std::env::var_os("SECRETS_MASTER_KEY").is_some_and(|v| !v.is_empty()) {
                bail!("set SECRETS_MASTER_KEY or SECRETS_MASTER_KEY_FILE, not both");
            }
            return MasterKeyMaterial::from_file(path).map_err(|e| anyhow!("{e}"));
        }
        if let Some(material) = MasterKeyMaterial::from_env().map_err(|e| anyhow!("{e}"))? {
            return Ok(material);
        }
        if !self.dev {
            bail!(
                "no master key: set SECRETS_MASTER_KEY or SECRETS_MASTER_KEY_FILE \
                 (or run with --dev to generate one for development)"
            );
        }
        self.ensure_data_dir()?;
        let path = self.data_dir.join("master.key");
        if !path.exists() {
            let (_, b64) = MasterKeyMaterial::generate_raw().map_err(|e| anyhow!("{e}"))?;
            write_private_file(&path, b64.expose_secret().as_bytes())?;
            tracing::warn!(path = %path.display(), "dev mode: generated a master key; not for production");
        } else {
            tracing::warn!(path = %path.display(), "dev mode: using the generated master key; not for production");
        }
        MasterKeyMaterial::from_file(&path).map_err(|e| anyhow!("{e}"))
    }
}

/// Reads a key file with the one rule every key file follows (the master key's too, see
/// `MasterKeyMaterial::from_file`): trailing line breaks (`\n`, `\r\n`) are not part of the
/// key, and an empty key is refused. The bytes are wiped when dropped.
pub fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let mut bytes =
        Zeroizing::new(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(bytes)
}

/// Writes a new file readable by its owner only, refusing to overwrite one, and syncs it.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

/// Installs the tracing subscriber (RUST_LOG, default `info`), writing to standard error.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: piped logs stay plain text for collectors and greps.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Installs the process's one TLS crypto provider (aws-lc-rs, DEPENDENCIES.md) and starts
/// the async runtime the binaries run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Connects to the configured database (creating the data directory for SQLite) and runs
/// migrations.
pub async fn connect(settings: &StoreSettings) -> Result<Database> {
    if settings.database_url.is_none() {
        settings.ensure_data_dir()?;
    }
    let db = Database::connect(&DbConfig::new(settings.database_url()))
        .await
        .map_err(|e| anyhow!("connecting to the database: {e}"))?;
    db.migrate()
        .await
        .map_err(|e| anyhow!("running migrations: {e}"))?;
    Ok(db)
}

/// Opens the service on the configured database with the configured master key (see
/// [`StoreSettings::master_key`]).
pub async fn open_service(settings: &StoreSettings) -> Result<SecretService> {
    let master_key = settings.master_key()?;
    open_service_with(settings, &master_key).await
}

/// Opens the service on the configured database with `master_key`, already read (the
/// server reads it before its other settings, so that a missing key is named first).
pub async fn open_service_with(
    settings: &StoreSettings,
    master_key: &MasterKeyMaterial,
) -> Result<SecretService> {
    let db = connect(settings).await?;
    SecretService::open_with(db, master_key, Arc::new(SystemClock), settings.cache())
        .await
        .map_err(|e| anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_key_file_loses_its_trailing_line_breaks_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"  key with spaces \r\n\n").unwrap();
        assert_eq!(
            read_key_file(&path).unwrap().as_slice(),
            b"  key with spaces "
        );
    }

    #[test]
    fn an_empty_key_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.key");
        std::fs::write(&path, b"\n").unwrap();
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("empty.key") && err.contains("empty"), "{err}");
    }

    #[test]
    fn a_private_file_is_never_overwritten_and_only_its_owner_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        write_private_file(&path, b"one").unwrap();
        assert!(write_private_file(&path, b"two").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
