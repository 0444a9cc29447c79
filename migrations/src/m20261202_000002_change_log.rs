//! The change log of issue 13: on SQLite, where there is no LISTEN/NOTIFY, every write to a
//! secret, a vault configuration or the key ring appends one row in its own transaction,
//! and every process sharing the file polls the rows past the last one it has seen, so that
//! no process keeps serving what another has changed. Rows are kept for an hour. PostgreSQL
//! carries the same changes as notifications and leaves this table empty.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SecretChanges {
    Table,
    Seq,
    Payload,
    CreatedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use SecretChanges as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(big_pk_auto(C::Seq))
                    .col(text(C::Payload))
                    .col(big_integer(C::CreatedAtMs))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecretChanges::Table).to_owned())
            .await
    }
}
