//! The key ring across processes (finding 8, parts 4 and 5), on SQLite and, with
//! `DATABASE_URL`, on PostgreSQL: two key managers on one database, as two processes would
//! have; and data keys still used by a rotation's pending version.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestDb, master_key};
use secret_core::{ErrorCode, KeyStatus, SecretError, SecretScope, SecretType};
use secret_store::{
    KeyInfo, KeyManager, NewSecret, NewVersion, SecretRepository, StoreError, StoredValue,
};

/// Every key row as the database holds it: id, version, status and wrapped key.
async fn key_rows(t: &TestDb) -> Vec<(String, i64, String, Vec<u8>)> {
    let n = t.int("SELECT COUNT(*) FROM encryption_keys").await;
    let mut rows = Vec::new();
    for offset in 0..n {
        let pick = |col: &str| {
            format!("SELECT {col} FROM encryption_keys ORDER BY version LIMIT 1 OFFSET {offset}")
        };
        rows.push((
            t.text(&pick("key_id")).await,
            t.int(&pick("version")).await,
            t.text(&pick("status")).await,
            t.blob(&pick("encrypted_key")).await,
        ));
    }
    rows
}

fn is_conflict(err: &StoreError) -> bool {
    matches!(err, StoreError::Domain(e) if e.code() == ErrorCode::Conflict)
}

fn active(keys: &[KeyInfo]) -> Vec<&str> {
    keys.iter()
        .filter(|k| k.status == KeyStatus::Active)
        .map(|k| k.key_id.as_str())
        .collect()
}

