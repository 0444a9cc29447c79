//! The scheduler's jobs on a real database with an injected clock (SQLite by default,
//! PostgreSQL when `DATABASE_URL` points at one): expiry notices once per window, expiry,
//! automatic rotation (success, handler failure and retry, test-step failure, concurrent
//! attempts), reminders, retention, purge and expired grants.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use secret_api::{
    CreateSecretParams, ErrorCode, GrantAccessParams, SecretScope, SecretValue, UpdateValueParams,
};
use secret_core::model::LifecycleSettings;
use secret_core::{
    ActorType, AuditOutcome, GranteeType, RotationStrategy, SecretAuditEventType as E, SecretError,
};
use secret_lifecycle::jobs::{LifecycleConfig, LifecycleJobs};
use secret_lifecycle::notification::{Notification, NotificationKind, Notifier, NotifyError};
use secret_lifecycle::rotation::{
    HandlerRegistry, RandomConfig, RandomHandler, RotationHandler, RotationSubject,
};
use secret_testkit::*;

/// Keeps every notification it is given.
#[derive(Debug, Default)]
struct Inbox(Mutex<Vec<Notification>>);

#[async_trait]
impl Notifier for Inbox {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(n.clone());
        Ok(())
    }
}

impl Inbox {
    fn kinds(&self) -> Vec<NotificationKind> {
        self.0.lock().unwrap().iter().map(|n| n.kind).collect()
    }
}

/// A handler whose steps fail on demand and count their calls.
#[derive(Debug, Default)]
struct Scripted {
    fail_rotate: std::sync::atomic::AtomicBool,
    fail_test: std::sync::atomic::AtomicBool,
    rotations: AtomicUsize,
    delay_ms: u64,
}

#[async_trait]
impl RotationHandler for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn rotate(
        &self,
        _s: &RotationSubject,
        _current: &SecretValue,
    ) -> Result<SecretValue, SecretError> {
        let n = self.rotations.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
        if self.fail_rotate.load(Ordering::SeqCst) {
            return Err(SecretError::RotationFailed {
                reason: "the provider refused".into(),
            });
        }
        Ok(api_key(&format!("sk-rotated-{n:04}-0123456789")))
    }
    async fn test(&self, _s: &RotationSubject, _new: &SecretValue) -> Result<(), SecretError> {
        if self.fail_test.load(Ordering::SeqCst) {
            return Err(SecretError::RotationFailed {
                reason: "the new key was rejected".into(),
            });
        }
        Ok(())
    }
}

fn automatic(name: &str, handler: &str) -> CreateSecretParams {
    let mut p = CreateSecretParams::new(
        name,
        SecretScope::Organization,
        api_key("sk-original-0123456789"),
    );
    p.rotation_enabled = true;
    p.rotation_interval_days = Some(30);
    p.lifecycle = LifecycleSettings {
        rotation_strategy: RotationStrategy::Automatic,
        rotation_handler: Some(handler.to_string()),
        notification_recipients: vec!["ops@example.com".into()],
        ..LifecycleSettings::default()
    };
    p
}

fn registry(scripted: Arc<Scripted>) -> HandlerRegistry {
    let mut r = HandlerRegistry::new();
    r.register(Arc::new(
        RandomHandler::new(RandomConfig::default()).unwrap(),
    ));
    r.register(scripted);
    r
}

async fn audit_rows(t: &TestService, event: E) -> Vec<secret_core::audit::AuditRecord> {
    t.service
        .audit_records_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.event_type == event)
        .collect()
}

#[tokio::test]
async fn each_expiry_notice_window_fires_exactly_once() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let mut p = CreateSecretParams::new(
        "CERT_LIKE",
        SecretScope::Organization,
        api_key("sk-exp-0123456789"),
    );
    p.expires_at = Some(t0() + Duration::days(40));
    let id = t.service.create_secret(p, &ctx()).await.unwrap().id;

    assert_eq!(t.service.run_expiry_notices(&inbox).await.unwrap().acted, 0);
    clock.set(t0() + Duration::days(10)); // 30 days left
    assert_eq!(t.service.run_expiry_notices(&inbox).await.unwrap().acted, 1);
    assert_eq!(
        t.service.run_expiry_notices(&inbox).await.unwrap().acted,
        0,
        "never twice"
    );
    clock.set(t0() + Duration::days(27)); // 13 days left
    assert_eq!(t.service.run_expiry_notices(&inbox).await.unwrap().acted, 1);
    // The scheduler was down from day 27 to 12 hours before expiry: one notice, not two.
    clock.set(t0() + Duration::days(40) - Duration::hours(12));
    assert_eq!(t.service.run_expiry_notices(&inbox).await.unwrap().acted, 1);
    assert_eq!(t.service.run_expiry_notices(&inbox).await.unwrap().acted, 0);

    let sent = inbox.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|n| n.kind == NotificationKind::SecretExpiringSoon && n.secret_id == id)
    );
    let records = audit_rows(&t, E::SecretExpiringSoon).await;
    assert_eq!(records.len(), 3);
    let windows: Vec<i64> = records
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.entry.details).unwrap()["window"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(windows, vec![30, 14, 1]);
    assert!(
        records
            .iter()
            .all(|r| r.entry.actor_type == ActorType::Scheduler)
    );
}

