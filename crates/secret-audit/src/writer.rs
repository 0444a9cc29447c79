//! The durable audit writer with group commit.
//!
//! Callers hand over their entries (and a value read's usage row) and wait until they are
//! committed. One task owns the writing: it takes everything queued, up to a batch limit,
//! appends it to the chain in one transaction with one multi-row insert, and answers every
//! caller of that batch. While a batch commits, the next one gathers, so under load many
//! requests share one commit and each waits only for its own batch.
//!
//! When a batch fails, its jobs are retried one at a time so that one bad job does not
//! fail its neighbours; a job that still fails gets the error and its caller fails (no
//! audit, no answer). A caller that stops waiting does not stop its job from being written.

use secret_core::SecretError;
use secret_core::audit::AuditEntry;
use secret_store::{AuditStore, NewUsage};
use tokio::sync::{mpsc, oneshot};

/// Tuning of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// Most jobs committed in one transaction.
    pub max_batch: usize,
    /// Jobs that may wait before callers are held back.
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch: 512,
            queue: 8192,
        }
    }
}

struct Job {
    entries: Vec<AuditEntry>,
    usages: Vec<NewUsage>,
    done: oneshot::Sender<Result<(), String>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    jobs: mpsc::Sender<Job>,
}

fn stopped() -> SecretError {
    SecretError::internal("the audit writer has stopped")
}

impl AuditWriter {
    /// Starts the writer task on the current Tokio runtime, which must outlive the writer.
    pub fn start(store: AuditStore, config: WriterConfig) -> Self {
        let (jobs, rx) = mpsc::channel(config.queue.max(1));
        tokio::spawn(run(store, rx, config.max_batch.max(1)));
        AuditWriter { jobs }
    }

    /// Writes `entries` and `usages` durably; returns once they are committed.
    pub async fn write(
        &self,
        entries: Vec<AuditEntry>,
        usages: Vec<NewUsage>,
    ) -> Result<(), SecretError> {
        if entries.is_empty() && usages.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job {
                entries,
                usages,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(cause)) => Err(SecretError::internal(format!(
                "the audit record could not be written: {cause}"
            ))),
            Err(_) => Err(stopped()),
        }
    }
}

async fn run(store: AuditStore, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        commit(&store, std::mem::take(&mut batch)).await;
    }
}

async fn commit(store: &AuditStore, batch: Vec<Job>) {
    let entries: Vec<AuditEntry> = batch.iter().flat_map(|j| j.entries.clone()).collect();
    let usages: Vec<NewUsage> = batch.iter().flat_map(|j| j.usages.clone()).collect();
    let started = std::time::Instant::now();
    match store.append_batch(&entries, &usages).await {
        Ok(()) => {
            tracing::debug!(
                jobs = batch.len(),
                records = entries.len(),
                micros = started.elapsed().as_micros() as u64,
                "audit batch committed"
            );
            for job in batch {
                let _ = job.done.send(Ok(()));
            }
        }
        Err(err) if batch.len() == 1 => {
            tracing::error!(error = %err, "audit record could not be written");
            for job in batch {
                let _ = job.done.send(Err(err.to_string()));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, jobs = batch.len(), "audit batch failed; retrying its jobs one by one");
            for job in batch {
                let result = store
                    .append_batch(&job.entries, &job.usages)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "audit record could not be written");
                        e.to_string()
                    });
                let _ = job.done.send(result);
            }
        }
    }
}
