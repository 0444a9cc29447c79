//! `secret-server audit verify`: walks the audit chain with the audit chain key, which it
//! opens with the master key (read from the same settings as the server), and prints the
//! head to keep elsewhere.
//!
//! Standard output when the chain is intact (exit 0):
//!
//! ```text
//! audit chain intact: 8 records checked
//! keyed from: 6 (records 1 to 5 predate the chain key and carry unkeyed SHA-256 hashes)
//! head: 8:<64 hex digits>
//! ```
//!
//! With `--expect-head SEQ:HASH` (a `head:` printed earlier and kept elsewhere) the chain
//! must still hold that record with that tag. Exit 1 when the chain is broken, naming the
//! first record changed, removed or inserted; exit 2 when it could not be checked (bad
//! arguments, database unreachable, no or wrong master key, no chain key yet).

use std::fmt;
use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::Args;
use secret_audit::verify_chain_with;
use secret_core::audit::ExpectedHead;
use secret_crypto::{MASTER_KEY_ENV, MasterKeyMaterial};
use secret_store::{AuditStore, KeyManager};

use crate::{StoreSettings, connect};

/// The arguments of `audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A head printed by an earlier run (`head: SEQ:HASH`) and kept elsewhere: the chain
    /// must still hold record SEQ with that hash, or it was truncated or rewritten.
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<ExpectedHead>,
}

/// Why `audit verify` did not pass; its exit code is 1 or 2.
#[derive(Debug)]
pub enum VerifyFailure {
    /// The chain was tampered with (exit 1).
    Broken(String),
    /// The chain could not be checked (exit 2).
    CouldNotCheck(String),
}

impl VerifyFailure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyFailure::Broken(_) => 1,
            VerifyFailure::CouldNotCheck(_) => 2,
        }
    }
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyFailure::Broken(m) => write!(f, "audit chain verification failed: {m}"),
            VerifyFailure::CouldNotCheck(m) => write!(f, "audit chain could not be checked: {m}"),
        }
    }
}

impl std::error::Error for VerifyFailure {}

/// The exit code of a failed run: 1 or 2 for `audit verify` (see [`VerifyFailure`]), 1 for
/// anything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<VerifyFailure>()
        .map_or(1, VerifyFailure::exit_code)
}

pub(crate) fn could_not_check(err: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(VerifyFailure::CouldNotCheck(err.to_string()))
}

fn broken(err: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(VerifyFailure::Broken(err.to_string()))
}

/// The master key, as the server reads it; in dev mode the generated key of the data
/// directory, which is never generated here.
fn master_key(settings: &StoreSettings) -> Result<MasterKeyMaterial> {
    let configured = settings.master_key_file.is_some()
        || std::env::var_os(MASTER_KEY_ENV).is_some_and(|v| !v.is_empty());
    if configured {
        return settings.master_key();
    }
    let dev_key = settings.data_dir.join("master.key");
    if settings.dev {
        if !dev_key.exists() {
            bail!(
                "dev mode: there is no generated master key at {}; `audit verify` needs the \
                 key the server was started with",
                dev_key.display()
            );
        }
        return MasterKeyMaterial::from_file(&dev_key).map_err(|e| anyhow::anyhow!("{e}"));
    }
    bail!(
        "no master key: `audit verify` needs the master key the server uses, to open the \
         audit chain key: set SECRETS_MASTER_KEY or SECRETS_MASTER_KEY_FILE (or --dev for \
         the key generated into the data directory)"
    )
}

/// Runs `audit verify`.
pub(crate) async fn run(settings: &StoreSettings, args: &VerifyArgs) -> Result<()> {
    let material = master_key(settings).map_err(could_not_check)?;
    let db = connect(settings).await.map_err(could_not_check)?;
    let key = KeyManager::read_audit_chain_key(&db, &material)
        .await
        .map_err(|e| {
            if e.is_tampering() {
                broken(e)
            } else {
                could_not_check(e)
            }
        })?;
    drop(material);
    let store = AuditStore::new(db);
    let report = verify_chain_with(&store, &key, args.expect_head.clone())
        .await
        .map_err(|e| {
            if e.is_broken() {
                broken(e)
            } else {
                could_not_check(e)
            }
        })?;
    let keyed = match report.keyed_from_seq {
        k if k <= 1 => "every record is keyed".to_string(),
        k => format!(
            "records 1 to {} predate the chain key and carry unkeyed SHA-256 hashes",
            k - 1
        ),
    };
    let mut out = std::io::stdout().lock();
    let mut lines = vec![
        format!("audit chain intact: {} records checked", report.checked),
        format!("keyed from: {} ({keyed})", report.keyed_from_seq),
    ];
    if let Some(expected) = &args.expect_head {
        lines.push(format!("expected head {expected}: present"));
    }
    lines.push(format!("head: {}:{}", report.head.seq, report.head.hash));
    for line in lines {
        writeln!(out, "{line}").context("writing to standard output")?;
    }
    Ok(())
}
