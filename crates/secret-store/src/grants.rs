//! Access grants: reads for authorization decisions and the writes of granting and revoking.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use secret_core::model::AccessGrant;

use crate::entity::secret_access_grants as grants;
use crate::error::{StoreError, StoreResult};
use crate::secrets::{SecretRepository, WriteTx};

fn to_grant(m: grants::Model) -> StoreResult<AccessGrant> {
    Ok(AccessGrant {
        grantee_type: m.grantee_type.parse().map_err(|_| {
            StoreError::corrupt(
                "secret_access_grants",
                format!("grantee type '{}'", m.grantee_type),
            )
        })?,
        id: m.id.into(),
        secret_id: m.secret_id.into(),
        grantee_id: m.grantee_id,
        can_read: m.can_read,
        can_update: m.can_update,
        can_delete: m.can_delete,
        can_grant: m.can_grant,
        expires_at: m.expires_at,
        granted_at: m.granted_at,
        granted_by_id: m.granted_by_id,
    })
}

/// Every grant on the given secrets, each secret's oldest first; any number of ids (they
/// are asked for 500 at a time, within every engine's limit on bound parameters).
pub(crate) async fn grants_on<C: ConnectionTrait>(
    conn: &C,
    secret_ids: &[&str],
) -> StoreResult<Vec<AccessGrant>> {
    let mut out = Vec::new();
    for chunk in secret_ids.chunks(500) {
        let rows = grants::Entity::find()
            .filter(grants::Column::SecretId.is_in(chunk.iter().copied()))
            .order_by_asc(grants::Column::GrantedAt)
            .order_by_asc(grants::Column::Id)
            .all(conn)
            .await?;
        for row in rows {
            out.push(to_grant(row)?);
        }
    }
    Ok(out)
}

impl SecretRepository {
    /// Every grant on the given secrets.
    pub async fn grants_on(&self, secret_ids: &[&str]) -> StoreResult<Vec<AccessGrant>> {
        grants_on(self.database().conn(), secret_ids).await
    }
}

impl WriteTx {
    /// Every grant on a secret, as this transaction sees them.
    pub async fn grants_on(&self, secret_id: &str) -> StoreResult<Vec<AccessGrant>> {
        grants_on(self.txn(), &[secret_id]).await
    }

    /// Creates the grant, or replaces the earlier grant to the same grantee (keeping its id).
    pub async fn upsert_grant(&mut self, grant: &AccessGrant) -> StoreResult<AccessGrant> {
        let existing = grants::Entity::find()
            .filter(grants::Column::SecretId.eq(grant.secret_id.as_str()))
            .filter(grants::Column::GranteeType.eq(grant.grantee_type.as_str()))
            .filter(grants::Column::GranteeId.eq(grant.grantee_id.as_str()))
            .one(self.txn())
            .await?;
        let id = existing
            .map(|e| e.id)
            .unwrap_or_else(|| grant.id.to_string());
        let row = grants::ActiveModel {
            id: Set(id.clone()),
            secret_id: Set(grant.secret_id.to_string()),
            grantee_type: Set(grant.grantee_type.as_str().to_string()),
            grantee_id: Set(grant.grantee_id.clone()),
            can_read: Set(grant.can_read),
            can_update: Set(grant.can_update),
            can_delete: Set(grant.can_delete),
            can_grant: Set(grant.can_grant),
            expires_at: Set(grant.expires_at),
            granted_at: Set(grant.granted_at),
            granted_by_id: Set(grant.granted_by_id.clone()),
        };
        let saved = if id == grant.id {
            row.insert(self.txn()).await?
        } else {
            row.update(self.txn()).await?
        };
        to_grant(saved)
    }

    /// Deletes one grant of a secret; false when there was none with that id.
    pub async fn delete_grant(&mut self, secret_id: &str, grant_id: &str) -> StoreResult<bool> {
        let res = grants::Entity::delete_many()
            .filter(grants::Column::SecretId.eq(secret_id))
            .filter(grants::Column::Id.eq(grant_id))
            .exec(self.txn())
            .await?;
        Ok(res.rows_affected == 1)
    }
}
