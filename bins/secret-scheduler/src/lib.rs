//! The `secret-scheduler` binary's library: the jobs of seed part 2 §8 on their own
//! intervals, or each once (`--once`, for cron). It reads the same settings as
//! `secret-server` (database, master key, data directory, dev mode). On PostgreSQL each
//! job run holds an advisory lock, so several schedulers may run and exactly one acts per
//! job; every job is idempotent and safe to kill at any point.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser};
use secret_api::SecretService;
use secret_lifecycle::jobs::{JobReport, LifecycleConfig, LifecycleJobs};
use secret_lifecycle::notification::{
    FanoutNotifier, LogNotifier, Notifier, WebhookConfig, WebhookNotifier,
};
use secret_lifecycle::rotation::{
    HandlerRegistry, RandomConfig, RandomHandler, WebhookRotationHandler,
};
use secret_startup::{LogFormat, StoreSettings};
use secret_store::JobLock;

/// The secret manager's scheduler.
#[derive(Debug, Parser)]
#[command(name = "secret-scheduler", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: StoreSettings,
    #[command(flatten)]
    pub scheduler: SchedulerSettings,
    /// Log format: human-readable text or JSON lines.
    #[arg(long, env = "SECRETS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The scheduler's own settings.
#[derive(Debug, Clone, Args)]
pub struct SchedulerSettings {
    /// Run every job once and exit (for cron).
    #[arg(long)]
    pub once: bool,
    /// Seconds between expiry runs (notices, then marking expired secrets).
    #[arg(long, env = "SECRETS_EXPIRY_INTERVAL_SECS", default_value_t = 3600)]
    pub expiry_interval_secs: u64,
    /// Seconds between rotation runs.
    #[arg(long, env = "SECRETS_ROTATION_INTERVAL_SECS", default_value_t = 900)]
    pub rotation_interval_secs: u64,
    /// Seconds between version-retention runs.
    #[arg(long, env = "SECRETS_RETENTION_INTERVAL_SECS", default_value_t = 21600)]
    pub retention_interval_secs: u64,
    /// Seconds between purge runs (soft-deleted secrets past recovery).
    #[arg(long, env = "SECRETS_PURGE_INTERVAL_SECS", default_value_t = 3600)]
    pub purge_interval_secs: u64,
    /// Seconds between runs reconciling writes to external vaults left pending by a
    /// stopped process.
    #[arg(long, env = "SECRETS_RECONCILE_INTERVAL_SECS", default_value_t = 300)]
    pub reconcile_interval_secs: u64,
    /// How old a pending write must be before it counts as abandoned.
    #[arg(long, env = "SECRETS_PENDING_WRITE_GRACE_SECS", default_value_t = 600)]
    pub pending_write_grace_secs: u64,
    /// Seconds between runs of the key job: resuming an unfinished re-encryption after a
    /// data-key rotation and retiring the keys it empties.
    #[arg(long, env = "SECRETS_KEYS_INTERVAL_SECS", default_value_t = 600)]
    pub keys_interval_secs: u64,
    /// Seconds between runs removing expired grants.
    #[arg(long, env = "SECRETS_GRANTS_INTERVAL_SECS", default_value_t = 900)]
    pub grants_interval_secs: u64,
    /// Send notifications to this URL (signed JSON POSTs) as well as to the log.
    #[arg(long, env = "SECRETS_NOTIFY_WEBHOOK_URL")]
    pub notify_webhook_url: Option<String>,
    /// The rotation `webhook` handler's endpoint (HTTPS, or http on loopback).
    #[arg(long, env = "SECRETS_ROTATION_WEBHOOK_URL")]
    pub rotation_webhook_url: Option<String>,
    /// The rotation `webhook` handler's test endpoint: receives the new value before it
    /// becomes current and must answer 2xx (HTTPS, or http on loopback).
    #[arg(
        long,
        env = "SECRETS_ROTATION_WEBHOOK_TEST_URL",
        requires = "rotation_webhook_url"
    )]
    pub rotation_webhook_test_url: Option<String>,
    /// File holding the key that signs webhook requests (X-Signature-256).
    #[arg(long, env = "SECRETS_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<std::path::PathBuf>,
    /// How long a rotation claim lasts: a scheduler killed mid-rotation is retried after it.
    #[arg(long, env = "SECRETS_ROTATION_LEASE_SECS", default_value_t = 600)]
    pub rotation_lease_secs: u64,
    /// Write Prometheus metrics of the job runs to this file after each run (the textfile
    /// format node_exporter's textfile collector reads; replaced atomically).
    #[arg(long, env = "SECRETS_SCHEDULER_METRICS_FILE")]
    pub metrics_file: Option<std::path::PathBuf>,
    /// Length of values the `random` rotation handler generates.
    #[arg(long, env = "SECRETS_RANDOM_LENGTH", default_value_t = 40)]
    pub random_length: usize,
}