#[tokio::test]
async fn expiry_marks_the_secret_and_blocks_reads_until_a_new_value() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let mut p = CreateSecretParams::new(
        "SHORT_LIVED",
        SecretScope::Organization,
        api_key("sk-short-0123456789"),
    );
    p.expires_at = Some(t0() + Duration::days(1));
    let id = t.service.create_secret(p, &ctx()).await.unwrap().id;
    clock.set(t0() + Duration::days(2));
    let err = t.service.get_secret(&id, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretExpired);

    assert_eq!(t.service.run_expirations(&inbox).await.unwrap().acted, 1);
    assert_eq!(
        t.service.run_expirations(&inbox).await.unwrap().acted,
        0,
        "marked once"
    );
    let meta = t.service.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!(meta.expired_at, Some(t0() + Duration::days(2)));
    assert_eq!(inbox.kinds(), vec![NotificationKind::SecretExpired]);
    assert_eq!(audit_rows(&t, E::SecretExpired).await.len(), 1);
    assert_eq!(
        t.service.get_secret(&id, &ctx()).await.unwrap_err().code(),
        ErrorCode::SecretExpired
    );

    // A new value ends the expiry.
    t.service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-renewed-0123456789"),
                change_reason: Some("renewed".into()),
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(
        key_of(&t.service.get_secret(&id, &ctx()).await.unwrap()),
        "sk-renewed-0123456789"
    );
    let meta = t.service.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!((meta.expired_at, meta.expires_at), (None, None));
}

#[tokio::test]
async fn automatic_rotation_replaces_the_value_and_records_it() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let handlers = registry(Arc::new(Scripted::default()));
    let id = t
        .service
        .create_secret(automatic("ROTATED", "random"), &ctx())
        .await
        .unwrap()
        .id;
    let config = LifecycleConfig::default();

    clock.set(t0() + Duration::days(29));
    assert_eq!(
        t.service
            .run_rotations(&handlers, &inbox, &config)
            .await
            .unwrap()
            .examined,
        0,
        "not due yet"
    );
    clock.set(t0() + Duration::days(31));
    let report = t
        .service
        .run_rotations(&handlers, &inbox, &config)
        .await
        .unwrap();
    assert_eq!((report.acted, report.failed), (1, 0));

    let value = t.service.get_secret_value(&id, &ctx()).await.unwrap();
    assert_eq!(value.version, 2);
    let key = key_of(&value.value);
    assert_ne!(key, "sk-original-0123456789");
    assert_eq!(key.len(), 40);
    let meta = t.service.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!(meta.last_rotated_at, Some(t0() + Duration::days(31)));
    assert_eq!(meta.next_rotation_at, Some(t0() + Duration::days(61)));
    assert_eq!(meta.rotation_failures, 0);
    let rotated = audit_rows(&t, E::SecretRotated).await;
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0].entry.actor_type, ActorType::Scheduler);
    assert!(
        !rotated[0].entry.details.contains(&key),
        "no value in the audit trail"
    );
    let sent = inbox.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, NotificationKind::SecretRotated);
    assert_eq!(sent[0].recipients, vec!["ops@example.com"]);
    assert!(!serde_json::to_string(&sent[0]).unwrap().contains(&key));
    // Not due again until the next interval.
    assert_eq!(
        t.service
            .run_rotations(&handlers, &inbox, &config)
            .await
            .unwrap()
            .examined,
        0
    );
}

