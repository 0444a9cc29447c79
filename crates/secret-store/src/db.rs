//! Connecting to the database (SQLite by default, or PostgreSQL) and running migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectOptions, DatabaseConnection};
use secret_migration::{Migrator, MigratorTrait};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::error::{StoreError, StoreResult};

/// Which engine a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// SQLite, the embedded default (WAL, synchronous=FULL).
    Sqlite,
    /// PostgreSQL, the production engine.
    Postgres,
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    pub url: String,
    /// Pool size; SQLite defaults to 8, PostgreSQL to 16.
    pub max_connections: Option<u32>,
    /// How long a SQLite writer waits for the write lock before failing.
    pub busy_timeout: Duration,
}

impl DbConfig {
    /// Settings for `url` with default pool size and timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        DbConfig {
            url: url.into(),
            max_connections: None,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// A connection pool to the service's own database.
#[derive(Clone)]
pub struct Database {
    conn: DatabaseConnection,
    kind: DbKind,
    /// The URL it was opened with (it may hold a password: never printed), for the
    /// connections a pool cannot lend: the change feed's listener.
    url: Arc<str>,
    /// How long a SQLite writer waits for the write lock.
    busy_timeout: Duration,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The settings of every SQLite connection: WAL, `synchronous=FULL`, foreign keys.
fn sqlite_settings(o: SqliteConnectOptions, busy: Duration) -> SqliteConnectOptions {
    o.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(busy)
        .create_if_missing(true)
}

/// Opens one connection as the pool would and checks that its commits are durable.
async fn preflight(kind: DbKind, config: &DbConfig) -> StoreResult<()> {
    use sqlx::{ConnectOptions as _, Connection as _};
    let refused = |e: sqlx::Error| {
        StoreError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
            e.into(),
        )))
    };
    match kind {
        DbKind::Sqlite => {
            let options = SqliteConnectOptions::from_str(&config.url).map_err(refused)?;
            let mut conn = sqlite_settings(options, config.busy_timeout)
                .connect()
                .await
                .map_err(refused)?;
            durable_sqlite(&mut conn).await.map_err(refused)?;
            conn.close().await.map_err(refused)
        }
        DbKind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&config.url)
                .await
                .map_err(refused)?;
            durable_postgres(&mut conn).await.map_err(refused)?;
            conn.close().await.map_err(refused)
        }
    }
}

fn not_durable(what: String) -> sqlx::Error {
    sqlx::Error::Configuration(
        format!("{what}: a commit would not be on disk when it returns, refusing the connection")
            .into(),
    )
}

/// Checks, on every new SQLite connection, that a commit is on disk when it returns: WAL with
/// `synchronous` FULL (or EXTRA). A value is handed over only after its audit record commits,
/// so this is what makes that record survive a crash.
pub async fn durable_sqlite(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await?;
    if synchronous < 2 {
        return Err(not_durable(format!(
            "SQLite synchronous is {synchronous}, not FULL (2)"
        )));
    }
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(not_durable(format!(
            "SQLite journal_mode is {journal}, not WAL"
        )));
    }
    tracing::debug!(
        synchronous = "FULL",
        journal_mode = "WAL",
        "database connection opened"
    );
    Ok(())
}

/// Checks, on every new PostgreSQL connection, that a commit is flushed to the server's WAL
/// before it returns: `fsync` on and `synchronous_commit` not `off` (a role, database or
/// server setting could turn either off behind the service's back).
pub async fn durable_postgres(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut *conn)
        .await?;
    if synchronous_commit.eq_ignore_ascii_case("off") {
        return Err(not_durable(
            "PostgreSQL synchronous_commit is off".to_string(),
        ));
    }
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&mut *conn)
        .await?;
    if !fsync.eq_ignore_ascii_case("on") {
        return Err(not_durable(format!("PostgreSQL fsync is {fsync}")));
    }
    tracing::debug!(
        synchronous_commit = %synchronous_commit,
        fsync = %fsync,
        "database connection opened"
    );
    Ok(())
}

impl Database {
    /// Connects to the database `config.url` names.
    pub async fn connect(config: &DbConfig) -> StoreResult<Self> {
        let kind = if config.url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else if config.url.starts_with("postgres://") || config.url.starts_with("postgresql://") {
            DbKind::Postgres
        } else {
            return Err(secret_core::SecretError::validation(
                "databaseUrl",
                "must start with sqlite: or postgres://",
            )
            .into());
        };
        let mut opts = ConnectOptions::new(config.url.clone());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        match kind {
            DbKind::Sqlite => {
                // Validate the URL here so a typo fails with a clear message.
                SqliteConnectOptions::from_str(&config.url).map_err(|e| {
                    StoreError::Domain(secret_core::SecretError::validation(
                        "databaseUrl",
                        format!("not a valid SQLite URL: {e}"),
                    ))
                })?;
                let busy = config.busy_timeout;
                opts.max_connections(config.max_connections.unwrap_or(8))
                    .map_sqlx_sqlite_opts(move |o| sqlite_settings(o, busy))
                    .map_sqlx_sqlite_pool_opts(|o| {
                        o.after_connect(|conn, _| Box::pin(durable_sqlite(conn)))
                    });
            }
            DbKind::Postgres => {
                opts.max_connections(config.max_connections.unwrap_or(16))
                    .map_sqlx_postgres_pool_opts(|o| {
                        o.after_connect(|conn, _| Box::pin(durable_postgres(conn)))
                    });
            }
        }
        // The pool retries a connection its check refuses until its acquire timeout, which
        // would hide the reason: one connection is checked first, failing at once.
        preflight(kind, config).await?;
        let conn = sea_orm::Database::connect(opts).await?;
        Ok(Database {
            conn,
            kind,
            url: Arc::from(config.url.as_str()),
            busy_timeout: config.busy_timeout,
        })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> StoreResult<()> {
        Migrator::up(&self.conn, None).await?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.conn.ping().await.map_err(StoreError::from)
    }

    /// The engine behind this pool.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// The URL the pool was opened with.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How long a SQLite writer waits for the write lock.
    pub(crate) fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// The PostgreSQL pool under the sea-orm connection, for statements sea-orm cannot
    /// build; `None` on SQLite.
    pub(crate) fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        (self.kind == DbKind::Postgres).then(|| self.conn.get_postgres_connection_pool())
    }

    /// The sea-orm connection, for the store's repositories.
    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Closes the pool.
    pub async fn close(self) -> StoreResult<()> {
        self.conn.close().await.map_err(StoreError::from)
    }
}