/// A job: its name and interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Expiry,
    Rotation,
    Retention,
    Purge,
    Grants,
    Reconcile,
    Keys,
}

impl Job {
    /// Every job, in the order `--once` runs them.
    pub const ALL: [Job; 7] = [
        Job::Keys,
        Job::Reconcile,
        Job::Grants,
        Job::Expiry,
        Job::Rotation,
        Job::Retention,
        Job::Purge,
    ];

    /// The job's name in logs and its lock.
    pub fn name(self) -> &'static str {
        match self {
            Job::Expiry => "expiry",
            Job::Rotation => "rotation",
            Job::Retention => "retention",
            Job::Purge => "purge",
            Job::Grants => "grants",
            Job::Reconcile => "reconcile",
            Job::Keys => "keys",
        }
    }

    fn interval(self, s: &SchedulerSettings) -> Duration {
        Duration::from_secs(
            match self {
                Job::Expiry => s.expiry_interval_secs,
                Job::Rotation => s.rotation_interval_secs,
                Job::Retention => s.retention_interval_secs,
                Job::Purge => s.purge_interval_secs,
                Job::Grants => s.grants_interval_secs,
                Job::Reconcile => s.reconcile_interval_secs,
                Job::Keys => s.keys_interval_secs,
            }
            .max(1),
        )
    }
}

/// Counters of one job's runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct JobCounters {
    runs: u64,
    skipped: u64,
    errors: u64,
    examined: u64,
    acted: u64,
    failed: u64,
    last_success_unix: i64,
    last_duration_ms: u64,
}

/// One metric: name, type, help, and how to read it from a job's counters.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&JobCounters) -> i64,
);

/// The scheduler's metrics, written as a Prometheus textfile.
#[derive(Debug, Default)]
pub struct Metrics {
    path: Option<std::path::PathBuf>,
    jobs: std::sync::Mutex<std::collections::BTreeMap<&'static str, JobCounters>>,
}

impl Metrics {
    /// Metrics written to `path` (kept in memory only when `None`).
    pub fn new(path: Option<std::path::PathBuf>) -> Self {
        Metrics {
            path,
            jobs: std::sync::Mutex::default(),
        }
    }

