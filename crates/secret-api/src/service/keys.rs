//! Key management: data-key and master-key rotation, audited as KEY_ROTATED.

use secret_audit::AuditEvent;
use secret_core::SecretAuditEventType as E;
use secret_core::SecretError;
use secret_store::KeyManager;

use super::{Result, SecretService};

impl SecretService {
    /// The key manager, for data-key and master-key rotation. Prefer the audited
    /// [`SecretService::rotate_data_key`] and [`SecretService::rotate_master_key`].
    pub fn keys(&self) -> &KeyManager {
        &self.inner.keys
    }

    /// Records a key-management event by `operator` (a SYSTEM actor) with its outcome.
    async fn audit_key_event<T>(
        &self,
        event: AuditEvent,
        operator: &str,
        result: Result<T>,
    ) -> Result<T> {
        let event = match &result {
            Ok(_) => event,
            Err(e) => event.failed(e),
        };
        let entry =
            event
                .actor_type(secret_core::ActorType::System)
                .entry(None, operator, self.now());
        self.write_audit(vec![entry], Vec::new()).await?;
        result
    }

    /// Makes a new data key the active one (the old one is retired: it decrypts, no longer
    /// encrypts); audited as KEY_ROTATED by `operator`. Returns the new key's id.
    pub async fn rotate_data_key(&self, operator: &str) -> Result<String> {
        let result = self
            .inner
            .keys
            .rotate_data_key()
            .await
            .map_err(SecretError::from);
        let mut event = AuditEvent::new(E::KeyRotated).detail("kind", "data");
        if let Ok(id) = &result {
            event = event.detail("id", id.clone());
        }
        self.audit_key_event(event, operator, result).await
    }

    /// Re-wraps every data key under `new_master` (no value is re-encrypted); audited as
    /// KEY_ROTATED by `operator`.
    pub async fn rotate_master_key(
        &self,
        new_master: &secret_crypto::MasterKeyMaterial,
        operator: &str,
    ) -> Result<()> {
        let result = self
            .inner
            .keys
            .rotate_master_key(new_master)
            .await
            .map_err(SecretError::from);
        let event = AuditEvent::new(E::KeyRotated).detail("kind", "master");
        self.audit_key_event(event, operator, result).await
    }
}
