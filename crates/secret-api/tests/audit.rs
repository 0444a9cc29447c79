//! The audit trail through SecretService on a real database (SQLite by default, PostgreSQL
//! when `DATABASE_URL` points at one): the records each operation leaves, refusals and
//! failures, fail-closed reads, usage, retention, and the hash chain's verification
//! against rows edited, removed and inserted directly in SQL.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use secret_api::KeyOperator;
use secret_api::{
    CreateSecretParams, ErrorCode, GrantAccessParams, SecretScope, UpdateSecretParams,
    UpdateValueParams,
};
use secret_core::audit::{AuditRecord, ChainBreak};
use secret_core::{
    AuditOutcome, GranteeType, OrgRole, Principal, SecretAuditEventType as E, SecretId,
};
use secret_testkit::*;

fn params(name: &str) -> CreateSecretParams {
    CreateSecretParams::new(
        name,
        SecretScope::Organization,
        api_key("sk-first-value-0001"),
    )
}

fn member() -> secret_api::SecretContext {
    ctx_of(Principal::user("member").with_org("org-1", OrgRole::Member)).in_organization("org-1")
}

fn outsider() -> secret_api::SecretContext {
    ctx_of(Principal::user("outsider").with_org("org-2", OrgRole::Admin))
}

async fn records(t: &TestService) -> Vec<AuditRecord> {
    t.service.audit_records_after(0, 10_000).await.unwrap()
}

/// (event type, action, outcome) of each record, in chain order.
fn summary(rs: &[AuditRecord]) -> Vec<(E, String, AuditOutcome)> {
    rs.iter()
        .map(|r| (r.entry.event_type, r.entry.action.clone(), r.entry.outcome))
        .collect()
}

fn row(e: E, action: &str, o: AuditOutcome) -> (E, String, AuditOutcome) {
    (e, action.to_string(), o)
}

#[tokio::test]
async fn each_operation_leaves_exactly_its_record() {
    let t = TestService::new().await;
    let s = &t.service;
    let c = ctx().with_request_id("req-1").for_resource("mcp-7");
    let id = s.create_secret(params("OPENAI_KEY"), &c).await.unwrap().id;
    s.get_secret(&id, &c).await.unwrap();
    s.update_secret(
        &id,
        UpdateSecretParams {
            tags: Some(vec!["llm".into()]),
            ..Default::default()
        },
        &c,
    )
    .await
    .unwrap();
    s.update_secret_value(
        &id,
        UpdateValueParams {
            value: api_key("sk-second-value-0002"),
            change_reason: Some("typo".into()),
            expected_version: None,
        },
        &c,
    )
    .await
    .unwrap();
    s.rotate_secret(&id, api_key("sk-third-value-00003"), None, &c)
        .await
        .unwrap();
    s.get_secret_version(&id, 1, &c).await.unwrap();
    s.rollback_secret(&id, 1, None, &c).await.unwrap();
    let grant = s
        .grant_access(
            &id,
            GrantAccessParams {
                grantee_type: GranteeType::User,
                grantee_id: "bob".into(),
                can_read: true,
                can_update: false,
                can_delete: false,
                can_grant: false,
                expires_at: None,
            },
            &c,
        )
        .await
        .unwrap();
    s.revoke_access(&id, &grant.id, &c).await.unwrap();
    // Metadata reads and listings write nothing.
    s.get_metadata(&id, &c).await.unwrap();
    s.list_versions(&id, &c).await.unwrap();
    s.delete_secret(&id, None, &c).await.unwrap();
    s.restore_secret(&id, &c).await.unwrap();
    s.delete_secret(&id, None, &c).await.unwrap();
    s.permanently_delete_secret(&id, &c).await.unwrap();

    let rs = records(&t).await;
    use AuditOutcome::Success as S;
    assert_eq!(
        summary(&rs),
        vec![
            row(E::SecretCreated, "SECRET_CREATED", S),
            row(E::SecretRead, "SECRET_READ", S),
            row(E::SecretUpdated, "UPDATE_METADATA", S),
            row(E::SecretUpdated, "UPDATE_VALUE", S),
            row(E::SecretRotated, "SECRET_ROTATED", S),
            row(E::SecretRead, "SECRET_READ", S),
            row(E::SecretUpdated, "ROLLBACK", S),
            row(E::AccessGranted, "ACCESS_GRANTED", S),
            row(E::AccessRevoked, "ACCESS_REVOKED", S),
            row(E::SecretDeleted, "SECRET_DELETED", S),
            row(E::SecretRestored, "SECRET_RESTORED", S),
            row(E::SecretDeleted, "SECRET_DELETED", S),
            row(E::SecretPermanentlyDeleted, "SECRET_PERMANENTLY_DELETED", S),
        ]
    );
    for r in &rs {
        let e = &r.entry;
        assert_eq!(e.secret_id.as_deref(), Some(id.as_str()));
        assert_eq!(e.secret_name.as_deref(), Some("OPENAI_KEY"));
        assert_eq!(e.secret_scope, Some(SecretScope::Organization));
        assert_eq!(e.organization_id.as_deref(), Some("org-1"));
        assert_eq!(e.actor_id, "user-1");
        assert_eq!(e.request_id.as_deref(), Some("req-1"));
        assert_eq!(e.consumer_module.as_deref(), Some("tests"));
        assert_eq!(e.event_category, e.event_type.category());
    }
    let details: Vec<serde_json::Value> = rs
        .iter()
        .map(|r| serde_json::from_str(&r.entry.details).unwrap())
        .collect();
    assert_eq!(details[1]["version"], 1);
    assert_eq!(details[1]["consumerResourceId"], "mcp-7");
    assert_eq!(details[2]["fields"], serde_json::json!(["tags"]));
    assert_eq!(details[3]["version"], 2);
    assert_eq!(details[3]["changeReason"], "typo");
    assert_eq!(details[5]["version"], 1);
    assert_eq!(details[6]["rolledBackTo"], 1);
    assert_eq!(details[6]["version"], 4);
    assert_eq!(details[7]["granteeId"], "bob");
    assert_eq!(details[7]["canRead"], true);

    // No value, in any field of any record.
    let all = serde_json::to_string(&rs).unwrap();
    for v in [
        "sk-first-value-0001",
        "sk-second-value-0002",
        "sk-third-value-00003",
    ] {
        assert!(!all.contains(v), "a value reached the audit trail");
    }
    // Retention: the purged secret's records all stay.
    assert_eq!(
        t.db.raw()
            .await
            .count("SELECT COUNT(*) FROM secret_audit_logs")
            .await,
        13
    );
    assert_eq!(t.service.verify_audit_chain().await.unwrap(), 13);
}

