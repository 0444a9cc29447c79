//! The keyed audit chain (security finding 5), on SQLite and, with `DATABASE_URL`, on
//! PostgreSQL: a chain rewritten by someone who can write to the database but does not hold
//! the master key fails verification; a kept head catches truncation; the chain key
//! survives master-key rotation; chains written before the upgrade keep verifying.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestDb, append, master_key, verify};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use secret_core::audit::{
    AuditEntry, AuditRecord, ChainBreak, ChainVerifier, ExpectedHead, GENESIS_HASH, chain_hash,
    keyed_chain_mac,
};
use secret_crypto::{CryptoError, MasterKeyMaterial};
use secret_store::entity::{audit_chain_head, secret_audit_logs};
use secret_store::{AuditStore, ChainKeyError, Database, KeyManager, StoreError};

/// A fresh installation: key manager open (which creates the chain key), `n` records.
async fn installation(n: u32) -> (TestDb, Database, MasterKeyMaterial, KeyManager, AuditStore) {
    let t = TestDb::new().await;
    let db = t.connect().await;
    let material = master_key();
    let keys = KeyManager::open(db.clone(), &material).await.unwrap();
    let store = AuditStore::new(db.clone());
    if n > 0 {
        append(&store, 1, n).await;
    }
    (t, db, material, keys, store)
}

/// What someone with write access to the database but no master key can do: delete record
/// `removed`, renumber and re-tag every record from `from` on with `tag`, linking each to
/// the one before, and move the head to the new last record.
async fn rewrite_without(
    t: &TestDb,
    records: &[AuditRecord],
    removed: i64,
    from: i64,
    tag: impl Fn(i64, &str, &AuditEntry) -> String,
) {
    assert_eq!(
        t.exec(&format!(
            "DELETE FROM secret_audit_logs WHERE seq = {removed}"
        ))
        .await,
        1
    );
    let mut prev = records
        .iter()
        .find(|r| r.seq == from - 1)
        .map_or(GENESIS_HASH.to_string(), |r| r.hash.clone());
    let mut seq = from - 1;
    for r in records.iter().filter(|r| r.seq >= from && r.seq != removed) {
        seq += 1;
        let hash = tag(seq, &prev, &r.entry);
        t.exec(&format!(
            "UPDATE secret_audit_logs SET seq = {seq}, prev_hash = '{prev}', hash = '{hash}' \
             WHERE id = '{}'",
            r.entry.id
        ))
        .await;
        prev = hash;
    }
    t.exec(&format!(
        "UPDATE audit_chain_head SET seq = {seq}, hash = '{prev}' WHERE id = 1"
    ))
    .await;
}

/// The verifier of earlier versions (every record unkeyed) over the stored chain.
async fn verify_unkeyed(store: &AuditStore) -> Result<u64, ChainBreak> {
    let mut verifier = ChainVerifier::new();
    for record in store.scan(0, 1_000_000).await.unwrap() {
        verifier.check(&record)?;
    }
    let head = store.head().await.unwrap();
    verifier.finish(head.seq, &head.hash)
}

#[tokio::test]
async fn consistently_rewritten_chain_without_the_master_key_fails_verify() {
    // With the public unkeyed function: record 3 deleted, every hash recomputed, the head
    // moved. The unkeyed verification of earlier versions calls this chain intact.
    let (t, db, material, keys, store) = installation(6).await;
    let key = KeyManager::read_audit_chain_key(&db, &material)
        .await
        .unwrap();
    assert_eq!(key.keyed_from_seq(), 1);
    assert_eq!(verify(&store, &key, None).await, Ok(6));
    let original = store.scan(0, 100).await.unwrap();
    rewrite_without(&t, &original, 3, 1, chain_hash).await;
    assert_eq!(
        verify_unkeyed(&store).await,
        Ok(5),
        "the unkeyed chain of earlier versions accepts the rewrite"
    );
    let first = ChainBreak::Changed {
        seq: 1,
        id: original[0].entry.id.clone(),
    };
    assert_eq!(verify(&store, &key, None).await, Err(first.clone()));
    assert_eq!(
        verify(&store, keys.audit_chain_key(), None).await,
        Err(first)
    );

    // With an HMAC under a key that is not the chain key: record 3 deleted, every later
    // record re-tagged and linked, the head moved.
    let (t, db, material, _keys, store) = installation(6).await;
    let original = store.scan(0, 100).await.unwrap();
    let wrong = [0x5a; 32];
    rewrite_without(&t, &original, 3, 3, |seq, prev, e| {
        keyed_chain_mac(&wrong, seq, prev, e)
    })
    .await;
    let key = KeyManager::read_audit_chain_key(&db, &material)
        .await
        .unwrap();
    assert_eq!(
        verify(&store, &key, None).await,
        Err(ChainBreak::Changed {
            seq: 3,
            id: original[3].entry.id.clone()
        })
    );
    // And the unkeyed re-tagging of only the records after the deletion.
    let (t, db, material, _keys, store) = installation(6).await;
    let original = store.scan(0, 100).await.unwrap();
    rewrite_without(&t, &original, 3, 3, chain_hash).await;
    let key = KeyManager::read_audit_chain_key(&db, &material)
        .await
        .unwrap();
    assert_eq!(
        verify(&store, &key, None).await,
        Err(ChainBreak::Changed {
            seq: 3,
            id: original[3].entry.id.clone()
        })
    );
}

