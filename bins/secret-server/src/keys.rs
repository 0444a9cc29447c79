//! `secret-server keys`: the key hierarchy's status and its rotations, each an audited
//! operation of the service (KEY_ROTATED, KEY_RETIRED by the operator, actor type SYSTEM).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use secret_api::{KeyOperator, REENCRYPT_BATCH};
use secret_crypto::MasterKeyMaterial;

use crate::StoreSettings;

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the data keys (id, version, status, dates; never their material), the active
    /// one, and how many stored values a re-encryption still has to move.
    Status(StatusArgs),
    /// Make a new data key the active one. Values under the old key stay readable; `keys
    /// reencrypt` (or the scheduler's key job) moves them and then retires the old key.
    RotateDataKey(OperatorArgs),
    /// Re-encrypt every stored value onto the active key, a batch per transaction (safe to
    /// interrupt and rerun), and retire the keys nothing is left on.
    Reencrypt(ReencryptArgs),
    /// Erase the material of retired keys that nothing references any more. Irreversible:
    /// a database backup holding values under such a key can no longer be read. Run it only
    /// once every server and scheduler has restarted since the data-key rotation.
    DestroyRetired(OperatorArgs),
    /// Re-wrap the data keys and the audit chain key under a new master key (no value is
    /// re-encrypted). Restart every server and scheduler with the new key afterwards.
    RotateMasterKey(RotateMasterKeyArgs),
}

/// Who runs the command, as the audit trail names them.
#[derive(Debug, Clone, Args)]
pub struct OperatorArgs {
    /// The operator's id in the audit records.
    #[arg(long, env = "SECRETS_OPERATOR", default_value = "secret-server-cli")]
    pub operator: String,
}

/// `keys status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `keys reencrypt`.
#[derive(Debug, Args)]
pub struct ReencryptArgs {
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// Values re-encrypted per transaction.
    #[arg(long, default_value_t = REENCRYPT_BATCH)]
    pub batch_size: u64,
}

/// `keys rotate-master-key`.
#[derive(Debug, Args)]
pub struct RotateMasterKeyArgs {
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// File holding the new master key (base64 of 32 bytes, or a passphrase of at least 16
    /// characters). Alternatively SECRETS_NEW_MASTER_KEY.
    #[arg(long)]
    pub new_master_key_file: Option<PathBuf>,
}

/// The environment variable holding the new master key for `keys rotate-master-key`.
pub const NEW_MASTER_KEY_ENV: &str = "SECRETS_NEW_MASTER_KEY";

fn new_master_key(args: &RotateMasterKeyArgs) -> Result<MasterKeyMaterial> {
    let from_env = std::env::var(NEW_MASTER_KEY_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    match (&args.new_master_key_file, from_env) {
        (Some(_), Some(_)) => {
            bail!("set --new-master-key-file or {NEW_MASTER_KEY_ENV}, not both")
        }
        (Some(path), None) => MasterKeyMaterial::from_file(path).map_err(|e| anyhow!("{e}")),
        (None, Some(text)) => {
            MasterKeyMaterial::parse(&text).map_err(|e| anyhow!("{NEW_MASTER_KEY_ENV}: {e}"))
        }
        (None, None) => {
            bail!("no new master key: pass --new-master-key-file or set {NEW_MASTER_KEY_ENV}")
        }
    }
}

/// Runs a `keys` subcommand, printing its result on standard output.
pub(crate) async fn run(settings: &StoreSettings, command: &KeysCommand) -> Result<()> {
    // The new master key is read before anything is opened, so a bad one changes nothing.
    let new_master = match command {
        KeysCommand::RotateMasterKey(args) => Some(new_master_key(args)?),
        _ => None,
    };
    let service = secret_startup::open_service(settings).await?;
    let mut out = std::io::stdout().lock();
    match command {
        KeysCommand::Status(args) => {
            let status = service.key_status().await?;
            if args.json {
                let keys: Vec<_> = status
                    .keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "keyId": k.key_id,
                            "version": k.version,
                            "status": k.status.as_str(),
                            "rotatedFromId": k.rotated_from_id,
                            "createdAt": k.created_at.to_rfc3339(),
                            "retiredAt": k.retired_at.map(|t| t.to_rfc3339()),
                        })
                    })
                    .collect();
                let doc = serde_json::json!({
                    "activeKeyId": status.active_key_id,
                    "keys": keys,
                    "reencryptionRemaining": status.reencryption_remaining,
                });
                writeln!(out, "{doc}")?;
            } else {
                writeln!(out, "active key: {}", status.active_key_id)?;
                for k in &status.keys {
                    let retired = k
                        .retired_at
                        .map(|t| format!("  retired {}", t.to_rfc3339()))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{}  v{}  {:<9}  created {}{retired}",
                        k.key_id,
                        k.version,
                        k.status.as_str(),
                        k.created_at.to_rfc3339()
                    )?;
                }
                writeln!(
                    out,
                    "values still under other keys: {}",
                    status.reencryption_remaining
                )?;
            }
        }
        KeysCommand::RotateDataKey(args) => {
            let id = service
                .rotate_data_key(&KeyOperator::system(&args.operator))
                .await?;
            writeln!(out, "active data key: {id}")?;
            writeln!(
                out,
                "run `secret-server keys reencrypt` (or let the scheduler's key job) move the \
                 values onto it"
            )?;
        }
        KeysCommand::Reencrypt(args) => {
            let p = service
                .reencrypt(
                    &KeyOperator::system(&args.operator.operator),
                    args.batch_size,
                    None,
                )
                .await?;
            writeln!(out, "re-encrypted: {}", p.reencrypted)?;
            writeln!(out, "remaining: {}", p.remaining)?;
            for id in &p.retired {
                writeln!(out, "retired: {id}")?;
            }
        }
        KeysCommand::DestroyRetired(args) => {
            let ids = service
                .destroy_retired_keys(&KeyOperator::system(&args.operator))
                .await?;
            if ids.is_empty() {
                writeln!(out, "no retired key is unreferenced; nothing destroyed")?;
            }
            for id in &ids {
                writeln!(out, "destroyed: {id}")?;
            }
        }
        KeysCommand::RotateMasterKey(args) => {
            let Some(new_master) = new_master else {
                bail!("no new master key");
            };
            service
                .rotate_master_key(&new_master, &KeyOperator::system(&args.operator.operator))
                .await?;
            writeln!(
                out,
                "master key rotated: restart every secret-server and secret-scheduler with the \
                 new key (SECRETS_MASTER_KEY or SECRETS_MASTER_KEY_FILE); the old one no \
                 longer opens this database"
            )?;
        }
    }
    Ok(())
}
