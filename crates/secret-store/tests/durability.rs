//! The durability settings every connection is checked for as it opens (issue 14): a value
//! is handed over only after its audit record commits, so a commit must be on disk when it
//! returns. On SQLite the pool sets WAL and `synchronous=FULL` itself; on PostgreSQL a
//! database, role or server setting could turn `synchronous_commit` off behind the
//! service's back, and the connection is then refused with a message that says so.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestDb;
use secret_store::db::{durable_postgres, durable_sqlite};
use secret_store::{Database, DbConfig};
use sqlx::Connection;

#[tokio::test]
async fn connections_open_when_commits_are_durable() {
    let t = TestDb::new().await;
    let db = Database::connect(&DbConfig::new(t.url.clone()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
}

#[tokio::test]
async fn a_sqlite_connection_is_durable_only_with_wal_and_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    // A fresh connection: rollback journal, synchronous FULL.
    let err = durable_sqlite(&mut conn).await.unwrap_err().to_string();
    assert!(err.contains("journal_mode is delete"), "{err}");
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut conn)
        .await
        .unwrap();
    durable_sqlite(&mut conn).await.unwrap();
    sqlx::query("PRAGMA synchronous = NORMAL")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = durable_sqlite(&mut conn).await.unwrap_err().to_string();
    assert!(err.contains("synchronous is 1, not FULL"), "{err}");
    assert!(err.contains("refusing the connection"), "{err}");
}

#[tokio::test]
async fn a_postgres_connection_with_synchronous_commit_off_is_refused() {
    let Ok(admin) = std::env::var("DATABASE_URL") else {
        // Without PostgreSQL only the SQLite half runs (CI runs the suite on both).
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    durable_postgres(&mut conn).await.unwrap();
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = durable_postgres(&mut conn).await.unwrap_err().to_string();
    assert!(err.contains("synchronous_commit is off"), "{err}");
}

#[tokio::test]
async fn a_postgres_database_with_synchronous_commit_off_is_refused() {
    let t = TestDb::new().await;
    if !t.url.starts_with("postgres") {
        // Without PostgreSQL only the SQLite half runs (CI runs the suite on both).
        return;
    }
    let name = t.url.rsplit('/').next().unwrap().to_string();
    let mut conn = sqlx::PgConnection::connect(&t.url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let err = Database::connect(&DbConfig::new(t.url.clone()))
        .await
        .expect_err("a connection whose commits are not durable must be refused");
    let message = err.to_string();
    assert!(
        message.contains("synchronous_commit is off"),
        "the error names the setting: {message}"
    );
}
