//! Key management through the service: data-key rotation with resumable re-encryption,
//! retirement and destruction; master-key rotation; and the scheduler's key job, which
//! resumes an unfinished re-encryption and retires the emptied key.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use secret_api::{CreateSecretParams, KeyOperator, SecretScope, SecretService, UpdateValueParams};
use secret_core::{ActorType, KeyStatus, SecretAuditEventType as E, SystemClock};
use secret_testkit::*;

fn create(name: &str, scope: SecretScope, value: secret_api::SecretValue) -> CreateSecretParams {
    CreateSecretParams::new(name, scope, value)
}

#[tokio::test]
async fn data_key_rotation_re_encrypts_in_resumable_batches_then_retires_and_destroys() {
    let t = TestService::new().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            t.service
                .create_secret(
                    create(
                        &format!("K{i}"),
                        SecretScope::Organization,
                        api_key(&format!("sk-dek-{i:010}")),
                    ),
                    &ctx(),
                )
                .await
                .unwrap()
                .id,
        );
    }
    let ops = secret_api::KeyOperator::system("ops");
    let old = t.service.key_status().await.unwrap().active_key_id;
    let new = t.service.rotate_data_key(&ops).await.unwrap();
    assert_ne!(old, new);
    // Values written after the rotation use the new key; old ones still decrypt.
    t.service
        .update_secret_value(
            &ids[0],
            UpdateValueParams {
                value: api_key("sk-dek-after-rot"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(
        key_of(&t.service.get_secret(&ids[1], &ctx()).await.unwrap()),
        "sk-dek-0000000001"
    );

    // Interrupted after one batch of 3 values and 3 masked displays ...
    let p = t.service.reencrypt(&ops, 3, Some(1)).await.unwrap();
    assert_eq!(
        p,
        secret_api::ReencryptProgress {
            reencrypted: 6,
            remaining: 7,
            retired: vec![],
        }
    );
    assert_eq!(
        t.service.key_status().await.unwrap().reencryption_remaining,
        7
    );
    // ... and resumed by another process with the same master key.
    let material = secret_api::MasterKeyMaterial::parse(&t.master_key).unwrap();
    let other = SecretService::open(t.db.connect().await, &material, Arc::new(SystemClock))
        .await
        .unwrap();
    let rest = other.reencrypt(&ops, 3, None).await.unwrap();
    assert_eq!((rest.reencrypted, rest.remaining), (7, 0));
    assert_eq!(rest.retired, vec![old.clone()]);
    let statuses: Vec<_> = other
        .key_status()
        .await
        .unwrap()
        .keys
        .into_iter()
        .map(|k| (k.key_id, k.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (old.clone(), secret_core::KeyStatus::Retired),
            (new.clone(), secret_core::KeyStatus::Active)
        ]
    );
    let mut raw = t.db.raw().await;
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM secret_versions WHERE key_id <> '{new}'"
        ))
        .await,
        0
    );
    for (i, id) in ids.iter().enumerate().skip(1) {
        assert_eq!(
            key_of(&t.service.get_secret(id, &ctx()).await.unwrap()),
            format!("sk-dek-{i:010}")
        );
    }
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM secrets WHERE masked_key_id <> '{new}'"
        ))
        .await,
        0,
        "masked displays move to the new key too"
    );
    assert_eq!(
        t.service.destroy_retired_keys(&ops).await.unwrap(),
        vec![old.clone()]
    );
    // After the old key is gone, the masked displays still open.
    assert_eq!(
        t.service
            .get_metadata(&ids[1], &ctx())
            .await
            .unwrap()
            .masked_value
            .as_deref(),
        Some("••••••••0001")
    );
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM encryption_keys WHERE key_id = '{old}' AND status = 'DESTROYED'"
        ))
        .await,
        1
    );
    // Still readable after a restart: destroyed keys are not loaded.
    let again = SecretService::open(t.db.connect().await, &material, Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(
        key_of(&again.get_secret(&ids[6], &ctx()).await.unwrap()),
        "sk-dek-0000000006"
    );
}

