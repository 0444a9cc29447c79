//! Key management as audited operations: the key hierarchy's status, data-key rotation,
//! re-encryption of stored values onto the active key (retiring the keys it empties),
//! destruction of retired keys nothing references, and master-key rotation.
//!
//! Every change is recorded: KEY_ROTATED for a rotation (`kind` `data` or `master`) and a
//! re-encryption (action `REENCRYPT`, with the counts), KEY_RETIRED (detail `id`) for each key retired
//! (action `RETIRED`: decrypt only) or destroyed (action `DESTROYED`: material erased).
//! A failure is recorded with outcome FAILURE. The key manager writes in its own
//! transactions, so each record follows the change it reports.

use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::{ActorType, SecretError};
use secret_store::Change;
use secret_store::{KeyInfo, ReencryptProgress};

use super::{Result, SecretService};

/// Who acts on the keys, as the audit trail names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOperator {
    /// The operator's id (a person or a tool) in the records.
    pub id: String,
    /// SYSTEM for an operator's command, SCHEDULER for the scheduler's job.
    pub actor_type: ActorType,
}

impl KeyOperator {
    /// An operator running a command (actor type SYSTEM).
    pub fn system(id: impl Into<String>) -> Self {
        KeyOperator {
            id: id.into(),
            actor_type: ActorType::System,
        }
    }

    /// The scheduler's key job (actor type SCHEDULER).
    pub fn scheduler(id: impl Into<String>) -> Self {
        KeyOperator {
            id: id.into(),
            actor_type: ActorType::Scheduler,
        }
    }
}

/// An operator named by id alone runs a command (SYSTEM).
impl From<&str> for KeyOperator {
    fn from(id: &str) -> Self {
        KeyOperator::system(id)
    }
}

impl From<String> for KeyOperator {
    fn from(id: String) -> Self {
        KeyOperator::system(id)
    }
}

impl From<&KeyOperator> for KeyOperator {
    fn from(by: &KeyOperator) -> Self {
        by.clone()
    }
}

/// The key hierarchy's state: the keys (never their material) and what a re-encryption
/// still has to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatusReport {
    /// Every data key, oldest first.
    pub keys: Vec<KeyInfo>,
    /// The key new values are encrypted with.
    pub active_key_id: String,
    /// Stored values (versions, masked displays, vault settings) still under another key.
    pub reencryption_remaining: u64,
}

/// How many values one re-encryption batch moves (one transaction each).
pub const REENCRYPT_BATCH: u64 = 500;

impl SecretService {
    /// Records key-management events by `by`, each with the outcome of `result`.
    async fn audit_key_events<T>(
        &self,
        events: Vec<AuditEvent>,
        by: &KeyOperator,
        result: Result<T>,
    ) -> Result<T> {
        let now = self.now();
        let entries = events
            .into_iter()
            .map(|event| {
                let event = match &result {
                    Ok(_) => event,
                    Err(e) => event.failed(e),
                };
                event.actor_type(by.actor_type).entry(None, &by.id, now)
            })
            .collect();
        self.write_audit(entries, Vec::new()).await?;
        result
    }

    /// The keys and the re-encryption still to do. Reads only; not audited.
    pub async fn key_status(&self) -> Result<KeyStatusReport> {
        let keys = &self.inner.keys;
        let reencryption_remaining = keys.reencryption_remaining().await?;
        Ok(KeyStatusReport {
            keys: keys.list_keys().await?,
            active_key_id: keys.active_key_id()?,
            reencryption_remaining,
        })
    }

    /// Makes a new data key the active one (the old one goes ROTATING: it decrypts, no
    /// longer encrypts, until [`SecretService::reencrypt`] has moved everything off it);
    /// audited as KEY_ROTATED. Returns the new key's id.
    pub async fn rotate_data_key(&self, by: impl Into<KeyOperator>) -> Result<String> {
        let by = &by.into();
        let result = self
            .inner
            .keys
            .rotate_data_key()
            .await
            .map_err(SecretError::from);
        let mut event = AuditEvent::new(E::KeyRotated).detail("kind", "data");
        if let Ok(id) = &result {
            event = event.detail("id", id.clone());
            // The other processes switch to the new key at once, not at their next start.
            self.publish_after(Change::KeyRing).await;
        }
        self.audit_key_events(vec![event], by, result).await
    }

