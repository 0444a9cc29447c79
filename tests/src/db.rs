//! Shared set-up of the integration tests: a fresh database per test (a temporary SQLite
//! file, or a PostgreSQL database with a random name when `DATABASE_URL` points at a
//! PostgreSQL server), real migrations, and a service with a random master key.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use secret_api::{MasterKeyMaterial, SecretService};
use secret_core::{
    Clock, ManualClock, OrgRole, Principal, ProjectRole, SecretContext, SystemClock, TeamRole,
};
use secret_store::{Database, DbConfig};
use sqlx::Connection;

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: String,
    pub sqlite_path: Option<std::path::PathBuf>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A new empty database on the engine `DATABASE_URL` names (SQLite when unset).
    pub async fn new() -> Self {
        match std::env::var("DATABASE_URL") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("sm_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("DATABASE_URL must reach PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let url = replace_db_name(&admin, &name);
                TestDb {
                    url,
                    sqlite_path: None,
                    _dir: None,
                    pg: Some((admin, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("secrets.db");
                let url = format!("sqlite://{}?mode=rwc", path.display());
                TestDb {
                    url,
                    sqlite_path: Some(path),
                    _dir: Some(dir),
                    pg: None,
                }
            }
        }
    }

    /// Whether this database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// A migrated connection pool.
    pub async fn connect(&self) -> Database {
        let db = Database::connect(&DbConfig::new(self.url.clone()))
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        db
    }

    /// A raw sqlx connection, for tests that tamper with rows behind the service's back.
    pub async fn raw(&self) -> RawConn {
        if self.is_postgres() {
            RawConn::Pg(
                sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("raw pg"),
            )
        } else {
            RawConn::Sqlite(
                sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("raw sqlite"),
            )
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
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

/// A raw connection to the test database.
pub enum RawConn {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl RawConn {
    /// A raw connection to the database `url` names (PostgreSQL or SQLite).
    pub async fn connect(url: &str) -> RawConn {
        if url.starts_with("postgres") {
            RawConn::Pg(sqlx::PgConnection::connect(url).await.expect("raw pg"))
        } else {
            RawConn::Sqlite(
                sqlx::SqliteConnection::connect(url)
                    .await
                    .expect("raw sqlite"),
            )
        }
    }

    /// The first column of every row, as text (no binds).
    pub async fn texts(&mut self, sql: &str) -> Vec<String> {
        use sqlx::Row;
        let sql = || sqlx::AssertSqlSafe(sql.to_string());
        match self {
            RawConn::Pg(c) => (sqlx::query(sql()).fetch_all(&mut *c).await.expect("texts"))
                .iter()
                .map(|r| r.get(0))
                .collect(),
            RawConn::Sqlite(c) => (sqlx::query(sql()).fetch_all(&mut *c).await.expect("texts"))
                .iter()
                .map(|r| r.get(0))
                .collect(),
        }
    }

    /// Runs a statement with `$1`-style placeholders (rewritten to `?` for SQLite) and
    /// returns the rows affected.
    pub async fn exec(&mut self, sql: &str, binds: &[RawValue]) -> u64 {
        match self {
            RawConn::Pg(c) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
                for b in binds {
                    q = match b {
                        RawValue::Text(s) => q.bind(s.clone()),
                        RawValue::Int(i) => q.bind(*i),
                        RawValue::Bytes(v) => q.bind(v.clone()),
                    };
                }
                q.execute(&mut *c).await.expect("raw exec").rows_affected()
            }
            RawConn::Sqlite(c) => {
                let sql = sqlite_placeholders(sql);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in binds {
                    q = match b {
                        RawValue::Text(s) => q.bind(s.clone()),
                        RawValue::Int(i) => q.bind(*i),
                        RawValue::Bytes(v) => q.bind(v.clone()),
                    };
                }
                q.execute(&mut *c).await.expect("raw exec").rows_affected()
            }
        }
    }

    /// Fetches one blob column.
    pub async fn fetch_bytes(&mut self, sql: &str, binds: &[RawValue]) -> Vec<u8> {
        use sqlx::Row;
        match self {
            RawConn::Pg(c) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
                for b in binds {
                    q = match b {
                        RawValue::Text(s) => q.bind(s.clone()),
                        RawValue::Int(i) => q.bind(*i),
                        RawValue::Bytes(v) => q.bind(v.clone()),
                    };
                }
                q.fetch_one(&mut *c)
                    .await
                    .expect("raw fetch")
                    .get::<Vec<u8>, _>(0)
            }
            RawConn::Sqlite(c) => {
                let sql = sqlite_placeholders(sql);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in binds {
                    q = match b {
                        RawValue::Text(s) => q.bind(s.clone()),
                        RawValue::Int(i) => q.bind(*i),
                        RawValue::Bytes(v) => q.bind(v.clone()),
                    };
                }
                q.fetch_one(&mut *c)
                    .await
                    .expect("raw fetch")
                    .get::<Vec<u8>, _>(0)
            }
        }
    }

    /// Fetches one text column of the first row (no binds).
    pub async fn text(&mut self, sql: &str) -> String {
        use sqlx::Row;
        match self {
            RawConn::Pg(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut *c)
                .await
                .expect("text")
                .get(0),
            RawConn::Sqlite(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut *c)
                .await
                .expect("text")
                .get(0),
        }
    }

    /// Counts rows.
    pub async fn count(&mut self, sql: &str) -> i64 {
        use sqlx::Row;
        match self {
            RawConn::Pg(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut *c)
                .await
                .expect("count")
                .get(0),
            RawConn::Sqlite(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut *c)
                .await
                .expect("count")
                .get(0),
        }
    }
}

fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// A bound value of a raw statement.
pub enum RawValue {
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

/// A random raw master key.
pub fn random_master_key() -> (MasterKeyMaterial, String) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random");
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    (MasterKeyMaterial::parse(&b64).expect("raw key"), b64)
}

/// A fixed instant tests start from.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// A service over a fresh database, on the system clock.
pub struct TestService {
    pub db: TestDb,
    pub service: SecretService,
    pub master_key: String,
}

impl TestService {
    pub async fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock)).await
    }

    pub async fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let db = TestDb::new().await;
        let (material, b64) = random_master_key();
        let service = SecretService::open(db.connect().await, &material, clock)
            .await
            .expect("open");
        TestService {
            db,
            service,
            master_key: b64,
        }
    }

    /// A service on a manual clock set to `t0()`.
    pub async fn with_manual_clock() -> (Self, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(t0()));
        (Self::with_clock(clock.clone()).await, clock)
    }
}