#[tokio::test]
async fn master_key_rotation_rewraps_data_keys_only() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(
            create("MK", SecretScope::Organization, api_key("sk-master-rotate")),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let mut raw = t.db.raw().await;
    let sql = "SELECT encrypted_value FROM secret_versions WHERE secret_id = $1 AND version = $2";
    let before = raw
        .fetch_bytes(sql, &[RawValue::Text(id.to_string()), RawValue::Int(1)])
        .await;
    let new_material = secret_api::MasterKeyMaterial::parse("a brand new long passphrase").unwrap();
    t.service
        .rotate_master_key(&new_material, "ops")
        .await
        .unwrap();
    let after = raw
        .fetch_bytes(sql, &[RawValue::Text(id.to_string()), RawValue::Int(1)])
        .await;
    assert_eq!(before, after, "values are not re-encrypted");
    assert_eq!(
        key_of(&t.service.get_secret(&id, &ctx()).await.unwrap()),
        "sk-master-rotate"
    );
    let reopened = SecretService::open(t.db.connect().await, &new_material, Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(
        key_of(&reopened.get_secret(&id, &ctx()).await.unwrap()),
        "sk-master-rotate"
    );
    let old = secret_api::MasterKeyMaterial::parse(&t.master_key).unwrap();
    assert!(
        SecretService::open(t.db.connect().await, &old, Arc::new(SystemClock))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_key_job_resumes_an_unfinished_reencryption_and_retires_the_old_key() {
    let t = TestService::new().await;
    let job = KeyOperator::scheduler(secret_api::SCHEDULER_ACTOR);
    for i in 0..3 {
        t.service
            .create_secret(
                create(
                    &format!("J{i}"),
                    SecretScope::Organization,
                    api_key(&format!("sk-job-{i:010}")),
                ),
                &ctx(),
            )
            .await
            .unwrap();
    }
    // Nothing to do: the job writes no record.
    let before = t
        .service
        .audit_records_after(0, 10_000)
        .await
        .unwrap()
        .len();
    let idle = t.service.resume_reencryption(&job, 20).await.unwrap();
    assert_eq!((idle.reencrypted, idle.remaining), (0, 0));
    assert!(idle.retired.is_empty());
    assert_eq!(
        t.service
            .audit_records_after(0, 10_000)
            .await
            .unwrap()
            .len(),
        before
    );

    let old = t.service.key_status().await.unwrap().active_key_id;
    let ops = KeyOperator::system("ops");
    t.service.rotate_data_key(&ops).await.unwrap();
    // An operator's re-encryption stopped after one batch of one value and one display.
    let part = t.service.reencrypt(&ops, 1, Some(1)).await.unwrap();
    assert_eq!((part.reencrypted, part.remaining), (2, 4));

    let run = t.service.resume_reencryption(&job, 20).await.unwrap();
    assert_eq!((run.reencrypted, run.remaining), (4, 0));
    assert_eq!(run.retired, vec![old.clone()]);
    let status = t.service.key_status().await.unwrap();
    assert_eq!(status.reencryption_remaining, 0);
    assert_eq!(
        status.keys.iter().find(|k| k.key_id == old).unwrap().status,
        KeyStatus::Retired
    );
    let records = t.service.audit_records_after(0, 10_000).await.unwrap();
    let by_job: Vec<_> = records
        .iter()
        .filter(|r| r.entry.actor_type == ActorType::Scheduler)
        .map(|r| (r.entry.event_type, r.entry.action.clone()))
        .collect();
    assert_eq!(
        by_job,
        vec![
            (E::KeyRotated, "REENCRYPT".to_string()),
            (E::KeyRetired, "RETIRED".to_string())
        ]
    );
    // The retired key keeps its material: only an operator destroys it.
    let again = t.service.resume_reencryption(&job, 20).await.unwrap();
    assert_eq!((again.reencrypted, again.retired.len()), (0, 0));
    assert_eq!(
        t.service.destroy_retired_keys(&ops).await.unwrap(),
        vec![old]
    );
    for i in 0..3 {
        let listed = t
            .service
            .list_secrets(&secret_api::ListSecretsParams::default(), &ctx())
            .await
            .unwrap();
        assert_eq!(listed.total, 3);
        let id = &listed
            .items
            .iter()
            .find(|m| m.name == format!("J{i}"))
            .unwrap()
            .id;
        assert_eq!(
            key_of(&t.service.get_secret(id, &ctx()).await.unwrap()),
            format!("sk-job-{i:010}")
        );
    }
}