    /// Re-encrypts stored values onto the active key, `batch_size` per transaction, at most
    /// `max_batches` batches (all of them when `None`); safe to interrupt and to run in
    /// several processes. When nothing is left on the ROTATING keys they are retired.
    /// Audited as KEY_ROTATED (action REENCRYPT, with the counts) and one KEY_RETIRED per
    /// retired key.
    pub async fn reencrypt(
        &self,
        by: impl Into<KeyOperator>,
        batch_size: u64,
        max_batches: Option<u64>,
    ) -> Result<ReencryptProgress> {
        let by = &by.into();
        let result = self.reencrypt_batches(batch_size, max_batches).await;
        self.audit_reencryption(by, result).await
    }

    /// What the scheduler's key job does: resumes a re-encryption a rotation left
    /// unfinished (up to `max_batches` batches a run) and retires the keys it empties.
    /// Writes records only when it moved or retired something (or failed).
    pub async fn resume_reencryption(
        &self,
        by: &KeyOperator,
        max_batches: u64,
    ) -> Result<ReencryptProgress> {
        let result = self
            .reencrypt_batches(REENCRYPT_BATCH, Some(max_batches))
            .await;
        if matches!(&result, Ok(p) if p.reencrypted == 0 && p.retired.is_empty()) {
            return result;
        }
        self.audit_reencryption(by, result).await
    }

    async fn audit_reencryption(
        &self,
        by: &KeyOperator,
        result: Result<ReencryptProgress>,
    ) -> Result<ReencryptProgress> {
        let mut event = AuditEvent::new(E::KeyRotated)
            .action("REENCRYPT")
            .detail("kind", "data");
        let mut events = Vec::new();
        if let Ok(p) = &result {
            event = event
                .detail("reencrypted", p.reencrypted)
                .detail("remaining", p.remaining);
            events.push(event);
            for key_id in &p.retired {
                events.push(
                    AuditEvent::new(E::KeyRetired)
                        .action("RETIRED")
                        .detail("id", key_id.clone()),
                );
            }
        } else {
            events.push(event);
        }
        self.audit_key_events(events, by, result).await
    }

    async fn reencrypt_batches(
        &self,
        batch_size: u64,
        max_batches: Option<u64>,
    ) -> Result<ReencryptProgress> {
        if batch_size == 0 {
            return Err(SecretError::validation("batchSize", "must be at least 1"));
        }
        let mut total = ReencryptProgress::default();
        let mut batches = 0u64;
        loop {
            let p = self.inner.keys.reencrypt_batch(batch_size).await?;
            batches += 1;
            total.reencrypted += p.reencrypted;
            total.remaining = p.remaining;
            total.retired.extend(p.retired);
            if p.remaining == 0 || max_batches.is_some_and(|max| batches >= max) {
                return Ok(total);
            }
            if p.reencrypted == 0 {
                return Err(SecretError::internal(
                    "re-encryption made no progress: stored values reference keys this \
                     process cannot use",
                ));
            }
        }
    }

    /// Erases the material of RETIRED keys that nothing references any more (irreversible:
    /// a backup holding values under such a key can no longer be read); one KEY_RETIRED
    /// record (action DESTROYED) per key. Returns the ids destroyed.
    pub async fn destroy_retired_keys(&self, by: impl Into<KeyOperator>) -> Result<Vec<String>> {
        let by = &by.into();
        let result = self
            .inner
            .keys
            .destroy_unreferenced_keys()
            .await
            .map_err(SecretError::from);
        let events = match &result {
            Ok(ids) => ids
                .iter()
                .map(|id| {
                    AuditEvent::new(E::KeyRetired)
                        .action("DESTROYED")
                        .detail("id", id.clone())
                })
                .collect(),
            Err(_) => vec![AuditEvent::new(E::KeyRetired).action("DESTROYED")],
        };
        if events.is_empty() {
            return result;
        }
        if result.is_ok() {
            self.publish_after(Change::KeyRing).await;
        }
        self.audit_key_events(events, by, result).await
    }

    /// Re-wraps every data key and the audit chain key under `new_master` (no value is
    /// re-encrypted); audited as KEY_ROTATED (`kind` `master`). Processes still holding the
    /// old master key refuse to wrap anything new until restarted with the new one.
    pub async fn rotate_master_key(
        &self,
        new_master: &secret_crypto::MasterKeyMaterial,
        by: impl Into<KeyOperator>,
    ) -> Result<()> {
        let by = &by.into();
        let result = self
            .inner
            .keys
            .rotate_master_key(new_master)
            .await
            .map_err(SecretError::from);
        let event = AuditEvent::new(E::KeyRotated).detail("kind", "master");
        self.audit_key_events(vec![event], by, result).await
    }
}
