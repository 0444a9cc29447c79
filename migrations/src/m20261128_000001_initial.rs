//! The initial schema: the seven tables of the specification plus `crypto_settings`, which
//! holds the installation's KDF salt and the master key's key-check value, and
//! `audit_chain_head`, the last sequence number and hash of the audit hash chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// The `prev_hash` of the first audit record (`secret_core::audit::GENESIS_HASH`).
const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CryptoSettings {
    Table,
    Id,
    Kdf,
    KeyCheck,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EncryptionKeys {
    Table,
    KeyId,
    Version,
    EncryptedKey,
    Algorithm,
    Status,
    RotatedFromId,
    CreatedAt,
    ExpiresAt,
    RetiredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Secrets {
    Table,
    Id,
    Name,
    Description,
    SecretType,
    StorageBackend,
    VaultConfigId,
    VaultPath,
    VaultSecretId,
    Scope,
    OrganizationId,
    TeamId,
    ProjectId,
    UserId,
    OwnerKey,
    ExpiresAt,
    RotationEnabled,
    RotationIntervalDays,
    LastRotatedAt,
    NextRotationAt,
    CurrentVersion,
    DeletedAt,
    DeletedById,
    RecoveryDeadline,
    Tags,
    Metadata,
    Facts,
    Lifecycle,
    ExpiredAt,
    RotationFailures,
    LastRotationError,
    RotationRetryAt,
    RotationClaimedUntil,
    CreatedAt,
    CreatedById,
    UpdatedAt,
    UpdatedById,
}

#[derive(DeriveIden, Clone, Copy)]
enum SecretVersions {
    Table,
    Id,
    SecretId,
    Version,
    EncryptedValue,
    KeyId,
    VaultVersionId,
    ChangeReason,
    IsActive,
    CreatedAt,
    CreatedById,
}

#[derive(DeriveIden, Clone, Copy)]
enum SecretAccessGrants {
    Table,
    Id,
    SecretId,
    GranteeType,
    GranteeId,
    CanRead,
    CanUpdate,
    CanDelete,
    CanGrant,
    ExpiresAt,
    GrantedAt,
    GrantedById,
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
    LastHealthCheck,
    HealthStatus,
    CreatedAt,
    CreatedById,
    UpdatedAt,
    UpdatedById,
}

#[derive(DeriveIden, Clone, Copy)]
enum SecretAuditLogs {
    Table,
    Id,
    EventType,
    EventCategory,
    ActorType,
    ActorId,
    ActorName,
    OrganizationId,
    TeamId,
    ProjectId,
    SecretId,
    SecretName,
    SecretScope,
    Action,
    Details,
    IpAddress,
    UserAgent,
    RequestId,
    ConsumerModule,
    Outcome,
    ErrorMessage,
    Timestamp,
    Seq,
    PrevHash,
    Hash,
}

/// Per secret and consuming module: the last read and the number of reads, kept current by
/// the audit writer so that a secret's usage is read without scanning `secret_usage`.
#[derive(DeriveIden, Clone, Copy)]
enum SecretUsageSummary {
    Table,
    SecretId,
    ConsumerModule,
    LastUsedAt,
    ReadCount,
}

/// Notices already sent, so that each is sent once: per secret, kind, window (days before
/// the due date) and due date (the expiry date, or the rotation date).
#[derive(DeriveIden, Clone, Copy)]
enum SecretNotices {
    Table,
    SecretId,
    Kind,
    WindowDays,
    DueAt,
    SentAt,
}

/// A rotation's new version before it is made current: encrypted for its version number,
/// promoted only if the secret has not moved on meanwhile.
#[derive(DeriveIden, Clone, Copy)]
enum SecretPendingVersions {
    Table,
    SecretId,
    Version,
    KeyId,
    EncryptedValue,
    CreatedAt,
}

/// The end of the audit hash chain: one row, locked by every append.
#[derive(DeriveIden, Clone, Copy)]
enum AuditChainHead {
    Table,
    Id,
    Seq,
    Hash,
}

#[derive(DeriveIden, Clone, Copy)]
enum SecretUsage {
    Table,
    Id,
    SecretId,
    ConsumerModule,
    ConsumerResourceId,
    OrganizationId,
    UserId,
    UsedAt,
}

/// An index named `name` on `table` over `cols`.
fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    name: &str,
    table: T,
    cols: &[C],
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    stmt.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CryptoSettings::Table)
                    .col(integer(CryptoSettings::Id).primary_key())
                    .col(text_null(CryptoSettings::Kdf))
                    .col(blob(CryptoSettings::KeyCheck))
                    .col(timestamp_with_time_zone(CryptoSettings::CreatedAt))
                    .col(timestamp_with_time_zone(CryptoSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EncryptionKeys::Table)
                    .col(string_len(EncryptionKeys::KeyId, 64).primary_key())
                    .col(big_integer_uniq(EncryptionKeys::Version))
                    .col(blob(EncryptionKeys::EncryptedKey))
                    .col(string_len(EncryptionKeys::Algorithm, 32))
                    .col(string_len(EncryptionKeys::Status, 16))
                    .col(string_len_null(EncryptionKeys::RotatedFromId, 64))
                    .col(timestamp_with_time_zone(EncryptionKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(EncryptionKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EncryptionKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Secrets::Table)
                    .col(string_len(Secrets::Id, 36).primary_key())
                    .col(string_len(Secrets::Name, 255))
                    .col(text_null(Secrets::Description))
                    .col(string_len(Secrets::SecretType, 32))
                    .col(string_len(Secrets::StorageBackend, 32))
                    .col(string_len_null(Secrets::VaultConfigId, 36))
                    .col(text_null(Secrets::VaultPath))
                    .col(text_null(Secrets::VaultSecretId))
                    .col(string_len(Secrets::Scope, 16))
                    .col(string_len_null(Secrets::OrganizationId, 128))
                    .col(string_len_null(Secrets::TeamId, 128))
                    .col(string_len_null(Secrets::ProjectId, 128))
                    .col(string_len_null(Secrets::UserId, 128))
                    .col(string_len(Secrets::OwnerKey, 400))
                    .col(timestamp_with_time_zone_null(Secrets::ExpiresAt))
                    .col(boolean(Secrets::RotationEnabled).default(false))
                    .col(integer_null(Secrets::RotationIntervalDays))
                    .col(timestamp_with_time_zone_null(Secrets::LastRotatedAt))
                    .col(timestamp_with_time_zone_null(Secrets::NextRotationAt))
                    .col(big_integer(Secrets::CurrentVersion))
                    .col(timestamp_with_time_zone_null(Secrets::DeletedAt))
                    .col(string_len_null(Secrets::DeletedById, 128))
                    .col(timestamp_with_time_zone_null(Secrets::RecoveryDeadline))
                    .col(text(Secrets::Tags))
                    .col(text(Secrets::Metadata))
                    .col(text(Secrets::Facts))
                    .col(text(Secrets::Lifecycle))
                    .col(timestamp_with_time_zone_null(Secrets::ExpiredAt))
                    .col(integer(Secrets::RotationFailures).default(0))
                    .col(text_null(Secrets::LastRotationError))
                    .col(timestamp_with_time_zone_null(Secrets::RotationRetryAt))
                    .col(timestamp_with_time_zone_null(Secrets::RotationClaimedUntil))
                    .col(timestamp_with_time_zone(Secrets::CreatedAt))
                    .col(string_len(Secrets::CreatedById, 128))
                    .col(timestamp_with_time_zone(Secrets::UpdatedAt))
                    .col(string_len(Secrets::UpdatedById, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_secrets_owner_name",
                    Secrets::Table,
                    &[Secrets::OwnerKey, Secrets::Name],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_secrets_scope_org",
                [Secrets::Scope, Secrets::OrganizationId],
            ),
            ("ix_secrets_scope_team", [Secrets::Scope, Secrets::TeamId]),
            (
                "ix_secrets_scope_project",
                [Secrets::Scope, Secrets::ProjectId],
            ),
            ("ix_secrets_scope_user", [Secrets::Scope, Secrets::UserId]),
        ] {
            manager
                .create_index(index(name, Secrets::Table, &cols))
                .await?;
        }
        for (name, col) in [
            ("ix_secrets_type", Secrets::SecretType),
            ("ix_secrets_expires_at", Secrets::ExpiresAt),
            ("ix_secrets_deleted_at", Secrets::DeletedAt),
            ("ix_secrets_next_rotation_at", Secrets::NextRotationAt),
            ("ix_secrets_name", Secrets::Name),
        ] {
            manager
                .create_index(index(name, Secrets::Table, &[col]))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(SecretVersions::Table)
                    .col(string_len(SecretVersions::Id, 36).primary_key())
                    .col(string_len(SecretVersions::SecretId, 36))
                    .col(big_integer(SecretVersions::Version))
                    .col(blob_null(SecretVersions::EncryptedValue))
                    .col(string_len_null(SecretVersions::KeyId, 64))
                    .col(text_null(SecretVersions::VaultVersionId))
                    .col(text_null(SecretVersions::ChangeReason))
                    .col(boolean(SecretVersions::IsActive).default(true))
                    .col(timestamp_with_time_zone(SecretVersions::CreatedAt))
                    .col(string_len(SecretVersions::CreatedById, 128))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_secret_versions_secret")
                            .from(SecretVersions::Table, SecretVersions::SecretId)
                            .to(Secrets::Table, Secrets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_secret_versions_secret_version",
                    SecretVersions::Table,
                    &[SecretVersions::SecretId, SecretVersions::Version],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_secret_versions_key_id",
                SecretVersions::Table,
                &[SecretVersions::KeyId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SecretAccessGrants::Table)
                    .col(string_len(SecretAccessGrants::Id, 36).primary_key())
                    .col(string_len(SecretAccessGrants::SecretId, 36))
                    .col(string_len(SecretAccessGrants::GranteeType, 8))
                    .col(string_len(SecretAccessGrants::GranteeId, 128))
                    .col(boolean(SecretAccessGrants::CanRead).default(true))
                    .col(boolean(SecretAccessGrants::CanUpdate).default(false))
                    .col(boolean(SecretAccessGrants::CanDelete).default(false))
                    .col(boolean(SecretAccessGrants::CanGrant).default(false))
                    .col(timestamp_with_time_zone_null(SecretAccessGrants::ExpiresAt))
                    .col(timestamp_with_time_zone(SecretAccessGrants::GrantedAt))
                    .col(string_len(SecretAccessGrants::GrantedById, 128))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_secret_access_grants_secret")
                            .from(SecretAccessGrants::Table, SecretAccessGrants::SecretId)
                            .to(Secrets::Table, Secrets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_secret_access_grants_grantee",
                    SecretAccessGrants::Table,
                    &[
                        SecretAccessGrants::SecretId,
                        SecretAccessGrants::GranteeType,
                        SecretAccessGrants::GranteeId,
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_secret_access_grants_grantee",
                SecretAccessGrants::Table,
                &[
                    SecretAccessGrants::GranteeType,
                    SecretAccessGrants::GranteeId,
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VaultConfigurations::Table)
                    .col(string_len(VaultConfigurations::Id, 36).primary_key())
                    .col(string_len(VaultConfigurations::Name, 255))
                    .col(text_null(VaultConfigurations::Description))
                    .col(string_len(VaultConfigurations::Backend, 32))
                    .col(string_len(VaultConfigurations::Scope, 16))
                    .col(string_len_null(VaultConfigurations::OrganizationId, 128))
                    .col(string_len(VaultConfigurations::OwnerKey, 200))
                    .col(blob(VaultConfigurations::EncryptedConfig))
                    .col(string_len(VaultConfigurations::ConfigKeyId, 64))
                    .col(boolean(VaultConfigurations::IsActive).default(true))
                    .col(boolean(VaultConfigurations::IsDefault).default(false))
                    .col(timestamp_with_time_zone_null(
                        VaultConfigurations::LastHealthCheck,
                    ))
                    .col(string_len(VaultConfigurations::HealthStatus, 16))
                    .col(timestamp_with_time_zone(VaultConfigurations::CreatedAt))
                    .col(string_len(VaultConfigurations::CreatedById, 128))
                    .col(timestamp_with_time_zone(VaultConfigurations::UpdatedAt))
                    .col(string_len(VaultConfigurations::UpdatedById, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_vault_configurations_owner_name",
                    VaultConfigurations::Table,
                    &[VaultConfigurations::OwnerKey, VaultConfigurations::Name],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SecretAuditLogs::Table)
                    .col(string_len(SecretAuditLogs::Id, 36).primary_key())
                    .col(big_integer(SecretAuditLogs::Seq))
                    .col(string_len(SecretAuditLogs::PrevHash, 64))
                    .col(string_len(SecretAuditLogs::Hash, 64))
                    .col(string_len(SecretAuditLogs::EventType, 32))
                    .col(string_len(SecretAuditLogs::EventCategory, 16))
                    .col(string_len(SecretAuditLogs::ActorType, 16))
                    .col(string_len(SecretAuditLogs::ActorId, 128))
                    .col(string_len_null(SecretAuditLogs::ActorName, 255))
                    .col(string_len_null(SecretAuditLogs::OrganizationId, 128))
                    .col(string_len_null(SecretAuditLogs::TeamId, 128))
                    .col(string_len_null(SecretAuditLogs::ProjectId, 128))
                    .col(string_len_null(SecretAuditLogs::SecretId, 36))
                    .col(string_len_null(SecretAuditLogs::SecretName, 255))
                    .col(string_len_null(SecretAuditLogs::SecretScope, 16))
                    .col(string_len(SecretAuditLogs::Action, 64))
                    .col(text(SecretAuditLogs::Details))
                    .col(string_len_null(SecretAuditLogs::IpAddress, 64))
                    .col(text_null(SecretAuditLogs::UserAgent))
                    .col(string_len_null(SecretAuditLogs::RequestId, 128))
                    .col(string_len_null(SecretAuditLogs::ConsumerModule, 128))
                    .col(string_len(SecretAuditLogs::Outcome, 16))
                    .col(text_null(SecretAuditLogs::ErrorMessage))
                    .col(timestamp_with_time_zone(SecretAuditLogs::Timestamp))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_secret_audit_logs_seq",
                    SecretAuditLogs::Table,
                    &[SecretAuditLogs::Seq],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditChainHead::Table)
                    .col(integer(AuditChainHead::Id).primary_key())
                    .col(big_integer(AuditChainHead::Seq))
                    .col(string_len(AuditChainHead::Hash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditChainHead::Table)
                    .columns([
                        AuditChainHead::Id,
                        AuditChainHead::Seq,
                        AuditChainHead::Hash,
                    ])
                    .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            (
                "ix_secret_audit_logs_secret_time",
                SecretAuditLogs::SecretId,
            ),
            ("ix_secret_audit_logs_actor_time", SecretAuditLogs::ActorId),
            (
                "ix_secret_audit_logs_org_time",
                SecretAuditLogs::OrganizationId,
            ),
            (
                "ix_secret_audit_logs_event_time",
                SecretAuditLogs::EventType,
            ),
        ] {
            manager
                .create_index(index(
                    name,
                    SecretAuditLogs::Table,
                    &[col, SecretAuditLogs::Timestamp],
                ))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(SecretUsage::Table)
                    .col(string_len(SecretUsage::Id, 36).primary_key())
                    .col(string_len(SecretUsage::SecretId, 36))
                    .col(string_len(SecretUsage::ConsumerModule, 128))
                    .col(string_len_null(SecretUsage::ConsumerResourceId, 255))
                    .col(string_len_null(SecretUsage::OrganizationId, 128))
                    .col(string_len(SecretUsage::UserId, 128))
                    // No foreign key: usage is written in the audit writer's batches, which
                    // must not fail because a secret was purged meanwhile; a permanent
                    // delete removes the secret's usage rows itself.
                    .col(timestamp_with_time_zone(SecretUsage::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_secret_usage_secret_time",
                SecretUsage::Table,
                &[SecretUsage::SecretId, SecretUsage::UsedAt],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecretNotices::Table)
                    .col(string_len(SecretNotices::SecretId, 36))
                    .col(string_len(SecretNotices::Kind, 32))
                    .col(integer(SecretNotices::WindowDays))
                    .col(timestamp_with_time_zone(SecretNotices::DueAt))
                    .col(timestamp_with_time_zone(SecretNotices::SentAt))
                    .primary_key(
                        Index::create()
                            .col(SecretNotices::SecretId)
                            .col(SecretNotices::Kind)
                            .col(SecretNotices::WindowDays)
                            .col(SecretNotices::DueAt),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecretPendingVersions::Table)
                    .col(string_len(SecretPendingVersions::SecretId, 36).primary_key())
                    .col(big_integer(SecretPendingVersions::Version))
                    .col(string_len(SecretPendingVersions::KeyId, 64))
                    .col(blob(SecretPendingVersions::EncryptedValue))
                    .col(timestamp_with_time_zone(SecretPendingVersions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecretUsageSummary::Table)
                    .col(string_len(SecretUsageSummary::SecretId, 36))
                    .col(string_len(SecretUsageSummary::ConsumerModule, 128))
                    .col(timestamp_with_time_zone(SecretUsageSummary::LastUsedAt))
                    .col(big_integer(SecretUsageSummary::ReadCount))
                    .primary_key(
                        Index::create()
                            .col(SecretUsageSummary::SecretId)
                            .col(SecretUsageSummary::ConsumerModule),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SecretPendingVersions::Table.into_iden(),
            SecretNotices::Table.into_iden(),
            SecretUsageSummary::Table.into_iden(),
            SecretUsage::Table.into_iden(),
            AuditChainHead::Table.into_iden(),
            SecretAuditLogs::Table.into_iden(),
            VaultConfigurations::Table.into_iden(),
            SecretAccessGrants::Table.into_iden(),
            SecretVersions::Table.into_iden(),
            Secrets::Table.into_iden(),
            EncryptionKeys::Table.into_iden(),
            CryptoSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
