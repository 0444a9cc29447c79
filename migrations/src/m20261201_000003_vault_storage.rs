//! Storage per vault configuration (issue 10): the built-in local configuration `local`
//! (the global default until another is chosen), every existing secret placed in it, the
//! vault's reference on every version (`vault_ref`, beside the existing `vault_version_id`),
//! and `secret_pending_writes`, the record of a write to an external vault between its first
//! transaction and the one that makes it visible (ARCHITECTURE §7).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Secrets {
    Table,
    VaultConfigId,
}

#[derive(DeriveIden, Clone, Copy)]
enum SecretVersions {
    Table,
    VaultRef,
}

#[derive(DeriveIden, Clone, Copy)]
enum VaultConfigurations {
    Table,
    Id,
    Name,
    Description,
    Backend,
    Scope,
    OrganizationId,
    OwnerKey,
    EncryptedConfig,
    ConfigKeyId,
    IsActive,
    IsDefault,
    HealthStatus,
    CreatedAt,
    CreatedById,
    UpdatedAt,
    UpdatedById,
}

#[derive(DeriveIden, Clone, Copy)]
enum SecretPendingWrites {
    Table,
    SecretId,
    Version,
    VaultConfigId,
    Operation,
    VaultRef,
    CreatedAt,
    CreatedById,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let now = chrono::Utc::now();
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(VaultConfigurations::Table)
                    .columns([
                        VaultConfigurations::Id,
                        VaultConfigurations::Name,
                        VaultConfigurations::Description,
                        VaultConfigurations::Backend,
                        VaultConfigurations::Scope,
                        VaultConfigurations::OrganizationId,
                        VaultConfigurations::OwnerKey,
                        VaultConfigurations::EncryptedConfig,
                        VaultConfigurations::ConfigKeyId,
                        VaultConfigurations::IsActive,
                        VaultConfigurations::IsDefault,
                        VaultConfigurations::HealthStatus,
                        VaultConfigurations::CreatedAt,
                        VaultConfigurations::CreatedById,
                        VaultConfigurations::UpdatedAt,
                        VaultConfigurations::UpdatedById,
                    ])
                    .values_panic([
                        "local".into(),
                        "local".into(),
                        "Built-in local encrypted storage".into(),
                        "LOCAL_ENCRYPTED".into(),
                        "GLOBAL".into(),
                        Option::<String>::None.into(),
                        "GLOBAL".into(),
                        Vec::<u8>::new().into(),
                        "".into(),
                        true.into(),
                        true.into(),
                        "UNKNOWN".into(),
                        now.into(),
                        "system".into(),
                        now.into(),
                        "system".into(),
                    ])
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Secrets::Table)
                    .value(Secrets::VaultConfigId, "local")
                    .and_where(Expr::col(Secrets::VaultConfigId).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SecretVersions::Table)
                    .add_column(text_null(SecretVersions::VaultRef))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecretPendingWrites::Table)
                    .col(string_len(SecretPendingWrites::SecretId, 36).primary_key())
                    .col(big_integer(SecretPendingWrites::Version))
                    .col(string_len(SecretPendingWrites::VaultConfigId, 36))
                    .col(string_len(SecretPendingWrites::Operation, 16))
                    .col(text_null(SecretPendingWrites::VaultRef))
                    .col(timestamp_with_time_zone(SecretPendingWrites::CreatedAt))
                    .col(string_len(SecretPendingWrites::CreatedById, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecretPendingWrites::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SecretVersions::Table)
                    .drop_column(SecretVersions::VaultRef)
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(VaultConfigurations::Table)
                    .and_where(Expr::col(VaultConfigurations::Id).eq("local"))
                    .to_owned(),
            )
            .await
    }
}