#[tokio::test]
async fn a_data_key_rotation_after_another_process_rotated_the_master_key_is_refused_and_writes_nothing()
 {
    let t = TestDb::new().await;
    let first = master_key();
    let a = KeyManager::open(t.connect().await, &first).await.unwrap();
    let b = KeyManager::open(t.connect().await, &first).await.unwrap();
    let second = master_key();
    a.rotate_master_key(&second).await.unwrap();

    let before = key_rows(&t).await;
    let settings_before = t.blob("SELECT key_check FROM crypto_settings").await;
    let err = b.rotate_data_key().await.unwrap_err();
    assert!(is_conflict(&err), "{err}");
    let message = SecretError::from(err).to_string();
    assert!(
        message.contains("master key was rotated") && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(key_rows(&t).await, before, "the DEK table is unchanged");
    // A stale master-key rotation is refused the same way.
    let err = b.rotate_master_key(&master_key()).await.unwrap_err();
    assert!(is_conflict(&err), "{err}");
    assert_eq!(key_rows(&t).await, before);
    assert_eq!(
        t.blob("SELECT key_check FROM crypto_settings").await,
        settings_before
    );

    // B reopened with the old master key is refused at start; with the new one it works.
    assert!(KeyManager::open(t.connect().await, &first).await.is_err());
    let b = KeyManager::open(t.connect().await, &second).await.unwrap();
    let new_key = b.rotate_data_key().await.unwrap();
    let keys = b.list_keys().await.unwrap();
    assert_eq!(active(&keys), vec![new_key.as_str()]);
    // And A, which holds the new master key, reads what B encrypts under its new key.
    let (key_id, blob) = b.encrypt("sec-1", 1, b"value-under-new-key").unwrap();
    assert_eq!(key_id, new_key);
    assert_eq!(
        a.decrypt(&key_id, "sec-1", 1, &blob)
            .await
            .unwrap()
            .as_slice(),
        b"value-under-new-key"
    );
}

#[tokio::test]
async fn a_data_key_rotation_builds_on_the_keys_another_process_rotated() {
    let t = TestDb::new().await;
    let material = master_key();
    let a = KeyManager::open(t.connect().await, &material)
        .await
        .unwrap();
    let b = KeyManager::open(t.connect().await, &material)
        .await
        .unwrap();
    let from_a = a.rotate_data_key().await.unwrap();
    // B has not seen A's key; its rotation re-reads the keys first.
    let from_b = b.rotate_data_key().await.unwrap();
    let keys = b.list_keys().await.unwrap();
    assert_eq!(active(&keys), vec![from_b.as_str()], "one ACTIVE key");
    let newest = keys.iter().find(|k| k.key_id == from_b).unwrap();
    assert_eq!(newest.rotated_from_id.as_deref(), Some(from_a.as_str()));
    assert_eq!(
        keys.iter()
            .filter(|k| k.status == KeyStatus::Rotating)
            .count(),
        2
    );
    // B still decrypts values under A's key without another refresh.
    let (key_id, blob) = a.encrypt("sec-1", 1, b"v").unwrap();
    assert_eq!(key_id, from_a);
    assert_eq!(
        b.decrypt(&key_id, "sec-1", 1, &blob)
            .await
            .unwrap()
            .as_slice(),
        b"v"
    );
}

fn new_secret(id: &str) -> NewSecret {
    NewSecret {
        id: id.to_string(),
        name: "ROTATED".into(),
        description: None,
        secret_type: SecretType::ApiKey,
        storage_backend: secret_core::StorageBackendKind::LocalEncrypted,
        vault_id: "local".to_string(),
        scope: SecretScope::Organization,
        organization_id: Some("org-1".into()),
        team_id: None,
        project_id: None,
        user_id: None,
        expires_at: None,
        rotation_enabled: true,
        rotation_interval_days: Some(30),
        next_rotation_at: None,
        tags: Vec::new(),
        metadata: Default::default(),
        facts: Default::default(),
        masked: None,
        lifecycle: Default::default(),
        created_by_id: "alice".into(),
        now: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn a_key_referenced_only_by_a_pending_version_is_not_destroyed() {
    let t = TestDb::new().await;
    let db = t.connect().await;
    let keys = KeyManager::open(db.clone(), &master_key()).await.unwrap();
    let repo = SecretRepository::new(db);
    let id = uuid::Uuid::now_v7().to_string();
    let (old_key, v1) = keys.encrypt(&id, 1, b"version-one").unwrap();
    let mut tx = repo.begin().await.unwrap();
    tx.insert_secret(&new_secret(&id)).await.unwrap();
    tx.insert_version(NewVersion {
        secret_id: &id,
        version: 1,
        stored: StoredValue::Local {
            key_id: old_key.clone(),
            ciphertext: v1,
        },
        change_reason: None,
        created_by_id: "alice",
        now: chrono::Utc::now(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // An automatic rotation stored its next value as pending, under the same key.
    let (pending_key, v2) = keys.encrypt(&id, 2, b"version-two").unwrap();
    assert_eq!(pending_key, old_key);
    repo.put_pending(
        &id,
        2,
        &StoredValue::Local {
            key_id: pending_key,
            ciphertext: v2.clone(),
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();

    // The data key rotates and every version moves off the old key, which retires.
    let new_key = keys.rotate_data_key().await.unwrap();
    assert_eq!(keys.reencrypt_all(10).await.unwrap(), 1);
    let status = |keys: Vec<KeyInfo>| keys.into_iter().find(|k| k.key_id == old_key).unwrap();
    assert_eq!(
        status(keys.list_keys().await.unwrap()).status,
        KeyStatus::Retired
    );

    // Only the pending version references it: it is kept, and still decrypts the value.
    assert!(keys.destroy_unreferenced_keys().await.unwrap().is_empty());
    assert_eq!(
        status(keys.list_keys().await.unwrap()).status,
        KeyStatus::Retired
    );
    assert_eq!(
        keys.decrypt(&old_key, &id, 2, &v2)
            .await
            .unwrap()
            .as_slice(),
        b"version-two"
    );

    // Once the pending version is gone, the key is destroyed.
    repo.drop_pending(&id).await.unwrap();
    assert_eq!(
        keys.destroy_unreferenced_keys().await.unwrap(),
        vec![old_key.clone()]
    );
    assert_eq!(
        status(keys.list_keys().await.unwrap()).status,
        KeyStatus::Destroyed
    );
    assert!(
        t.blob(&format!(
            "SELECT encrypted_key FROM encryption_keys WHERE key_id = '{old_key}'"
        ))
        .await
        .is_empty(),
        "the destroyed key's material is erased"
    );
    assert_eq!(keys.active_key_id().unwrap(), new_key);
}