#[tokio::test]
async fn a_failed_rotation_keeps_the_current_value_and_is_retried_later() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let scripted = Arc::new(Scripted::default());
    scripted.fail_rotate.store(true, Ordering::SeqCst);
    let handlers = registry(scripted.clone());
    let config = LifecycleConfig::default();
    let id = t
        .service
        .create_secret(automatic("FLAKY", "scripted"), &ctx())
        .await
        .unwrap()
        .id;
    clock.set(t0() + Duration::days(31));

    let report = t
        .service
        .run_rotations(&handlers, &inbox, &config)
        .await
        .unwrap();
    assert_eq!((report.acted, report.failed), (0, 1));
    let value = t.service.get_secret_value(&id, &ctx()).await.unwrap();
    assert_eq!(
        (value.version, key_of(&value.value).as_str()),
        (1, "sk-original-0123456789")
    );
    let meta = t.service.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!(meta.rotation_failures, 1);
    assert!(
        meta.last_rotation_error
            .unwrap()
            .contains("the provider refused")
    );
    let failed = audit_rows(&t, E::SecretRotated).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entry.outcome, AuditOutcome::Failure);
    assert_eq!(inbox.kinds(), vec![NotificationKind::RotationFailed]);

    // Backing off: not retried at once, retried after 15 minutes, and this time it works.
    assert_eq!(
        t.service
            .run_rotations(&handlers, &inbox, &config)
            .await
            .unwrap()
            .examined,
        0
    );
    clock.advance(Duration::minutes(16));
    scripted.fail_rotate.store(false, Ordering::SeqCst);
    let report = t
        .service
        .run_rotations(&handlers, &inbox, &config)
        .await
        .unwrap();
    assert_eq!((report.acted, report.failed), (1, 0));
    let meta = t.service.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!(
        (
            meta.current_version,
            meta.rotation_failures,
            meta.last_rotation_error
        ),
        (2, 0, None)
    );
}

#[tokio::test]
async fn a_failed_test_step_leaves_no_version_behind() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let scripted = Arc::new(Scripted::default());
    scripted.fail_test.store(true, Ordering::SeqCst);
    let handlers = registry(scripted.clone());
    let id = t
        .service
        .create_secret(automatic("TESTED", "scripted"), &ctx())
        .await
        .unwrap()
        .id;
    clock.set(t0() + Duration::days(31));
    let report = t
        .service
        .run_rotations(&handlers, &inbox, &LifecycleConfig::default())
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(scripted.rotations.load(Ordering::SeqCst), 1);
    let mut raw = t.db.raw().await;
    assert_eq!(raw.count("SELECT COUNT(*) FROM secret_versions").await, 1);
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_versions")
            .await,
        0
    );
    let value = t.service.get_secret_value(&id, &ctx()).await.unwrap();
    assert_eq!(key_of(&value.value), "sk-original-0123456789");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotation_runs_rotate_once() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let scripted = Arc::new(Scripted {
        delay_ms: 300,
        ..Scripted::default()
    });
    let handlers = registry(scripted.clone());
    let config = LifecycleConfig::default();
    let id = t
        .service
        .create_secret(automatic("RACED", "scripted"), &ctx())
        .await
        .unwrap()
        .id;
    clock.set(t0() + Duration::days(31));
    let (a, b) = tokio::join!(
        t.service.run_rotations(&handlers, &inbox, &config),
        t.service.run_rotations(&handlers, &inbox, &config),
    );
    assert_eq!(a.unwrap().acted + b.unwrap().acted, 1);
    assert_eq!(scripted.rotations.load(Ordering::SeqCst), 1);
    assert_eq!(
        t.service
            .get_metadata(&id, &ctx())
            .await
            .unwrap()
            .current_version,
        2
    );
}

#[tokio::test]
async fn manual_and_notify_only_secrets_get_one_reminder_per_due_date() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let handlers = registry(Arc::new(Scripted::default()));
    let mut p = automatic("REMIND_ME", "random");
    p.lifecycle.rotation_strategy = RotationStrategy::NotifyOnly;
    let id = t.service.create_secret(p, &ctx()).await.unwrap().id;
    clock.set(t0() + Duration::days(31));
    let config = LifecycleConfig::default();
    assert_eq!(
        t.service
            .run_rotations(&handlers, &inbox, &config)
            .await
            .unwrap()
            .acted,
        1
    );
    assert_eq!(
        t.service
            .run_rotations(&handlers, &inbox, &config)
            .await
            .unwrap()
            .acted,
        0
    );
    assert_eq!(inbox.kinds(), vec![NotificationKind::RotationDue]);
    assert_eq!(
        t.service
            .get_metadata(&id, &ctx())
            .await
            .unwrap()
            .current_version,
        1
    );
}

