//! A secret's expiry mirrored into its vault where the vault has a place for it (Azure Key
//! Vault's `exp`, a Google Secret Manager annotation), for those who look at the vault
//! directly.
//!
//! This database decides expiry; the vault's copy only informs. The mirror is written
//! after the change commits, so a vault that fails to take it does not undo the change:
//! the failure is logged (the vault's message, never a value) and the next write or expiry
//! change writes it again.

use chrono::{DateTime, Utc};
use secret_core::model::SecretMetadata;
use secret_store::{StorageBackend, StoredValue};

use super::SecretService;

impl SecretService {
    /// After a committed change to `meta` whose expiry was `before`: mirrors the expiry
    /// into its vault when the change moved it, or when it wrote a new version (`current`,
    /// where that version lives) and the secret has an expiry (a vault keeping it per
    /// version needs it on the new one).
    pub(crate) async fn mirror_expiry(
        &self,
        meta: &SecretMetadata,
        current: Option<&StoredValue>,
        before: Option<DateTime<Utc>>,
    ) {
        let new_version_needs_it = current.is_some() && meta.expires_at.is_some();
        if meta.expires_at == before && !new_version_needs_it {
            return;
        }
        let backend = match self.backend(meta).await {
            Ok(b) => b,
            Err(e) => return warn_not_mirrored(meta, &e.to_string()),
        };
        if backend.keeps_values_in_database() {
            return;
        }
        let found;
        let current = match current {
            Some(c) => c,
            None => match self
                .inner
                .repo
                .find_version(&meta.id, meta.current_version)
                .await
            {
                Ok(Some(v)) => {
                    found = v.stored;
                    &found
                }
                Ok(None) => return,
                Err(e) => return warn_not_mirrored(meta, &e.to_string()),
            },
        };
        self.mirror_expiry_to(backend.as_ref(), meta, current).await;
    }

    /// Mirrors `meta`'s expiry into `backend`, whose copy of the current version is
    /// `current` (a migration's target).
    pub(crate) async fn mirror_expiry_to(
        &self,
        backend: &dyn StorageBackend,
        meta: &SecretMetadata,
        current: &StoredValue,
    ) {
        if let Err(e) = backend.set_expiry(&meta.id, current, meta.expires_at).await {
            warn_not_mirrored(meta, &e.to_string());
        }
    }
}

fn warn_not_mirrored(meta: &SecretMetadata, error: &str) {
    tracing::warn!(
        secret_id = %meta.id,
        vault_id = %meta.vault_id,
        error,
        "the vault's copy of the secret's expiry was not updated"
    );
}
