//! Permanent delete hands the backend every version it removed (the list an external vault
//! needs to delete its copies), on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Utc;
use secret_core::{SecretScope, SecretType, StorageBackendKind};
use secret_store::{NewSecret, NewVersion, SecretRepository, StoredValue};

#[tokio::test]
async fn permanent_delete_returns_the_versions_it_removed() {
    let db = common::TestDb::new().await;
    let repo = SecretRepository::new(db.connect().await);
    let now = Utc::now();
    let mut tx = repo.begin().await.unwrap();
    tx.insert_secret(&NewSecret {
        id: "s-1".into(),
        name: "GONE".into(),
        description: None,
        secret_type: SecretType::Generic,
        storage_backend: StorageBackendKind::HashicorpVault,
        vault_id: "local".to_string(),
        scope: SecretScope::Global,
        organization_id: None,
        team_id: None,
        project_id: None,
        user_id: None,
        expires_at: None,
        rotation_enabled: false,
        rotation_interval_days: None,
        next_rotation_at: None,
        tags: vec![],
        metadata: Default::default(),
        facts: Default::default(),
        masked: None,
        lifecycle: Default::default(),
        created_by_id: "u".into(),
        now,
    })
    .await
    .unwrap();
    for version in 1..=3 {
        tx.insert_version(NewVersion {
            secret_id: "s-1",
            version,
            stored: StoredValue::External {
                vault_ref: "vault/s-1".into(),
                vault_version_id: Some(version.to_string()),
            },
            change_reason: None,
            created_by_id: "u",
            now,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = repo.begin().await.unwrap();
    let removed = tx.delete_permanently("s-1").await.unwrap();
    tx.commit().await.unwrap();
    let mut ids: Vec<Option<String>> = removed
        .into_iter()
        .map(|v| match v.stored {
            StoredValue::External {
                vault_version_id, ..
            } => vault_version_id,
            StoredValue::Local { .. } => None,
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [Some("1".into()), Some("2".into()), Some("3".into())],
        "every version is handed to the backend"
    );
    assert!(repo.find("s-1").await.unwrap().is_none());
}
