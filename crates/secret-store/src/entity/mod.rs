//! sea-orm entities, one module per table. Columns follow part 1's tables; enums are stored
//! as their wire spelling and JSON fields as text so both SQLite and PostgreSQL read them alike.

pub mod audit_chain_head;
pub mod audit_chain_key;
pub mod crypto_settings;
pub mod encryption_keys;
pub mod secret_access_grants;
pub mod secret_audit_logs;
pub mod secret_migrations;
pub mod secret_notices;
pub mod secret_pending_versions;
pub mod secret_pending_writes;
pub mod secret_usage;
pub mod secret_usage_summary;
pub mod secret_versions;
pub mod secrets;
pub mod vault_configurations;