#[tokio::test]
async fn refusals_and_failures_are_recorded() {
    let t = TestService::new().await;
    let s = &t.service;
    let id = s
        .create_secret(params("DB_PASSWORD"), &ctx())
        .await
        .unwrap()
        .id;

    // Visible but not readable: 403, recorded as a denial of the read.
    let err = s.get_secret(&id, &member()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    // Invisible: the caller gets 404, the trail records the refusal.
    let err = s.get_secret(&id, &outsider()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    let err = s.get_metadata(&id, &outsider()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    let err = s.delete_secret(&id, None, &member()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    // Failures: a stale expected version, a secret that does not exist.
    let err = s
        .update_secret(
            &id,
            UpdateSecretParams {
                expected_version: Some(7),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VersionConflict);
    let missing = &SecretId::from("01900000-0000-7000-8000-000000000000");
    let err = s.get_secret(missing, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    // A refused metadata view of a missing secret is not a refusal: nothing is recorded.
    s.get_metadata(missing, &ctx()).await.unwrap_err();

    let rs = records(&t).await;
    use AuditOutcome::{Denied as D, Failure as F, Success as S};
    assert_eq!(
        summary(&rs),
        vec![
            row(E::SecretCreated, "SECRET_CREATED", S),
            row(E::AccessDenied, "SECRET_READ", D),
            row(E::AccessDenied, "SECRET_READ", D),
            row(E::AccessDenied, "VIEW_METADATA", D),
            row(E::AccessDenied, "SECRET_DELETED", D),
            row(E::SecretUpdated, "UPDATE_METADATA", F),
            row(E::SecretRead, "SECRET_READ", F),
        ]
    );
    let denied = &rs[2].entry;
    assert_eq!(denied.actor_id, "outsider");
    assert_eq!(denied.secret_id.as_deref(), Some(id.as_str()));
    assert_eq!(denied.secret_name.as_deref(), Some("DB_PASSWORD"));
    assert_eq!(denied.organization_id.as_deref(), Some("org-1"));
    let details: serde_json::Value = serde_json::from_str(&denied.details).unwrap();
    assert_eq!(details["attempted"], "SECRET_READ");
    assert_eq!(rs[1].entry.actor_id, "member");
    assert!(
        rs[5]
            .entry
            .error_message
            .as_deref()
            .unwrap()
            .starts_with("VERSION_CONFLICT: ")
    );
    assert_eq!(rs[6].entry.secret_id.as_deref(), Some(missing.as_str()));
    assert_eq!(rs[6].entry.secret_name, None);
}

#[tokio::test]
async fn a_read_fails_with_nothing_returned_when_its_record_cannot_be_written() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("K"), &ctx())
        .await
        .unwrap()
        .id;
    t.service.get_secret(&id, &ctx()).await.unwrap();
    // Break the audit sink for real: the chain's head row disappears from under it.
    let mut raw = t.db.raw().await;
    assert_eq!(raw.exec("UPDATE audit_chain_head SET id = 2", &[]).await, 1);
    let err = t.service.get_secret(&id, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    // Writes fail too, and leave nothing behind.
    let err = t
        .service
        .rotate_secret(&id, api_key("sk-not-written-00001"), None, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_versions").await,
        1,
        "the rotation rolled back with its audit record"
    );
    raw.exec("UPDATE audit_chain_head SET id = 1", &[]).await;
    t.service.get_secret(&id, &ctx()).await.unwrap();
    assert_eq!(raw.count("SELECT COUNT(*) FROM secret_usage").await, 2);
    assert_eq!(t.service.verify_audit_chain().await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_are_all_recorded_in_one_intact_chain() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("HOT"), &ctx())
        .await
        .unwrap()
        .id;
    let reads = (0..200).map(|i| {
        let s = t.service.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let mut c = ctx();
            c.consumer_module = format!("module-{}", i % 3);
            s.get_secret(&id, &c).await.map(|_| ())
        })
    });
    for r in futures::future::join_all(reads).await {
        r.unwrap().unwrap();
    }
    let mut raw = t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRET_READ'")
            .await,
        200
    );
    assert_eq!(raw.count("SELECT COUNT(*) FROM secret_usage").await, 200);
    assert_eq!(
        raw.count("SELECT CAST(SUM(read_count) AS BIGINT) FROM secret_usage_summary")
            .await,
        200,
        "the per-module summary counts every read"
    );
    assert_eq!(t.service.verify_audit_chain().await.unwrap(), 201);
    let usage = t
        .service
        .get_metadata(&id, &ctx())
        .await
        .unwrap()
        .usage
        .unwrap();
    assert_eq!(
        usage.consumer_modules,
        vec!["module-0", "module-1", "module-2"]
    );
}

/// A database with five records: create and four reads.
async fn five_records() -> TestService {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("K"), &ctx())
        .await
        .unwrap()
        .id;
    for _ in 0..4 {
        t.service.get_secret(&id, &ctx()).await.unwrap();
    }
    assert_eq!(t.service.verify_audit_chain().await.unwrap(), 5);
    t
}

async fn verify_err(t: &TestService) -> ChainBreak {
    match t.service.verify_audit_chain().await {
        Err(secret_audit::VerifyError::Broken(b)) => b,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

async fn id_at(t: &TestService, seq: i64) -> String {
    t.service.audit_records_after(seq - 1, 1).await.unwrap()[0]
        .entry
        .id
        .clone()
}

#[tokio::test]
async fn verification_names_an_edited_record() {
    let t = five_records().await;
    let id = id_at(&t, 3).await;
    t.db.raw()
        .await
        .exec(
            "UPDATE secret_audit_logs SET actor_id = 'mallory' WHERE seq = 3",
            &[],
        )
        .await;
    assert_eq!(verify_err(&t).await, ChainBreak::Changed { seq: 3, id });
}

#[tokio::test]
async fn verification_names_a_removed_record() {
    let t = five_records().await;
    let after = id_at(&t, 3).await;
    t.db.raw()
        .await
        .exec("DELETE FROM secret_audit_logs WHERE seq = 2", &[])
        .await;
    assert_eq!(
        verify_err(&t).await,
        ChainBreak::Unlinked {
            seq: 3,
            id: after,
            prev_seq: 1
        }
    );
    // The newest record removed: the head still remembers it.
    let t = five_records().await;
    t.db.raw()
        .await
        .exec("DELETE FROM secret_audit_logs WHERE seq = 5", &[])
        .await;
    assert_eq!(
        verify_err(&t).await,
        ChainBreak::Truncated {
            last_seq: 4,
            head_seq: 5
        }
    );
}

#[tokio::test]
async fn verification_names_an_inserted_record() {
    let t = five_records().await;
    let mut raw = t.db.raw().await;
    // A copy of record 5 placed after it, with its chain fields filled in plausibly.
    let inserted = "01900000-0000-7000-8000-00000000beef";
    raw.exec(
        "INSERT INTO secret_audit_logs (id, seq, prev_hash, hash, event_type, event_category, \
         actor_type, actor_id, action, details, outcome, timestamp) \
         SELECT $1, 6, hash, hash, event_type, event_category, actor_type, actor_id, action, \
         details, outcome, timestamp FROM secret_audit_logs WHERE seq = 5",
        &[RawValue::Text(inserted.into())],
    )
    .await;
    assert_eq!(
        verify_err(&t).await,
        ChainBreak::Changed {
            seq: 6,
            id: inserted.into()
        }
    );
}

#[tokio::test]
async fn key_management_is_recorded_as_system_events() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(params("K"), &ctx())
        .await
        .unwrap()
        .id;
    let ops = KeyOperator::system("ops-cli");
    let old_key = t.service.key_status().await.unwrap().active_key_id;
    let new_key = t.service.rotate_data_key(&ops).await.unwrap();
    let status = t.service.key_status().await.unwrap();
    assert_eq!(status.active_key_id, new_key);
    // One version and its masked display are still under the old key.
    assert_eq!(status.reencryption_remaining, 2);
    let done = t.service.reencrypt(&ops, 10, None).await.unwrap();
    assert_eq!(
        (done.reencrypted, done.remaining, done.retired.clone()),
        (2, 0, vec![old_key.clone()])
    );
    assert_eq!(
        t.service.destroy_retired_keys(&ops).await.unwrap(),
        vec![old_key.clone()]
    );
    // Nothing left to destroy: no record.
    assert!(
        t.service
            .destroy_retired_keys(&ops)
            .await
            .unwrap()
            .is_empty()
    );
    let (new_master, _) = random_master_key();
    t.service
        .rotate_master_key(&new_master, &ops)
        .await
        .unwrap();
    // Values still read after all of it.
    t.service.get_secret(&id, &ctx()).await.unwrap();
    let rs = records(&t).await;
    let keys: Vec<_> = rs
        .iter()
        .filter(|r| r.entry.event_category == secret_core::AuditCategory::KeyManagement)
        .collect();
    let seen: Vec<(E, &str, serde_json::Value)> = keys
        .iter()
        .map(|r| {
            assert_eq!(r.entry.actor_type, secret_core::ActorType::System);
            assert_eq!(r.entry.actor_id, "ops-cli");
            assert_eq!(r.entry.outcome, AuditOutcome::Success);
            (
                r.entry.event_type,
                r.entry.action.as_str(),
                serde_json::from_str(&r.entry.details).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                E::KeyRotated,
                "KEY_ROTATED",
                serde_json::json!({"kind": "data", "id": new_key})
            ),
            (
                E::KeyRotated,
                "REENCRYPT",
                serde_json::json!({"kind": "data", "reencrypted": 2, "remaining": 0})
            ),
            (E::KeyRetired, "RETIRED", serde_json::json!({"id": old_key})),
            (
                E::KeyRetired,
                "DESTROYED",
                serde_json::json!({"id": old_key})
            ),
            (
                E::KeyRotated,
                "KEY_ROTATED",
                serde_json::json!({"kind": "master"})
            ),
        ]
    );
}

#[tokio::test]
async fn a_refused_key_operation_is_recorded_as_a_failure() {
    let t = TestService::new().await;
    let ops = KeyOperator::system("ops-cli");
    let err = t.service.reencrypt(&ops, 0, None).await.unwrap_err();
    assert_eq!(err.code(), secret_core::ErrorCode::ValidationError);
    let rs = records(&t).await;
    let last = rs.last().unwrap();
    assert_eq!(last.entry.event_type, E::KeyRotated);
    assert_eq!(last.entry.action, "REENCRYPT");
    assert_eq!(last.entry.outcome, AuditOutcome::Failure);
}
