//! SecretService on a real database: SQLite by default, PostgreSQL when `DATABASE_URL`
//! points at one (CI runs this file on both).

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Duration;
use secret_api::{
    CreateSecretParams, ErrorCode, FieldUpdate, ListSecretsParams, ScopeTarget, SecretError,
    SecretScope, SecretService, SecretType, SecretValue, UpdateSecretParams, UpdateValueParams,
};
use secret_core::value::{EnvVariableSetSecret, GenericSecret, UsernamePasswordSecret};
use secret_core::{AnySecretValue, SecretId, SystemClock};
use secret_testkit::*;

fn generic(v: &str) -> SecretValue {
    SecretValue::new(AnySecretValue::Generic(GenericSecret {
        value: v.to_string(),
    }))
}

fn create(name: &str, scope: SecretScope, value: SecretValue) -> CreateSecretParams {
    CreateSecretParams {
        description: Some(format!("{name} for tests")),
        ..CreateSecretParams::new(name, scope, value)
    }
}

async fn secret_count(t: &TestService) -> i64 {
    t.db.raw().await.count("SELECT COUNT(*) FROM secrets").await
}

async fn version_count(t: &TestService) -> i64 {
    t.db.raw()
        .await
        .count("SELECT COUNT(*) FROM secret_versions")
        .await
}