#[tokio::test]
async fn truncated_chain_fails_given_expect_head() {
    let (t, db, material, _keys, store) = installation(5).await;
    let kept = store.head().await.unwrap();
    assert_eq!(kept.seq, 5);
    let kept = ExpectedHead {
        seq: kept.seq,
        hash: kept.hash,
    };
    append(&store, 6, 7).await;
    let key = KeyManager::read_audit_chain_key(&db, &material)
        .await
        .unwrap();
    // The chain grew past the kept head: intact.
    assert_eq!(verify(&store, &key, Some(kept.clone())).await, Ok(7));

    // Cut back to record 3, the head moved with it: consistent, so only the kept head
    // shows that records are missing.
    let records = store.scan(0, 100).await.unwrap();
    t.exec("DELETE FROM secret_audit_logs WHERE seq > 3").await;
    t.exec(&format!(
        "UPDATE audit_chain_head SET seq = 3, hash = '{}' WHERE id = 1",
        records[2].hash
    ))
    .await;
    assert_eq!(verify(&store, &key, None).await, Ok(3));
    assert_eq!(
        verify(&store, &key, Some(kept.clone())).await,
        Err(ChainBreak::ExpectedHeadMissing {
            last_seq: 3,
            expected_seq: 5
        })
    );
    // A kept head whose record carries another tag.
    let other = ExpectedHead {
        seq: 2,
        hash: kept.hash.clone(),
    };
    assert_eq!(
        verify(&store, &key, Some(other)).await,
        Err(ChainBreak::ExpectedHeadMismatch {
            seq: 2,
            id: records[1].entry.id.clone()
        })
    );
}

#[tokio::test]
async fn chain_key_survives_master_key_rotation() {
    let (t, db, first, keys, store) = installation(3).await;
    let key_id = keys.audit_chain_key().key_id().to_string();
    let wrapped_before = t.blob("SELECT encrypted_key FROM audit_chain_key").await;
    let second = master_key();
    keys.rotate_master_key(&second).await.unwrap();
    // The same process keeps appending, and so does another opened with the new key.
    append(&store, 4, 5).await;
    let other_db = t.connect().await;
    let other = KeyManager::open(other_db.clone(), &second).await.unwrap();
    append(&AuditStore::new(other_db), 6, 7).await;
    let wrapped_after = t.blob("SELECT encrypted_key FROM audit_chain_key").await;
    assert_ne!(
        wrapped_before, wrapped_after,
        "the chain key was re-wrapped"
    );
    // Only the fresh unwrapping below is loaded when verifying.
    drop((keys, other));

    let key = KeyManager::read_audit_chain_key(&db, &second)
        .await
        .unwrap();
    assert_eq!(key.key_id(), key_id, "the chain key never changes");
    assert_eq!(key.keyed_from_seq(), 1);
    assert_eq!(verify(&store, &key, None).await, Ok(7));
    assert!(matches!(
        KeyManager::read_audit_chain_key(&db, &first).await,
        Err(ChainKeyError::Store(StoreError::Crypto(
            CryptoError::WrongMasterKey
        )))
    ));
    // A second master-key rotation, from a new key manager: still the same key.
    let keys = KeyManager::open(db.clone(), &second).await.unwrap();
    let third = master_key();
    keys.rotate_master_key(&third).await.unwrap();
    append(&store, 8, 8).await;
    drop((keys, key));
    let key = KeyManager::read_audit_chain_key(&db, &third).await.unwrap();
    assert_eq!(key.key_id(), key_id);
    assert_eq!(verify(&store, &key, None).await, Ok(8));
}

