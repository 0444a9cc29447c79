//! Shared set-up of the store's integration tests: a fresh database per test (a temporary
//! SQLite file, or a PostgreSQL database with a random name when `DATABASE_URL` points at a
//! PostgreSQL server), raw SQL for tampering behind the store's back, and random master keys.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use secret_core::audit::{AuditEntry, ChainBreak, ExpectedHead, audit_timestamp};
use secret_core::{ActorType, AuditOutcome, SecretAuditEventType};
use secret_crypto::MasterKeyMaterial;
use secret_store::{AuditChainKey, AuditStore, Database, DbConfig};
use sqlx::Connection;

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub url: String,
    dir: Option<PathBuf>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A new empty database on the engine `DATABASE_URL` names (SQLite when unset).
    pub async fn new() -> Self {
        match std::env::var("DATABASE_URL") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("sm_store_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("DATABASE_URL must reach PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let base = admin.split('?').next().unwrap_or(&admin);
                let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
                TestDb {
                    url: format!("{base}/{name}"),
                    dir: None,
                    pg: Some((admin, name)),
                }
            }
            _ => {
                let dir = std::env::temp_dir()
                    .join(format!("sm-store-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.join("secrets.db").display());
                TestDb {
                    url,
                    dir: Some(dir),
                    pg: None,
                }
            }
        }
    }

    /// A migrated connection pool (each call is a separate pool, like another process).
    pub async fn connect(&self) -> Database {
        let db = Database::connect(&DbConfig::new(self.url.clone()))
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        db
    }

    /// Runs one statement behind the store's back; returns the rows affected.
    pub async fn exec(&self, sql: &str) -> u64 {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        if self.pg.is_some() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
    }

    /// The one BIGINT a query returns.
    pub async fn int(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        if self.pg.is_some() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    }

    /// The one text value a query returns.
    pub async fn text(&self, sql: &str) -> String {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        if self.pg.is_some() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    }

    /// The one BLOB a query returns.
    pub async fn blob(&self, sql: &str) -> Vec<u8> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        if self.pg.is_some() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside any runtime guarantee: use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A random raw master key.
pub fn master_key() -> MasterKeyMaterial {
    MasterKeyMaterial::generate_raw().unwrap().0
}

/// An audit entry numbered `n`.
pub fn entry(n: u32) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: SecretAuditEventType::SecretRead,
        event_category: SecretAuditEventType::SecretRead.category(),
        actor_type: ActorType::User,
        actor_id: format!("user-{n}"),
        actor_name: None,
        organization_id: Some("org-1".into()),
        team_id: None,
        project_id: None,
        secret_id: Some(format!("s-{n}")),
        secret_name: Some("API".into()),
        secret_scope: None,
        action: "SECRET_READ".into(),
        details: "{}".into(),
        ip_address: None,
        user_agent: None,
        request_id: None,
        consumer_module: Some("mcp".into()),
        outcome: AuditOutcome::Success,
        error_message: None,
        timestamp: audit_timestamp(chrono::Utc::now()),
    }
}

/// Appends entries numbered `from..=to`, one batch.
pub async fn append(store: &AuditStore, from: u32, to: u32) {
    let entries: Vec<_> = (from..=to).map(entry).collect();
    store.append_batch(&entries, &[]).await.unwrap();
}

/// Walks every record with `key`'s verifier (requiring `expected` when given) and checks the
/// stored head; returns the records checked.
pub async fn verify(
    store: &AuditStore,
    key: &AuditChainKey,
    expected: Option<ExpectedHead>,
) -> Result<u64, ChainBreak> {
    let mut verifier = key.verifier();
    if let Some(expected) = expected {
        verifier = verifier.expect_head(expected);
    }
    for record in store.scan(0, 1_000_000).await.unwrap() {
        verifier.check(&record)?;
    }
    let head = store.head().await.unwrap();
    verifier.finish(head.seq, &head.hash)
}