#[tokio::test]
async fn create_then_read_returns_the_value_and_metadata_without_it() {
    let t = TestService::new().await;
    let meta = t
        .service
        .create_secret(
            create(
                "OPENAI_API_KEY",
                SecretScope::Organization,
                api_key("sk-test-0123456789"),
            ),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(meta.current_version, 1);
    assert_eq!(meta.scope, SecretScope::Organization);
    assert_eq!(meta.organization_id.as_deref(), Some("org-1"));
    assert_eq!(meta.secret_type, SecretType::ApiKey);
    assert_eq!(meta.created_by_id, "user-1");
    let json = serde_json::to_string(&meta).unwrap();
    assert!(
        !json.contains("sk-test-0123456789"),
        "metadata must never hold the value"
    );

    let v = t.service.get_secret_value(&meta.id, &ctx()).await.unwrap();
    assert_eq!((v.version, v.name.as_str()), (1, "OPENAI_API_KEY"));
    assert_eq!(key_of(&v.value), "sk-test-0123456789");
    assert!(
        !format!("{v:?}").contains("sk-test-0123456789"),
        "Debug must not print values"
    );

    let mut fetched = t.service.get_metadata(&meta.id, &ctx()).await.unwrap();
    // One secret's metadata also says who has read the value: the read above.
    let usage = fetched
        .usage
        .take()
        .expect("usage is filled for one secret");
    assert_eq!(usage.consumer_modules, vec![ctx().consumer_module]);
    assert!(usage.last_used_at.is_some());
    assert_eq!(fetched, meta);
}

#[tokio::test]
async fn every_value_type_round_trips_through_the_store() {
    let t = TestService::new().await;
    let mut vars = BTreeMap::new();
    vars.insert("DATABASE_URL".to_string(), "postgres://x".to_string());
    vars.insert("EMPTY".to_string(), String::new());
    let values = vec![
        api_key("sk-live-abcdef123456"),
        SecretValue::new(AnySecretValue::UsernamePassword(UsernamePasswordSecret {
            username: "admin".into(),
            password: "pa ss word".into(),
        })),
        SecretValue::new(AnySecretValue::EnvVariableSet(EnvVariableSetSecret { variables: vars })),
        serde_json::from_str::<SecretValue>(
            r#"{"type":"CONNECTION_STRING","connectionString":"postgres://app:pw@db.internal:5432/app"}"#,
        )
        .unwrap(),
        serde_json::from_str::<SecretValue>(
            r#"{"type":"JSON_CREDENTIAL","credential":{"type":"service_account","private_key":"k"}}"#,
        )
        .unwrap(),
        serde_json::from_str::<SecretValue>(
            r#"{"type":"OAUTH2_TOKEN","accessToken":"at-1","refreshToken":"rt-1","tokenType":"Bearer"}"#,
        )
        .unwrap(),
        generic("anything at all"),
    ];
    for (i, value) in values.into_iter().enumerate() {
        let expected = serde_json::to_value(&value).unwrap();
        let meta = t
            .service
            .create_secret(
                create(&format!("S{i}"), SecretScope::Project, value),
                &ctx(),
            )
            .await
            .unwrap();
        let got = t.service.get_secret(&meta.id, &ctx()).await.unwrap();
        let mut got_json = serde_json::to_value(&got).unwrap();
        if meta.secret_type == SecretType::ConnectionString {
            // The store recomputes `parsed`, never with the password.
            let parsed = got_json.as_object_mut().unwrap().remove("parsed").unwrap();
            assert_eq!(parsed["host"], "db.internal");
            assert!(!parsed.to_string().contains("pw"));
            assert_eq!(
                meta.facts.connection.as_ref().unwrap().host.as_deref(),
                Some("db.internal")
            );
        }
        assert_eq!(got_json, expected, "type {}", meta.secret_type);
    }
}

#[tokio::test]
async fn invalid_input_gets_its_code_and_writes_nothing() {
    let t = TestService::new().await;
    let cases: Vec<(CreateSecretParams, ErrorCode)> = vec![
        (
            create(
                "1bad",
                SecretScope::Organization,
                api_key("sk-1234567890ab"),
            ),
            ErrorCode::ValidationError,
        ),
        (
            create(
                "has space",
                SecretScope::Organization,
                api_key("sk-1234567890ab"),
            ),
            ErrorCode::ValidationError,
        ),
        (
            create(
                &"a".repeat(256),
                SecretScope::Organization,
                api_key("sk-1234567890ab"),
            ),
            ErrorCode::ValidationError,
        ),
        (
            CreateSecretParams {
                secret_type: SecretType::UsernamePassword,
                ..create(
                    "MISMATCH",
                    SecretScope::Organization,
                    api_key("sk-1234567890ab"),
                )
            },
            ErrorCode::InvalidSecretType,
        ),
        (
            create("EMPTY_KEY", SecretScope::Organization, api_key("  ")),
            ErrorCode::ValidationError,
        ),
        (
            create(
                "TOO_BIG",
                SecretScope::Organization,
                generic(&"x".repeat(65 * 1024)),
            ),
            ErrorCode::PayloadTooLarge,
        ),
        (
            CreateSecretParams {
                description: Some("d".repeat(1001)),
                ..create(
                    "LONG_DESC",
                    SecretScope::Organization,
                    api_key("sk-1234567890ab"),
                )
            },
            ErrorCode::ValidationError,
        ),
        (
            CreateSecretParams {
                tags: (0..51).map(|i| format!("t{i}")).collect(),
                ..create(
                    "MANY_TAGS",
                    SecretScope::Organization,
                    api_key("sk-1234567890ab"),
                )
            },
            ErrorCode::ValidationError,
        ),
        (
            CreateSecretParams {
                target: ScopeTarget {
                    organization_id: Some("org-1".into()),
                    ..Default::default()
                },
                ..create(
                    "GLOBAL_WITH_ORG",
                    SecretScope::Global,
                    api_key("sk-1234567890ab"),
                )
            },
            ErrorCode::ValidationError,
        ),
        (
            CreateSecretParams {
                expires_at: Some(chrono::Utc::now() - Duration::days(1)),
                ..create(
                    "PAST_EXPIRY",
                    SecretScope::Organization,
                    api_key("sk-1234567890ab"),
                )
            },
            ErrorCode::ValidationError,
        ),
        (
            CreateSecretParams {
                rotation_enabled: true,
                ..create("NO_INTERVAL", SecretScope::Organization, generic("v"))
            },
            ErrorCode::ValidationError,
        ),
        (
            CreateSecretParams {
                storage_backend: Some(secret_core::StorageBackendKind::AzureKeyVault),
                ..create(
                    "NO_VAULT",
                    SecretScope::Organization,
                    api_key("sk-1234567890ab"),
                )
            },
            ErrorCode::VaultNotConfigured,
        ),
    ];
    for (params, code) in cases {
        let name = params.name.clone();
        let err = t.service.create_secret(params, &ctx()).await.unwrap_err();
        assert_eq!(err.code(), code, "{name}: {err}");
    }
    // A team secret outside any team context has no team to belong to.
    let mut no_team = ctx();
    no_team.team_id = None;
    let err = t
        .service
        .create_secret(
            create("TEAMLESS", SecretScope::Team, api_key("sk-1234567890ab")),
            &no_team,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationError);
    assert_eq!(secret_count(&t).await, 0);
    assert_eq!(version_count(&t).await, 0);
}

#[tokio::test]
async fn unknown_ids_and_versions_are_not_found() {
    let t = TestService::new().await;
    let err = t
        .service
        .get_secret(&SecretId::from("no-such-id"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    assert!(
        t.service
            .get_secret_or_none(&SecretId::from("no-such-id"), &ctx())
            .await
            .unwrap()
            .is_none()
    );
    let meta = t
        .service
        .create_secret(
            create("K", SecretScope::Organization, api_key("sk-1234567890ab")),
            &ctx(),
        )
        .await
        .unwrap();
    let err = t
        .service
        .get_secret_version(&meta.id, 7, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SecretError::VersionNotFound { version: 7, .. }
    ));
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    let err = t
        .service
        .rollback_secret(&meta.id, 5, None, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    let err = t
        .service
        .update_secret_value(
            &SecretId::from("no-such-id"),
            UpdateValueParams {
                value: api_key("sk-1234567890ab"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    assert_eq!(version_count(&t).await, 1);
}

#[tokio::test]
async fn value_updates_keep_every_version_and_rollback_re_encrypts_the_old_value() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(
            create(
                "ROLL",
                SecretScope::Organization,
                api_key("sk-version-one-0001"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let m2 = t
        .service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-version-two-0002"),
                change_reason: Some("new key".into()),
                expected_version: Some(1),
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(m2.current_version, 2);
    assert_eq!(
        key_of(&t.service.get_secret(&id, &ctx()).await.unwrap()),
        "sk-version-two-0002"
    );
    assert_eq!(
        key_of(
            &t.service
                .get_secret_version(&id, 1, &ctx())
                .await
                .unwrap()
                .value
        ),
        "sk-version-one-0001"
    );

    let m3 = t
        .service
        .rollback_secret(&id, 1, Some(2), &ctx())
        .await
        .unwrap();
    assert_eq!(m3.current_version, 3);
    assert_eq!(
        key_of(&t.service.get_secret(&id, &ctx()).await.unwrap()),
        "sk-version-one-0001"
    );
    let versions = t.service.list_versions(&id, &ctx()).await.unwrap();
    let reasons: Vec<_> = versions
        .iter()
        .map(|v| (v.version, v.change_reason.clone().unwrap(), v.is_current))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (3, "Rollback to version 1".to_string(), true),
            (2, "new key".to_string(), false),
            (1, "Created".to_string(), false),
        ]
    );
    // Re-encrypted for its new place, not copied.
    let mut raw = t.db.raw().await;
    let sql = "SELECT encrypted_value FROM secret_versions WHERE secret_id = $1 AND version = $2";
    let v1 = raw
        .fetch_bytes(sql, &[RawValue::Text(id.to_string()), RawValue::Int(1)])
        .await;
    let v3 = raw
        .fetch_bytes(sql, &[RawValue::Text(id.to_string()), RawValue::Int(3)])
        .await;
    assert_ne!(v1, v3);
    // Rolling back to the current version is refused.
    let err = t
        .service
        .rollback_secret(&id, 3, None, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationError);
}

#[tokio::test]
async fn stale_expected_version_is_a_version_conflict_and_changes_nothing() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(
            create("CAS", SecretScope::Organization, api_key("sk-1234567890ab")),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    t.service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-2234567890ab"),
                change_reason: None,
                expected_version: Some(1),
            },
            &ctx(),
        )
        .await
        .unwrap();
    let err = t
        .service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-3234567890ab"),
                change_reason: None,
                expected_version: Some(1),
            },
            &ctx(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SecretError::VersionConflict {
                expected: 1,
                current: 2
            }
        ),
        "{err}"
    );
    let err = t
        .service
        .update_secret(
            &id,
            UpdateSecretParams {
                description: FieldUpdate::Set("x".into()),
                expected_version: Some(1),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VersionConflict);
    let err = t
        .service
        .delete_secret(&id, Some(1), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VersionConflict);
    assert_eq!(version_count(&t).await, 2);
    let meta = t.service.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!(meta.description.as_deref(), Some("CAS for tests"));
    assert!(meta.deleted_at.is_none());
}

#[tokio::test]
async fn fifty_concurrent_value_updates_leave_versions_one_to_fifty_one() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(
            create(
                "HOT",
                SecretScope::Organization,
                api_key("sk-initial-value-0"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let service = t.service.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            service
                .update_secret_value(
                    &id,
                    UpdateValueParams {
                        value: api_key(&format!("sk-concurrent-{i:04}")),
                        change_reason: Some(format!("writer {i}")),
                        expected_version: None,
                    },
                    &ctx(),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let versions = t.service.list_versions(&id, &ctx()).await.unwrap();
    let numbers: BTreeSet<i64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(versions.len(), 51, "no duplicate versions");
    assert_eq!(numbers, (1..=51).collect::<BTreeSet<_>>());
    assert_eq!(
        t.service
            .get_metadata(&id, &ctx())
            .await
            .unwrap()
            .current_version,
        51
    );
    // Every version decrypts under its own (id, version).
    let mut seen = BTreeSet::new();
    for v in 1..=51 {
        seen.insert(key_of(
            &t.service
                .get_secret_version(&id, v, &ctx())
                .await
                .unwrap()
                .value,
        ));
    }
    assert_eq!(seen.len(), 51);
}

#[tokio::test]
async fn soft_delete_hides_keeps_the_name_and_restores_within_the_window() {
    let (t, clock) = TestService::with_manual_clock().await;
    let id = t
        .service
        .create_secret(
            create("DEL", SecretScope::Organization, api_key("sk-1234567890ab")),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let deleted = t.service.delete_secret(&id, None, &ctx()).await.unwrap();
    assert_eq!(deleted.deleted_at, Some(t0()));
    assert_eq!(deleted.recovery_deadline, Some(t0() + Duration::days(30)));
    assert_eq!(deleted.deleted_by_id.as_deref(), Some("user-1"));
    assert_eq!(
        t.service.get_secret(&id, &ctx()).await.unwrap_err().code(),
        ErrorCode::SecretNotFound
    );
    let listed = t
        .service
        .list_secrets(&ListSecretsParams::default(), &ctx())
        .await
        .unwrap();
    assert_eq!(listed.total, 0);
    let with_deleted = t
        .service
        .list_secrets(
            &ListSecretsParams {
                include_deleted: true,
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(with_deleted.total, 1);
    // Writes to a deleted secret are refused.
    let err = t
        .service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-2234567890ab"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretNotFound);
    // The name stays taken.
    let err = t
        .service
        .create_secret(
            create("DEL", SecretScope::Organization, api_key("sk-1234567890ab")),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("restore"), "{err}");

    clock.advance(Duration::days(29));
    let restored = t.service.restore_secret(&id, &ctx()).await.unwrap();
    assert!(restored.deleted_at.is_none() && restored.recovery_deadline.is_none());
    assert_eq!(
        key_of(&t.service.get_secret(&id, &ctx()).await.unwrap()),
        "sk-1234567890ab"
    );
    let err = t.service.restore_secret(&id, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict, "restoring a live secret");
}

#[tokio::test]
async fn restore_after_the_recovery_deadline_is_refused() {
    let (t, clock) = TestService::with_manual_clock().await;
    let id = t
        .service
        .create_secret(
            create(
                "LATE",
                SecretScope::Organization,
                api_key("sk-1234567890ab"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    t.service.delete_secret(&id, None, &ctx()).await.unwrap();
    clock.advance(Duration::days(30) + Duration::seconds(1));
    let err = t.service.restore_secret(&id, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("recovery period"), "{err}");
    assert!(
        t.service
            .get_metadata(&id, &ctx())
            .await
            .unwrap()
            .deleted_at
            .is_some()
    );
}

#[tokio::test]
async fn permanent_delete_needs_a_soft_delete_first_and_frees_the_name() {
    let t = TestService::new().await;
    let id = t
        .service
        .create_secret(
            create(
                "GONE",
                SecretScope::Organization,
                api_key("sk-1234567890ab"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let err = t
        .service
        .permanently_delete_secret(&id, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert_eq!(secret_count(&t).await, 1);
    t.service.delete_secret(&id, None, &ctx()).await.unwrap();
    t.service
        .permanently_delete_secret(&id, &ctx())
        .await
        .unwrap();
    assert_eq!(secret_count(&t).await, 0);
    assert_eq!(version_count(&t).await, 0);
    assert_eq!(
        t.service
            .get_metadata(&id, &ctx())
            .await
            .unwrap_err()
            .code(),
        ErrorCode::SecretNotFound
    );
    t.service
        .create_secret(
            create(
                "GONE",
                SecretScope::Organization,
                api_key("sk-1234567890ab"),
            ),
            &ctx(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn same_name_is_allowed_in_different_owners() {
    let t = TestService::new().await;
    let other_org = admin_ctx("user-2", "org-2", "team-2", "project-2");
    for c in [ctx(), other_org.clone()] {
        t.service
            .create_secret(
                create(
                    "SHARED_NAME",
                    SecretScope::Organization,
                    api_key("sk-1234567890ab"),
                ),
                &c,
            )
            .await
            .unwrap();
        t.service
            .create_secret(
                create("SHARED_NAME", SecretScope::User, api_key("sk-1234567890ab")),
                &c,
            )
            .await
            .unwrap();
    }
    t.service
        .create_secret(
            create(
                "SHARED_NAME",
                SecretScope::Global,
                api_key("sk-1234567890ab"),
            ),
            &super_ctx(),
        )
        .await
        .unwrap();
    let err = t
        .service
        .create_secret(
            create(
                "SHARED_NAME",
                SecretScope::Global,
                api_key("sk-1234567890ab"),
            ),
            &super_ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert_eq!(secret_count(&t).await, 5);
}

#[tokio::test]
async fn tampered_or_moved_ciphertext_fails_with_decryption_failed() {
    let t = TestService::new().await;
    let a = t
        .service
        .create_secret(
            create("A", SecretScope::Organization, api_key("sk-aaaaaaaaaaaa")),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let b = t
        .service
        .create_secret(
            create("B", SecretScope::Organization, api_key("sk-bbbbbbbbbbbb")),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    t.service
        .update_secret_value(
            &a,
            UpdateValueParams {
                value: api_key("sk-aaaa-version2"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    let mut raw = t.db.raw().await;
    let select =
        "SELECT encrypted_value FROM secret_versions WHERE secret_id = $1 AND version = $2";
    let update =
        "UPDATE secret_versions SET encrypted_value = $1 WHERE secret_id = $2 AND version = $3";

    // Moved to another version of the same secret.
    let a1 = raw
        .fetch_bytes(select, &[RawValue::Text(a.to_string()), RawValue::Int(1)])
        .await;
    raw.exec(
        update,
        &[
            RawValue::Bytes(a1.clone()),
            RawValue::Text(a.to_string()),
            RawValue::Int(2),
        ],
    )
    .await;
    let err = t.service.get_secret(&a, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DecryptionFailed);

    // Moved to another secret.
    raw.exec(
        update,
        &[
            RawValue::Bytes(a1.clone()),
            RawValue::Text(b.to_string()),
            RawValue::Int(1),
        ],
    )
    .await;
    let err = t.service.get_secret(&b, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DecryptionFailed);

    // One flipped bit.
    let mut tampered = a1.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    raw.exec(
        update,
        &[
            RawValue::Bytes(tampered),
            RawValue::Text(a.to_string()),
            RawValue::Int(1),
        ],
    )
    .await;
    let err = t
        .service
        .get_secret_version(&a, 1, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DecryptionFailed);
    assert!(!err.to_string().contains("sk-"), "{err}");
}

#[tokio::test]
async fn a_marker_value_leaves_no_trace_in_the_sqlite_file() {
    let t = TestService::new().await;
    let Some(path) = t.db.sqlite_path.clone() else {
        return; // A file-level check; PostgreSQL keeps its files elsewhere.
    };
    let marker = format!("MARKER{}", uuid::Uuid::new_v4().simple());
    let meta = t
        .service
        .create_secret(
            create("MARKED", SecretScope::Organization, api_key(&marker)),
            &ctx(),
        )
        .await
        .unwrap();
    t.service
        .update_secret_value(
            &meta.id,
            UpdateValueParams {
                value: generic_api(&format!("{marker}-v2")),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    t.service
        .rollback_secret(&meta.id, 1, None, &ctx())
        .await
        .unwrap();
    assert_eq!(
        key_of(&t.service.get_secret(&meta.id, &ctx()).await.unwrap()),
        marker
    );
    t.service.close().await.unwrap();
    drop(t.service);
    let dir = path.parent().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        checked += bytes.len();
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "marker found in a database file"
        );
    }
    assert!(checked > 0);
}

fn generic_api(key: &str) -> SecretValue {
    api_key(key)
}

#[tokio::test]
async fn listing_pages_in_sql_and_filters() {
    let t = TestService::new().await;
    for i in 0..1000 {
        let mut p = create(
            &format!("S{i:04}"),
            SecretScope::Organization,
            api_key("sk-1234567890ab"),
        );
        if i % 10 == 0 {
            p.tags = vec!["Even-Ten".into(), "db".into()];
        }
        if i % 100 == 0 {
            p.description = Some(format!("Production database {i}"));
        }
        t.service.create_secret(p, &ctx()).await.unwrap();
    }
    let mut seen = BTreeSet::new();
    for page in 1..=10 {
        let res = t
            .service
            .list_secrets(
                &ListSecretsParams {
                    page: Some(page),
                    limit: Some(100),
                    ..Default::default()
                },
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(res.total, 1000);
        assert_eq!(res.items.len(), 100);
        seen.extend(res.items.into_iter().map(|m| m.id));
    }
    assert_eq!(seen.len(), 1000);
    let past = t
        .service
        .list_secrets(
            &ListSecretsParams {
                page: Some(11),
                limit: Some(100),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, 1000);

    let tagged = t
        .service
        .list_secrets(
            &ListSecretsParams {
                tags: vec!["even-ten".into()],
                limit: Some(100),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(tagged.total, 100);
    let both = t
        .service
        .list_secrets(
            &ListSecretsParams {
                tags: vec!["even-ten".into(), "db".into()],
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(both.total, 100);
    let none = t
        .service
        .list_secrets(
            &ListSecretsParams {
                tags: vec!["even".into()],
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(none.total, 0, "tags match whole tags only");
    let searched = t
        .service
        .list_secrets(
            &ListSecretsParams {
                search: Some("PRODUCTION".into()),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(searched.total, 10);
    let by_name = t
        .service
        .list_secrets(
            &ListSecretsParams {
                search: Some("s099".into()),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(by_name.total, 10);
    let wildcard = t
        .service
        .list_secrets(
            &ListSecretsParams {
                search: Some("%".into()),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(
        wildcard.total, 0,
        "LIKE wildcards in the search are literal"
    );
    let by_type = t
        .service
        .list_secrets(
            &ListSecretsParams {
                secret_type: Some(SecretType::Generic),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(by_type.total, 0);
    let err = t
        .service
        .list_secrets(
            &ListSecretsParams {
                limit: Some(1000),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationError);
}

#[tokio::test]
async fn listing_shows_each_principal_what_it_may_see() {
    let t = TestService::new().await;
    let alice = ctx();
    let bob = admin_ctx("user-2", "org-2", "team-9", "project-9");
    let mk = |name: &str, scope| create(name, scope, api_key("sk-1234567890ab"));
    t.service
        .create_secret(mk("G", SecretScope::Global), &super_ctx())
        .await
        .unwrap();
    t.service
        .create_secret(mk("O1", SecretScope::Organization), &alice)
        .await
        .unwrap();
    t.service
        .create_secret(mk("T1", SecretScope::Team), &alice)
        .await
        .unwrap();
    t.service
        .create_secret(mk("P1", SecretScope::Project), &alice)
        .await
        .unwrap();
    t.service
        .create_secret(mk("U1", SecretScope::User), &alice)
        .await
        .unwrap();
    t.service
        .create_secret(mk("O2", SecretScope::Organization), &bob)
        .await
        .unwrap();
    t.service
        .create_secret(mk("T9", SecretScope::Team), &bob)
        .await
        .unwrap();
    t.service
        .create_secret(mk("U2", SecretScope::User), &bob)
        .await
        .unwrap();
    let names = |page: secret_api::Page<secret_api::SecretMetadata>| {
        page.items.into_iter().map(|m| m.name).collect::<Vec<_>>()
    };
    let a = t
        .service
        .list_secrets(&ListSecretsParams::default(), &alice)
        .await
        .unwrap();
    assert_eq!(
        names(a),
        vec!["O1", "P1", "T1", "U1"],
        "GLOBAL metadata is for super admins and grantees"
    );
    let b = t
        .service
        .list_secrets(&ListSecretsParams::default(), &bob)
        .await
        .unwrap();
    assert_eq!(names(b), vec!["O2", "T9", "U2"]);
    let root = t
        .service
        .list_secrets(&ListSecretsParams::default(), &super_ctx())
        .await
        .unwrap();
    assert_eq!(
        names(root),
        vec!["G", "O1", "O2", "P1", "T1", "T9", "U1", "U2"]
    );
    let scoped = t
        .service
        .list_secrets(
            &ListSecretsParams {
                scope: Some(SecretScope::User),
                ..Default::default()
            },
            &alice,
        )
        .await
        .unwrap();
    assert_eq!(names(scoped), vec!["U1"]);
}

#[tokio::test]
async fn get_many_returns_live_values_and_skips_missing_ones() {
    let t = TestService::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            t.service
                .create_secret(
                    create(
                        &format!("M{i}"),
                        SecretScope::Organization,
                        api_key(&format!("sk-many-{i:08}")),
                    ),
                    &ctx(),
                )
                .await
                .unwrap()
                .id,
        );
    }
    t.service
        .update_secret_value(
            &ids[0],
            UpdateValueParams {
                value: api_key("sk-many-updated0"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    t.service
        .delete_secret(&ids[4], None, &ctx())
        .await
        .unwrap();
    let mut ask = ids.clone();
    ask.push("missing".into());
    let got = t.service.get_secrets(&ask, &ctx()).await.unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(key_of(&got[&ids[0]]), "sk-many-updated0");
    assert_eq!(key_of(&got[&ids[3]]), "sk-many-00000003");
    assert!(!got.contains_key(&ids[4]));
}

#[tokio::test]
async fn metadata_updates_apply_keep_set_and_clear() {
    let (t, _clock) = TestService::with_manual_clock().await;
    let mut p = create(
        "META",
        SecretScope::Organization,
        api_key("sk-1234567890ab"),
    );
    p.tags = vec!["A".into()];
    let id = t.service.create_secret(p, &ctx()).await.unwrap().id;
    let m = t
        .service
        .update_secret(
            &id,
            UpdateSecretParams {
                description: FieldUpdate::Clear,
                expires_at: FieldUpdate::Set(t0() + Duration::days(10)),
                rotation_enabled: Some(true),
                tags: Some(vec!["Prod".into(), "prod".into(), "api".into()]),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(m.description, None);
    assert_eq!(m.expires_at, Some(t0() + Duration::days(10)));
    assert!(m.rotation_enabled);
    assert_eq!(
        m.rotation_interval_days,
        Some(90),
        "API keys default to 90 days"
    );
    assert_eq!(m.next_rotation_at, Some(t0() + Duration::days(90)));
    assert_eq!(m.tags, vec!["prod", "api"]);
    assert_eq!(m.current_version, 1, "metadata changes make no version");
    let m = t
        .service
        .update_secret(
            &id,
            UpdateSecretParams {
                rotation_enabled: Some(false),
                ..Default::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert!(!m.rotation_enabled);
    assert_eq!(m.next_rotation_at, None);
    assert_eq!(m.tags, vec!["prod", "api"], "unspecified fields are kept");
}

#[tokio::test]
async fn rotation_moves_the_schedule_and_expiry_blocks_reads() {
    let (t, clock) = TestService::with_manual_clock().await;
    let mut p = create("ROT", SecretScope::Organization, api_key("sk-1234567890ab"));
    p.rotation_enabled = true;
    p.rotation_interval_days = Some(30);
    p.expires_at = Some(t0() + Duration::days(60));
    let id = t.service.create_secret(p, &ctx()).await.unwrap().id;
    clock.advance(Duration::days(31));
    let m = t
        .service
        .rotate_secret(&id, api_key("sk-rotated-000001"), Some(1), &ctx())
        .await
        .unwrap();
    assert_eq!(m.current_version, 2);
    assert_eq!(m.last_rotated_at, Some(t0() + Duration::days(31)));
    assert_eq!(m.next_rotation_at, Some(t0() + Duration::days(61)));
    let versions = t.service.list_versions(&id, &ctx()).await.unwrap();
    assert_eq!(versions[0].change_reason.as_deref(), Some("Rotation"));
    clock.advance(Duration::days(30));
    let err = t.service.get_secret(&id, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SecretExpired);
    assert!(
        t.service.get_metadata(&id, &ctx()).await.is_ok(),
        "metadata stays readable"
    );
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_at_start() {
    let t = TestService::new().await;
    let (wrong, _) = random_master_key();
    let err = SecretService::open(t.db.connect().await, &wrong, Arc::new(SystemClock))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("master key")
            || err
                .internal_cause()
                .unwrap_or_default()
                .contains("master key"),
        "{err}"
    );
    let right = secret_api::MasterKeyMaterial::parse(&t.master_key).unwrap();
    SecretService::open(t.db.connect().await, &right, Arc::new(SystemClock))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_passphrase_master_key_opens_again_with_the_same_passphrase_only() {
    let db = TestDb::new().await;
    let pass = secret_api::MasterKeyMaterial::parse("correct horse battery staple").unwrap();
    let s = SecretService::open(db.connect().await, &pass, Arc::new(SystemClock))
        .await
        .unwrap();
    let id = s
        .create_secret(
            create("P", SecretScope::Organization, api_key("sk-1234567890ab")),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    drop(s);
    let again = secret_api::MasterKeyMaterial::parse("correct horse battery staple").unwrap();
    let s = SecretService::open(db.connect().await, &again, Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(
        key_of(&s.get_secret(&id, &ctx()).await.unwrap()),
        "sk-1234567890ab"
    );
    let wrong = secret_api::MasterKeyMaterial::parse("incorrect horse battery staple").unwrap();
    assert!(
        SecretService::open(db.connect().await, &wrong, Arc::new(SystemClock))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn without_the_change_feed_another_process_write_is_seen_once_the_cache_ttl_has_passed() {
    let t = TestService::new().await;
    let material = secret_api::MasterKeyMaterial::parse(&t.master_key).unwrap();
    let cache = secret_api::CacheConfig {
        ttl: std::time::Duration::from_millis(300),
        max_entries: 10,
        follow_changes: false,
        ..secret_api::CacheConfig::default()
    };
    let reader = SecretService::open_with(
        t.db.connect().await,
        &material,
        Arc::new(SystemClock),
        cache,
    )
    .await
    .unwrap();
    let id = t
        .service
        .create_secret(
            create(
                "TTL",
                SecretScope::Organization,
                api_key("sk-ttl-first-0001"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    assert_eq!(
        key_of(&reader.get_secret(&id, &ctx()).await.unwrap()),
        "sk-ttl-first-0001"
    );
    t.service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-ttl-second-002"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        key_of(&reader.get_secret(&id, &ctx()).await.unwrap()),
        "sk-ttl-second-002"
    );
    // The writing process itself never serves what it overwrote.
    assert_eq!(
        key_of(&t.service.get_secret(&id, &ctx()).await.unwrap()),
        "sk-ttl-second-002"
    );
}