    fn record(&self, job: Job, outcome: &Result<Option<JobReport>>, elapsed: Duration) {
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            let c = jobs.entry(job.name()).or_default();
            match outcome {
                Ok(Some(r)) => {
                    c.runs += 1;
                    c.examined += r.examined;
                    c.acted += r.acted;
                    c.failed += r.failed;
                    c.last_success_unix = chrono::Utc::now().timestamp();
                    c.last_duration_ms = elapsed.as_millis() as u64;
                }
                Ok(None) => c.skipped += 1,
                Err(_) => c.errors += 1,
            }
        }
        if let Err(err) = self.write() {
            tracing::warn!(error = %err, "metrics file not written");
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let series: [Series; 8] = [
            (
                "secret_scheduler_job_runs_total",
                "counter",
                "Completed runs of each job.",
                |c| c.runs as i64,
            ),
            (
                "secret_scheduler_job_skipped_total",
                "counter",
                "Runs skipped because another scheduler held the job's lock.",
                |c| c.skipped as i64,
            ),
            (
                "secret_scheduler_job_errors_total",
                "counter",
                "Runs that ended in an error.",
                |c| c.errors as i64,
            ),
            (
                "secret_scheduler_job_examined_total",
                "counter",
                "Secrets or grants looked at.",
                |c| c.examined as i64,
            ),
            (
                "secret_scheduler_job_actions_total",
                "counter",
                "Actions taken (notices, expiries, rotations, removals).",
                |c| c.acted as i64,
            ),
            (
                "secret_scheduler_job_failed_actions_total",
                "counter",
                "Actions that failed and will be retried.",
                |c| c.failed as i64,
            ),
            (
                "secret_scheduler_job_last_success_timestamp_seconds",
                "gauge",
                "When each job last completed.",
                |c| c.last_success_unix,
            ),
            (
                "secret_scheduler_job_last_duration_milliseconds",
                "gauge",
                "How long each job's last run took.",
                |c| c.last_duration_ms as i64,
            ),
        ];
        for (name, kind, help, value) in series {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (job, c) in jobs.iter() {
                out.push_str(&format!("{name}{{job=\"{job}\"}} {}\n", value(c)));
            }
        }
        out
    }

    fn write(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.render())?;
        std::fs::rename(&tmp, path)
    }
}

/// What the jobs run with.
#[derive(Debug, Clone)]
pub struct Scheduler {
    pub service: SecretService,
    pub notifier: Arc<dyn Notifier>,
    pub handlers: Arc<HandlerRegistry>,
    pub config: LifecycleConfig,
    /// The database URL, for the per-job lock.
    pub database_url: String,
    pub metrics: Arc<Metrics>,
}

impl Scheduler {
    /// Runs one job once under its lock; `None` if another scheduler holds the lock.
    pub async fn run_job(&self, job: Job) -> Result<Option<JobReport>> {
        let started = Instant::now();
        let outcome = self.run_job_locked(job).await;
        self.metrics.record(job, &outcome, started.elapsed());
        outcome
    }

    async fn run_job_locked(&self, job: Job) -> Result<Option<JobReport>> {
        let Some(lock) = JobLock::try_acquire(&self.database_url, job.name())
            .await
            .map_err(|e| anyhow!("taking the {} lock: {e}", job.name()))?
        else {
            tracing::info!(
                job = job.name(),
                "another scheduler is running this job; skipped"
            );
            return Ok(None);
        };
        let started = Instant::now();
        let result = self.run_unlocked(job).await;
        lock.release()
            .await
            .map_err(|e| anyhow!("releasing the {} lock: {e}", job.name()))?;
        let report = result.map_err(|e| anyhow!("{} job: {e}", job.name()))?;
        tracing::info!(
            job = job.name(),
            examined = report.examined,
            acted = report.acted,
            failed = report.failed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "job run finished"
        );
        Ok(Some(report))
    }

    async fn run_unlocked(&self, job: Job) -> Result<JobReport, secret_core::SecretError> {
        let s = &self.service;
        match job {
            Job::Expiry => {
                let a = s.run_expiry_notices(self.notifier.as_ref()).await?;
                let b = s.run_expirations(self.notifier.as_ref()).await?;
                Ok(a.plus(b))
            }
            Job::Rotation => {
                s.run_rotations(&self.handlers, self.notifier.as_ref(), &self.config)
                    .await
            }
            Job::Retention => s.run_retention(&self.config).await,
            Job::Purge => s.run_purge().await,
            Job::Grants => s.run_grant_expiry().await,
            Job::Reconcile => s.run_reconcile(self.config.pending_write_grace).await,
            Job::Keys => s.run_key_maintenance().await,
        }
    }

