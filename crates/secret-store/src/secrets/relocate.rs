//! Moving secrets between vault configurations (a migration): which secrets a vault holds,
//! in id order from a cursor, and the move itself, which re-points every version copied and
//! the secret in one transaction.

use sea_orm::QueryTrait;

use super::*;
use crate::entity::{secret_pending_versions, secret_pending_writes};

/// Which secrets of a vault a migration covers: live ones, of one scope and one
/// organization when given.
#[derive(Debug, Clone, Copy)]
pub struct VaultSecrets<'a> {
    pub vault_id: &'a str,
    pub scope: Option<SecretScope>,
    pub organization_id: Option<&'a str>,
}

impl VaultSecrets<'_> {
    fn condition(&self) -> Condition {
        use secrets::Column as C;
        let mut cond = Condition::all()
            .add(C::VaultConfigId.eq(self.vault_id))
            .add(C::DeletedAt.is_null());
        if let Some(scope) = self.scope {
            cond = cond.add(C::Scope.eq(scope.as_str()));
        }
        if let Some(org) = self.organization_id {
            cond = cond.add(C::OrganizationId.eq(org));
        }
        cond
    }
}

/// A secret's move to another vault: every version copied there (with the new
/// references), the versions left behind (removed from the history), and the vault.
#[derive(Debug, Clone)]
pub struct VaultMove<'a> {
    pub secret_id: &'a str,
    pub vault_id: &'a str,
    pub backend: secret_core::StorageBackendKind,
    /// The copied versions and where each now lives.
    pub versions: Vec<(i64, StoredValue)>,
    /// The versions not copied, whose rows are removed.
    pub dropped: Vec<i64>,
    pub actor_id: &'a str,
    pub now: DateTime<Utc>,
}

impl SecretRepository {
    /// How many secrets `which` covers.
    pub async fn count_in_vault(&self, which: &VaultSecrets<'_>) -> StoreResult<u64> {
        Ok(secrets::Entity::find()
            .filter(which.condition())
            .count(self.db.conn())
            .await?)
    }

    /// How many versions the secrets `which` covers hold.
    pub async fn count_versions_in_vault(&self, which: &VaultSecrets<'_>) -> StoreResult<u64> {
        let ids = secrets::Entity::find()
            .select_only()
            .column(secrets::Column::Id)
            .filter(which.condition());
        Ok(secret_versions::Entity::find()
            .filter(secret_versions::Column::SecretId.in_subquery(ids.into_query()))
            .count(self.db.conn())
            .await?)
    }

    /// Up to `limit` secrets `which` covers with ids after `after`, in id order.
    pub async fn in_vault_after(
        &self,
        which: &VaultSecrets<'_>,
        after: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<SecretMetadata>> {
        let mut query = secrets::Entity::find().filter(which.condition());
        if let Some(after) = after {
            query = query.filter(secrets::Column::Id.gt(after));
        }
        query
            .order_by_asc(secrets::Column::Id)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| to_record(m).map(|r| r.metadata))
            .collect()
    }

    /// Every version of a secret, oldest first.
    pub async fn all_versions(&self, id: &str) -> StoreResult<Vec<VersionRecord>> {
        secret_versions::Entity::find()
            .filter(secret_versions::Column::SecretId.eq(id))
            .order_by_asc(secret_versions::Column::Version)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(to_version)
            .collect()
    }
}

impl WriteTx {
    /// Whether a write to the secret is under way: a pending vault write or a staged
    /// rotation, either of which a move must wait for.
    pub async fn has_pending_write(&self, id: &str) -> StoreResult<bool> {
        Ok(secret_pending_writes::Entity::find_by_id(id)
            .one(&self.txn)
            .await?
            .is_some()
            || secret_pending_versions::Entity::find_by_id(id)
                .one(&self.txn)
                .await?
                .is_some())
    }

    /// Re-points a secret locked in this transaction at another vault: each copied
    /// version's row gets its new reference, the dropped versions' rows are removed, and
    /// the secret names the new vault.
    pub async fn move_to_vault(&mut self, m: &VaultMove<'_>) -> StoreResult<()> {
        use secret_versions::Column as V;
        for (version, stored) in &m.versions {
            let (key_id, encrypted_value, vault_ref, vault_version_id) =
                storage_columns(stored.clone());
            let res = secret_versions::Entity::update_many()
                .col_expr(V::KeyId, Expr::value(key_id))
                .col_expr(V::EncryptedValue, Expr::value(encrypted_value))
                .col_expr(V::VaultRef, Expr::value(vault_ref))
                .col_expr(V::VaultVersionId, Expr::value(vault_version_id))
                .filter(V::SecretId.eq(m.secret_id))
                .filter(V::Version.eq(*version))
                .exec(&self.txn)
                .await?;
            if res.rows_affected != 1 {
                return Err(SecretError::Conflict {
                    message: format!(
                        "version {version} of secret {} changed during its migration",
                        m.secret_id
                    ),
                }
                .into());
            }
        }
        if !m.dropped.is_empty() {
            secret_versions::Entity::delete_many()
                .filter(V::SecretId.eq(m.secret_id))
                .filter(V::Version.is_in(m.dropped.clone()))
                .exec(&self.txn)
                .await?;
        }
        use secrets::Column as C;
        secrets::Entity::update_many()
            .col_expr(C::VaultConfigId, Expr::value(m.vault_id))
            .col_expr(C::StorageBackend, Expr::value(m.backend.as_str()))
            .col_expr(C::UpdatedAt, Expr::value(m.now))
            .col_expr(C::UpdatedById, Expr::value(m.actor_id))
            .filter(C::Id.eq(m.secret_id))
            .exec(&self.txn)
            .await?;
        Ok(())
    }
}
