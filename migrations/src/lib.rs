//! Database migrations of the secret manager. The same migrations run on SQLite and
//! PostgreSQL; both binaries run them at start and `secret-server migrate` runs them alone.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_initial;
mod m20261201_000001_audit_chain_key;
mod m20261201_000002_masked_value;
mod m20261201_000003_vault_storage;
mod m20261202_000001_vault_migrations;
mod m20261202_000002_change_log;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::Migration),
            Box::new(m20261201_000001_audit_chain_key::Migration),
            Box::new(m20261201_000002_masked_value::Migration),
            Box::new(m20261201_000003_vault_storage::Migration),
            Box::new(m20261202_000001_vault_migrations::Migration),
            Box::new(m20261202_000002_change_log::Migration),
        ]
    }
}