    /// Runs every job once.
    pub async fn run_once(&self) -> Result<()> {
        let mut failures = Vec::new();
        for job in Job::ALL {
            if let Err(err) = self.run_job(job).await {
                tracing::error!(job = job.name(), error = %err, "job failed");
                failures.push(job.name());
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(anyhow!("jobs failed: {}", failures.join(", ")))
        }
    }

    /// Runs each job on its interval until SIGTERM or SIGINT; a running job finishes first.
    pub async fn run_forever(&self, settings: &SchedulerSettings) -> Result<()> {
        let mut next: Vec<(Job, Instant)> = Job::ALL.iter().map(|j| (*j, Instant::now())).collect();
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            let now = Instant::now();
            for (job, at) in &mut next {
                if *at <= now {
                    if let Err(err) = self.run_job(*job).await {
                        tracing::error!(job = job.name(), error = %err, "job failed; retried at its next interval");
                    }
                    *at = Instant::now() + job.interval(settings);
                }
            }
            let wake = next
                .iter()
                .map(|(_, at)| *at)
                .min()
                .unwrap_or_else(Instant::now);
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                () = &mut shutdown => {
                    tracing::info!("shutting down");
                    return Ok(());
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// A webhook signing key: a key file (read with the rule every key file follows) of at
/// least 32 bytes.
fn read_signing_key(path: &std::path::Path) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let key = secret_startup::read_key_file(path)?;
    if key.len() < 32 {
        return Err(anyhow!(
            "{} holds fewer than 32 bytes; a webhook signing key needs at least 32",
            path.display()
        ));
    }
    Ok(key)
}

/// Builds the scheduler from its settings.
pub async fn build(cli: &Cli) -> Result<Scheduler> {
    let service = secret_startup::open_service(&cli.settings).await?;
    let s = &cli.scheduler;
    let signing_key = s
        .webhook_secret_file
        .as_deref()
        .map(read_signing_key)
        .transpose()?;
    let mut notifiers: Vec<Arc<dyn Notifier>> = vec![Arc::new(LogNotifier)];
    if let Some(url) = &s.notify_webhook_url {
        let key = signing_key
            .as_ref()
            .map(|k| k.to_vec())
            .context("--notify-webhook-url needs --webhook-secret-file")?;
        notifiers.push(Arc::new(
            WebhookNotifier::new(url, key, WebhookConfig::default())
                .map_err(|e| anyhow!("notification webhook: {e}"))?,
        ));
    }
    let mut handlers = HandlerRegistry::new();
    handlers.register(Arc::new(
        RandomHandler::new(RandomConfig {
            length: s.random_length,
            ..RandomConfig::default()
        })
        .map_err(|e| anyhow!("random rotation handler: {e}"))?,
    ));
    if let Some(url) = &s.rotation_webhook_url {
        let key = signing_key
            .as_ref()
            .map(|k| k.to_vec())
            .context("--rotation-webhook-url needs --webhook-secret-file")?;
        let mut handler = WebhookRotationHandler::new(url, key, Duration::from_secs(10))
            .map_err(|e| anyhow!("rotation webhook: {e}"))?;
        if let Some(test_url) = &s.rotation_webhook_test_url {
            handler = handler
                .with_test_url(test_url)
                .map_err(|e| anyhow!("rotation webhook test URL: {e}"))?;
        }
        handlers.register(Arc::new(handler));
    }
    Ok(Scheduler {
        service,
        notifier: Arc::new(FanoutNotifier::new(notifiers)),
        handlers: Arc::new(handlers),
        config: LifecycleConfig {
            rotation_lease: chrono::Duration::seconds(
                i64::try_from(s.rotation_lease_secs.max(1)).unwrap_or(600),
            ),
            pending_write_grace: chrono::Duration::seconds(
                i64::try_from(s.pending_write_grace_secs.max(1)).unwrap_or(600),
            ),
            ..LifecycleConfig::default()
        },
        database_url: cli.settings.database_url(),
        metrics: Arc::new(Metrics::new(s.metrics_file.clone())),
    })
}

/// Runs the scheduler as the command line asks.
pub fn run(cli: Cli) -> Result<()> {
    let runtime = secret_startup::runtime()?;
    runtime.block_on(async {
        let scheduler = build(&cli).await?;
        if cli.scheduler.once {
            scheduler.run_once().await
        } else {
            scheduler.run_forever(&cli.scheduler).await
        }
    })
}