/// Writes records numbered `1..=n` the way versions before the chain key did: the unkeyed
/// hash, one insert per record, the head moved.
async fn append_unkeyed<C: ConnectionTrait>(conn: &C, n: u32) -> Vec<String> {
    let mut prev = GENESIS_HASH.to_string();
    let mut hashes = Vec::new();
    for i in 1..=n {
        let seq = i64::from(i);
        let e = common::entry(i);
        let hash = chain_hash(seq, &prev, &e);
        secret_audit_logs::ActiveModel {
            id: Set(e.id.clone()),
            seq: Set(seq),
            prev_hash: Set(prev.clone()),
            hash: Set(hash.clone()),
            event_type: Set(e.event_type.as_str().to_string()),
            event_category: Set(e.event_category.as_str().to_string()),
            actor_type: Set(e.actor_type.as_str().to_string()),
            actor_id: Set(e.actor_id.clone()),
            actor_name: Set(e.actor_name.clone()),
            organization_id: Set(e.organization_id.clone()),
            team_id: Set(e.team_id.clone()),
            project_id: Set(e.project_id.clone()),
            secret_id: Set(e.secret_id.clone()),
            secret_name: Set(e.secret_name.clone()),
            secret_scope: Set(None),
            action: Set(e.action.clone()),
            details: Set(e.details.clone()),
            ip_address: Set(None),
            user_agent: Set(None),
            request_id: Set(None),
            consumer_module: Set(e.consumer_module.clone()),
            outcome: Set(e.outcome.as_str().to_string()),
            error_message: Set(None),
            timestamp: Set(e.timestamp),
        }
        .insert(conn)
        .await
        .unwrap();
        audit_chain_head::ActiveModel {
            id: Set(1),
            seq: Set(seq),
            hash: Set(hash.clone()),
        }
        .update(conn)
        .await
        .unwrap();
        hashes.push(hash.clone());
        prev = hash;
    }
    hashes
}

/// A database as the version before the chain key left it: its schema (the initial
/// migration only) and `n` records it wrote. Returns their hashes.
async fn pre_upgrade_database(t: &TestDb, n: u32) -> Vec<String> {
    use secret_migration::{Migrator, MigratorTrait};
    let old = sea_orm::Database::connect(t.url.as_str()).await.unwrap();
    Migrator::up(&old, Some(1)).await.unwrap();
    let hashes = append_unkeyed(&old, n).await;
    old.close().await.unwrap();
    hashes
}

#[tokio::test]
async fn pre_upgrade_unkeyed_prefix_still_verifies() {
    let t = TestDb::new().await;
    let old_hashes = pre_upgrade_database(&t, 5).await;

    // The upgrade: migrations, then the first start of the key manager.
    let db = t.connect().await;
    let material = master_key();
    let keys = KeyManager::open(db.clone(), &material).await.unwrap();
    assert_eq!(keys.audit_chain_key().keyed_from_seq(), 6);
    let store = AuditStore::new(db.clone());
    append(&store, 6, 8).await;
    drop(keys);

    let key = KeyManager::read_audit_chain_key(&db, &material)
        .await
        .unwrap();
    assert_eq!(key.keyed_from_seq(), 6, "where the keyed part starts");
    assert_eq!(verify(&store, &key, None).await, Ok(8));
    let records = store.scan(0, 100).await.unwrap();
    for r in &records[..5] {
        assert_eq!(
            r.hash,
            old_hashes[(r.seq - 1) as usize],
            "the prefix is untouched"
        );
    }
    for r in &records[5..] {
        assert_ne!(r.hash, chain_hash(r.seq, &r.prev_hash, &r.entry), "keyed");
    }
    // A restart does not move the keyed start.
    let keys = KeyManager::open(db.clone(), &material).await.unwrap();
    assert_eq!(keys.audit_chain_key().keyed_from_seq(), 6);
    drop(keys);

    // No downgrade: the keyed records re-tagged with the public function fail at the
    // keyed start...
    rewrite_without(&t, &records, 8, 6, chain_hash).await;
    assert_eq!(
        verify(&store, &key, None).await,
        Err(ChainBreak::Changed {
            seq: 6,
            id: records[5].entry.id.clone()
        })
    );
    // ...and moving the keyed start past them in the key's row breaks the key.
    t.exec("UPDATE audit_chain_key SET keyed_from_seq = 100")
        .await;
    assert!(matches!(
        KeyManager::read_audit_chain_key(&db, &material).await,
        Err(ChainKeyError::Altered)
    ));
    assert!(matches!(
        store.chain_key().await,
        Err(ChainKeyError::Altered)
    ));
    assert!(KeyManager::open(db.clone(), &material).await.is_err());
}

