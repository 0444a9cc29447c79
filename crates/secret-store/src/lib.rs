//! Persistence of the secret manager: sea-orm entities and migrations for every table,
//! repositories, the key manager of the envelope encryption, and the storage backends.
//! This is the only crate that knows SQL exists.

pub mod audit;
pub mod backend;
pub mod chain_key;
pub mod changes;
pub mod db;
pub mod entity;
pub mod error;
pub mod grants;
pub mod joblock;
pub mod keys;
pub mod lifecycle;
pub mod migration_jobs;
pub mod secrets;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vaults;

pub use audit::{AccessCount, AuditFilter, AuditStore, ChainHead, NewUsage, UsageSummary};
#[cfg(feature = "aws-secrets-manager")]
pub use backend::AwsSecretsManagerBackend;
#[cfg(feature = "hashicorp-vault")]
pub use backend::HashicorpVaultBackend;
#[cfg(feature = "azure-key-vault")]
pub use backend::{AzureKeyVaultBackend, MAX_AZURE_VALUE_BYTES};
pub use backend::{
    BackendHealth, BackendRegistry, LocalEncryptedBackend, StorageBackend, StoredValue, ValueTarget,
};
#[cfg(feature = "gcp-secret-manager")]
pub use backend::{GCP_EXPIRY_ANNOTATION, GcpSecretManagerBackend};
pub use chain_key::{AuditChainKey, ChainKeyError};
pub use changes::{Change, ChangeFeed, FeedEvent, Published};
pub use db::{Database, DbConfig, DbKind};
pub use error::{StoreError, StoreResult};
pub use joblock::JobLock;
pub use keys::{KeyInfo, KeyManager, ReencryptProgress};
pub use lifecycle::{JobScan, Notice};
pub use migration_jobs::{MigrationJobs, MigrationProgress, MigrationRow};
pub use secrets::{
    MetadataChange, NewSecret, NewVersion, OwnerIds, PendingOperation, PendingWrite, SecretFilter,
    SecretRecord, SecretRepository, SoftDeletion, StagedWrite, VaultMove, VaultSecrets,
    VersionAdvance, VersionRecord, WriteTx, owner_key,
};
pub use vaults::{NewVault, VaultChange, VaultRecord, VaultRepository, VaultVisibility};
