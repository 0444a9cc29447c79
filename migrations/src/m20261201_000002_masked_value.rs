//! The masked display of a secret's current value (security finding 6): kept encrypted on
//! the secret's row, so a listing shows `maskedValue` without fetching or decrypting any
//! value. `masked_key_id` names the data key; the blob's associated data binds the secret id,
//! the current version and the key id under its own domain label, so it can never be
//! swapped with a value's ciphertext. Existing secrets get theirs at their next new version.
//! SQLite's ALTER TABLE adds one column per statement.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Secrets {
    Table,
    MaskedKeyId,
    MaskedValue,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Secrets::Table)
                    .add_column(string_len_null(Secrets::MaskedKeyId, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Secrets::Table)
                    .add_column(blob_null(Secrets::MaskedValue))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Secrets::MaskedValue, Secrets::MaskedKeyId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Secrets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
