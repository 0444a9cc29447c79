//! Migrations between vault configurations (issue 12): one row per migration with its
//! request, its state and counts, where it has got to (the last secret finished, the one
//! being copied) and the lease of the server running it, so that a migration interrupted by
//! a crash is resumed by the next server to start, exactly once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SecretMigrations {
    Table,
    Id,
    State,
    SourceVaultId,
    TargetVaultId,
    Options,
    Total,
    Migrated,
    Failed,
    Skipped,
    Errors,
    Cursor,
    InFlight,
    EstimatedDurationMs,
    CreatedAt,
    CreatedById,
    StartedAt,
    FinishedAt,
    UpdatedAt,
    LeaseOwner,
    LeaseUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use SecretMigrations as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(string_len(M::Id, 36).primary_key())
                    .col(string_len(M::State, 16))
                    .col(string_len(M::SourceVaultId, 36))
                    .col(string_len(M::TargetVaultId, 36))
                    .col(text(M::Options))
                    .col(big_integer(M::Total))
                    .col(big_integer(M::Migrated))
                    .col(big_integer(M::Failed))
                    .col(big_integer(M::Skipped))
                    .col(text(M::Errors))
                    .col(string_len_null(M::Cursor, 36))
                    .col(string_len_null(M::InFlight, 36))
                    .col(big_integer(M::EstimatedDurationMs))
                    .col(timestamp_with_time_zone(M::CreatedAt))
                    .col(string_len(M::CreatedById, 128))
                    .col(timestamp_with_time_zone_null(M::StartedAt))
                    .col(timestamp_with_time_zone_null(M::FinishedAt))
                    .col(timestamp_with_time_zone(M::UpdatedAt))
                    .col(string_len_null(M::LeaseOwner, 36))
                    .col(timestamp_with_time_zone_null(M::LeaseUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_secret_migrations_state")
                    .table(M::Table)
                    .col(M::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecretMigrations::Table).to_owned())
            .await
    }
}