#[tokio::test]
async fn retention_keeps_the_newest_versions_and_the_current_one() {
    let (t, clock) = TestService::with_manual_clock().await;
    let id = t
        .service
        .create_secret(
            CreateSecretParams::new(
                "BUSY",
                SecretScope::Organization,
                api_key("sk-v1-0123456789"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    for n in 2..=13 {
        clock.advance(Duration::hours(1));
        t.service
            .update_secret_value(
                &id,
                UpdateValueParams {
                    value: api_key(&format!("sk-v{n}-0123456789")),
                    change_reason: None,
                    expected_version: None,
                },
                &ctx(),
            )
            .await
            .unwrap();
    }
    let config = LifecycleConfig::default();
    // Within the rollback grace period nothing goes.
    let report = t.service.run_retention(&config).await.unwrap();
    let versions = t.service.list_versions(&id, &ctx()).await.unwrap();
    assert_eq!(versions.len(), 13, "{report:?}");
    clock.advance(Duration::days(30));
    t.service.run_retention(&config).await.unwrap();
    let versions = t.service.list_versions(&id, &ctx()).await.unwrap();
    let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, (4..=13).rev().collect::<Vec<_>>());
    assert!(versions[0].is_current && versions[0].is_active);
    assert!(
        versions[1..].iter().all(|v| !v.is_active),
        "replaced versions are inactive"
    );
    // The current value reads; a pruned version does not exist any more.
    assert_eq!(
        key_of(&t.service.get_secret(&id, &ctx()).await.unwrap()),
        "sk-v13-0123456789"
    );
    assert!(t.service.get_secret_version(&id, 2, &ctx()).await.is_err());
}

#[tokio::test]
async fn purge_removes_a_deleted_secret_after_its_deadline_and_not_before() {
    let (t, clock) = TestService::with_manual_clock().await;
    let id = t
        .service
        .create_secret(
            CreateSecretParams::new(
                "GONE",
                SecretScope::Organization,
                api_key("sk-gone-0123456789"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    t.service.delete_secret(&id, None, &ctx()).await.unwrap();
    clock.set(t0() + Duration::days(29));
    assert_eq!(t.service.run_purge().await.unwrap().acted, 0);
    assert!(
        t.service.restore_secret(&id, &ctx()).await.is_ok(),
        "still recoverable"
    );
    t.service.delete_secret(&id, None, &ctx()).await.unwrap();
    clock.set(t0() + Duration::days(29 + 31));
    assert_eq!(t.service.run_purge().await.unwrap().acted, 1);
    let mut raw = t.db.raw().await;
    assert_eq!(raw.count("SELECT COUNT(*) FROM secrets").await, 0);
    assert_eq!(raw.count("SELECT COUNT(*) FROM secret_versions").await, 0);
    let purged = audit_rows(&t, E::SecretPermanentlyDeleted).await;
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].entry.action, "PURGE");
    assert!(
        audit_rows(&t, E::SecretCreated).await.len() == 1,
        "audit records stay"
    );
    // create, delete, restore, delete, purge: the chain holds all five.
    assert_eq!(t.service.verify_audit_chain().await.unwrap(), 5);
}

#[tokio::test]
async fn expired_grants_are_removed_and_recorded() {
    let (t, clock) = TestService::with_manual_clock().await;
    let id = t
        .service
        .create_secret(
            CreateSecretParams::new(
                "SHARED",
                SecretScope::Organization,
                api_key("sk-shared-0123456789"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let grant = |grantee: &str, hours: i64| GrantAccessParams {
        grantee_type: GranteeType::User,
        grantee_id: grantee.into(),
        can_read: true,
        can_update: false,
        can_delete: false,
        can_grant: false,
        expires_at: Some(t0() + Duration::hours(hours)),
    };
    t.service
        .grant_access(&id, grant("bob", 1), &ctx())
        .await
        .unwrap();
    t.service
        .grant_access(&id, grant("carol", 48), &ctx())
        .await
        .unwrap();
    clock.set(t0() + Duration::hours(2));
    assert_eq!(t.service.run_grant_expiry().await.unwrap().acted, 1);
    assert_eq!(t.service.run_grant_expiry().await.unwrap().acted, 0);
    let left = t.service.list_access_grants(&id, &ctx()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].grantee_id, "carol");
    let revoked = audit_rows(&t, E::AccessRevoked).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].entry.action, "GRANT_EXPIRED");
}

#[tokio::test]
async fn jobs_walk_past_the_first_page() {
    let (t, clock) = TestService::with_manual_clock().await;
    let inbox = Inbox::default();
    let n = secret_api::JOB_PAGE + 7;
    for i in 0..n {
        let mut p = CreateSecretParams::new(
            format!("MANY_{i:04}"),
            SecretScope::Organization,
            api_key("sk-many-0123456789"),
        );
        // Several secrets share an expiry instant, so paging must break ties by id.
        p.expires_at = Some(t0() + Duration::days(20) + Duration::minutes((i % 50) as i64));
        t.service.create_secret(p, &ctx()).await.unwrap();
    }
    clock.set(t0() + Duration::days(1));
    let report = t.service.run_expiry_notices(&inbox).await.unwrap();
    assert_eq!((report.examined, report.acted), (n, n));
    assert_eq!(inbox.0.lock().unwrap().len() as u64, n);
    // A second run reads every page again and sends nothing.
    let report = t.service.run_expiry_notices(&inbox).await.unwrap();
    assert_eq!((report.examined, report.acted), (n, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_rotation_reaches_an_external_vault_and_a_failed_test_step_leaves_nothing() {
    use secret_core::vault::{ConfigureVaultParams, RawConfig};
    let Some(bao) = secret_store::testing::openbao::server().await else {
        return;
    };
    let (t, clock) = TestService::with_manual_clock().await;
    let prefix = format!("rot-{}", uuid::Uuid::now_v7().simple());
    let vault = t
        .service
        .configure_vault(
            ConfigureVaultParams {
                name: "bao".into(),
                description: None,
                backend: secret_core::StorageBackendKind::HashicorpVault,
                scope: secret_core::VaultScope::Global,
                organization_id: None,
                config: RawConfig(
                    serde_json::json!({"address": bao.address, "pathPrefix": prefix,
                    "auth": {"method": "TOKEN", "token": bao.root_token}}),
                ),
                is_default: false,
            },
            &super_ctx(),
        )
        .await
        .unwrap();
    let scripted = Arc::new(Scripted::default());
    let handlers = registry(scripted.clone());
    let mut ok = automatic("ROTATED_IN_BAO", "random");
    ok.vault_id = Some(vault.id.clone());
    let ok = t.service.create_secret(ok, &ctx()).await.unwrap().id;
    let mut bad = automatic("REFUSED_IN_BAO", "scripted");
    bad.vault_id = Some(vault.id.clone());
    let bad = t.service.create_secret(bad, &ctx()).await.unwrap().id;
    scripted.fail_test.store(true, Ordering::SeqCst);

    clock.set(t0() + Duration::days(31));
    let report = t
        .service
        .run_rotations(&handlers, &Inbox::default(), &LifecycleConfig::default())
        .await
        .unwrap();
    assert_eq!((report.acted, report.failed), (1, 1));

    // The rotated value is the vault's version 2.
    let value = t.service.get_secret_value(&ok, &ctx()).await.unwrap();
    assert_eq!(value.version, 2);
    let key = key_of(&value.value);
    let held: serde_json::Value =
        vaultrs::kv2::read_version(&bao.root(), "secret", &format!("{prefix}/{ok}"), 2)
            .await
            .unwrap();
    assert_eq!(held["key"], key);
    // The refused one keeps its value, and the vault keeps no live second version.
    let value = t.service.get_secret_value(&bad, &ctx()).await.unwrap();
    assert_eq!(
        (value.version, key_of(&value.value)),
        (1, "sk-original-0123456789".into())
    );
    assert!(
        vaultrs::kv2::read_version::<serde_json::Value>(
            &bao.root(),
            "secret",
            &format!("{prefix}/{bad}"),
            2
        )
        .await
        .is_err()
    );
    let mut raw = t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes")
            .await,
        0
    );
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_versions")
            .await,
        0
    );
}

#[tokio::test]
async fn the_key_job_reports_the_values_it_moved_and_the_key_it_retired() {
    let t = TestService::new().await;
    t.service
        .create_secret(
            CreateSecretParams::new(
                "KEY_JOB",
                SecretScope::Organization,
                api_key("sk-keyjob-0123456789"),
            ),
            &ctx(),
        )
        .await
        .unwrap();
    let idle = t.service.run_key_maintenance().await.unwrap();
    assert_eq!(idle, secret_lifecycle::jobs::JobReport::default());
    t.service
        .rotate_data_key(&secret_api::KeyOperator::system("ops"))
        .await
        .unwrap();
    // The version and its masked display move; the old key is retired.
    let run = t.service.run_key_maintenance().await.unwrap();
    assert_eq!((run.examined, run.acted, run.failed), (2, 3, 0));
    let retired = audit_rows(&t, E::KeyRetired).await;
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].entry.actor_type, ActorType::Scheduler);
}
