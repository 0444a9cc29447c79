//! The audit chain key (security finding 5): one row holding the installation's secret key
//! for the HMAC-SHA256 audit chain, wrapped by the key-encryption key like a data key, and
//! `keyed_from_seq`, the sequence number of the first record tagged with it.
//!
//! The table starts empty: the key manager creates the key at its first start after this
//! migration (or at the first start of a new installation), with `keyed_from_seq` one past
//! the chain's head at that moment. Records before it keep their unkeyed SHA-256 hashes.
//! The wrap's associated data binds `key_id` and `keyed_from_seq`, so neither can be edited
//! without the key failing to open.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AuditChainKey {
    Table,
    Id,
    KeyId,
    EncryptedKey,
    KeyedFromSeq,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditChainKey::Table)
                    .col(integer(AuditChainKey::Id).primary_key())
                    .col(string_len(AuditChainKey::KeyId, 64))
                    .col(blob(AuditChainKey::EncryptedKey))
                    .col(big_integer(AuditChainKey::KeyedFromSeq))
                    .col(timestamp_with_time_zone(AuditChainKey::CreatedAt))
                    .col(timestamp_with_time_zone(AuditChainKey::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditChainKey::Table).to_owned())
            .await
    }
}