#[tokio::test]
async fn appends_fail_closed_without_the_chain_key_and_write_nothing() {
    let (t, _db, _material, keys, store) = installation(2).await;
    let head = store.head().await.unwrap();
    // No key manager holds the key any more: nothing is written unkeyed.
    drop(keys);
    assert!(store.append_batch(&[common::entry(3)], &[]).await.is_err());
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(t.int("SELECT COUNT(*) FROM secret_audit_logs").await, 2);

    // The key's row removed behind the key manager's back: appends fail too.
    let (t, _db, _material, _keys, store) = installation(2).await;
    t.exec("DELETE FROM audit_chain_key").await;
    assert!(store.append_batch(&[common::entry(3)], &[]).await.is_err());
    assert!(matches!(
        store.chain_key().await,
        Err(ChainKeyError::NotKeyed)
    ));
    assert_eq!(t.int("SELECT COUNT(*) FROM secret_audit_logs").await, 2);

    // The head moved back before the keyed start (keyed records cut off): refused.
    let t = TestDb::new().await;
    pre_upgrade_database(&t, 3).await;
    let db = t.connect().await;
    let keys = KeyManager::open(db.clone(), &master_key()).await.unwrap();
    assert_eq!(keys.audit_chain_key().keyed_from_seq(), 4);
    let store = AuditStore::new(db);
    append(&store, 4, 5).await;
    let records = store.scan(0, 100).await.unwrap();
    t.exec("DELETE FROM secret_audit_logs WHERE seq > 2").await;
    t.exec(&format!(
        "UPDATE audit_chain_head SET seq = 2, hash = '{}' WHERE id = 1",
        records[1].hash
    ))
    .await;
    assert!(store.append_batch(&[common::entry(6)], &[]).await.is_err());
    assert_eq!(t.int("SELECT COUNT(*) FROM secret_audit_logs").await, 2);
}

#[tokio::test]
async fn verification_with_an_unloaded_key_or_an_uninitialised_database_cannot_check() {
    let t = TestDb::new().await;
    let db = t.connect().await;
    assert!(matches!(
        KeyManager::read_audit_chain_key(&db, &master_key()).await,
        Err(ChainKeyError::NotInitialised)
    ));
    let store = AuditStore::new(db.clone());
    assert!(matches!(
        store.chain_key().await,
        Err(ChainKeyError::NotKeyed)
    ));
    let keys = KeyManager::open(db.clone(), &master_key()).await.unwrap();
    assert_eq!(
        store.chain_key().await.unwrap().key_id(),
        keys.audit_chain_key().key_id()
    );
    drop(keys);
    assert!(matches!(
        store.chain_key().await,
        Err(ChainKeyError::NotLoaded)
    ));
}

#[tokio::test]
async fn writers_that_remember_the_head_stay_on_one_chain_when_another_moves_it() {
    // Two stores over one database stand for two processes: each remembers where its own
    // last batch left the head, and the other moves it in between.
    let (t, db, _material, keys, first) = installation(2).await;
    let second = AuditStore::new(db.clone());
    append(&second, 3, 4).await;
    append(&first, 5, 5).await;
    append(&first, 6, 8).await;
    append(&second, 9, 9).await;
    assert_eq!(verify(&first, keys.audit_chain_key(), None).await, Ok(9));
    assert_eq!(t.int("SELECT COUNT(*) FROM secret_audit_logs").await, 9);
    let seqs = first.scan(0, 100).await.unwrap();
    assert_eq!(
        seqs.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>()
    );
}