/// A caller administering org-1 (and leading team-1, administering project-1), working in
/// org-1 / team-1 / project-1, authenticated just now.
pub fn ctx() -> SecretContext {
    admin_ctx("user-1", "org-1", "team-1", "project-1")
}

/// A caller administering `org`, leading `team` and administering `project`.
pub fn admin_ctx(user: &str, org: &str, team: &str, project: &str) -> SecretContext {
    let principal = Principal::user(user)
        .with_org(org, OrgRole::Admin)
        .with_team(team, "org-1", TeamRole::Lead)
        .with_project(project, "org-1", None, ProjectRole::Admin)
        .authenticated_at(Utc::now());
    SecretContext::new(principal, "tests")
        .in_organization(org)
        .in_team(team)
        .in_project(project)
}

/// A super admin, authenticated just now.
pub fn super_ctx() -> SecretContext {
    SecretContext::new(
        Principal::user("root")
            .as_super_admin()
            .authenticated_at(Utc::now()),
        "tests",
    )
}

/// A caller with the given principal, in no particular organization.
pub fn ctx_of(principal: Principal) -> SecretContext {
    SecretContext::new(principal, "tests")
}

/// An API_KEY value.
pub fn api_key(key: &str) -> secret_core::SecretValue {
    secret_core::SecretValue::new(secret_core::AnySecretValue::ApiKey(
        secret_core::value::ApiKeySecret {
            key: key.to_string(),
        },
    ))
}

/// The key of an API_KEY value, or the value of a GENERIC one.
pub fn key_of(v: &secret_core::SecretValue) -> String {
    match v.expose_secret() {
        secret_core::AnySecretValue::ApiKey(k) => k.key.clone(),
        secret_core::AnySecretValue::Generic(g) => g.value.clone(),
        other => panic!("unexpected value type {:?}", other.secret_type()),
    }
}
