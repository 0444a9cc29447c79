//! One lock per scheduler job, so that of several schedulers sharing a PostgreSQL database
//! exactly one runs a given job at a time: a session advisory lock held on a connection
//! of its own for the job's duration (released when the job ends, or by PostgreSQL when
//! the process dies). SQLite has one scheduler by construction; its lock always succeeds.

use sqlx::Connection;

use crate::error::{StoreError, StoreResult};

/// A held job lock; release it with [`JobLock::release`].
#[derive(Debug)]
pub struct JobLock {
    pg: Option<(sqlx::PgConnection, i64)>,
}

/// The advisory lock key of a job: a stable 64-bit hash of its name.
fn lock_key(job: &str) -> i64 {
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"secret-scheduler:".iter().chain(job.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Db(sea_orm::DbErr::Custom(format!("job lock: {e}")))
}

impl JobLock {
    /// Takes the lock of `job` on the database at `url`; `None` if another scheduler
    /// holds it.
    pub async fn try_acquire(url: &str, job: &str) -> StoreResult<Option<JobLock>> {
        if !url.starts_with("postgres") {
            return Ok(Some(JobLock { pg: None }));
        }
        let mut conn = sqlx::PgConnection::connect(url).await.map_err(db_err)?;
        let key = lock_key(job);
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await
            .map_err(db_err)?;
        if !held {
            let _ = conn.close().await;
            return Ok(None);
        }
        Ok(Some(JobLock {
            pg: Some((conn, key)),
        }))
    }

    /// Releases the lock.
    pub async fn release(self) -> StoreResult<()> {
        if let Some((mut conn, key)) = self.pg {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut conn)
                .await
                .map_err(db_err)?;
            let _ = conn.close().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(lock_key("rotation"), lock_key("rotation"));
        assert_ne!(lock_key("rotation"), lock_key("expiry"));
    }
}
