//! The batch writer's group commit on its own SQLite connection (and through the pool on
//! PostgreSQL, with `DATABASE_URL`): the rows it writes read back exactly like the pool's,
//! usage is counted, and a head another writer moved sends the batch back through the pool.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestDb, append, entry, master_key, verify};
use secret_store::{AuditStore, DbKind, KeyManager, NewUsage};

fn usage(n: u32, secret: &str) -> NewUsage {
    NewUsage {
        id: uuid::Uuid::now_v7().to_string(),
        secret_id: secret.to_string(),
        consumer_module: "mcp".to_string(),
        consumer_resource_id: n.is_multiple_of(2).then(|| format!("res-{n}")),
        organization_id: Some("org-1".to_string()),
        user_id: format!("user-{n}"),
        used_at: secret_core::audit::audit_timestamp(chrono::Utc::now()),
    }
}

#[tokio::test]
async fn batches_on_the_writers_connection_read_back_like_the_pools() {
    let t = TestDb::new().await;
    let db = t.connect().await;
    let keys = KeyManager::open(db.clone(), &master_key()).await.unwrap();
    let store = AuditStore::new(db.clone());
    assert_eq!(
        store.writes_batches_on_own_connection().await,
        db.kind() == DbKind::Sqlite
    );

    // The first batch goes through the pool (it reads the head); the next ones continue
    // from the head it left, on the writer's own connection on SQLite.
    let mut written = Vec::new();
    for (from, to) in [(1, 3), (4, 40), (41, 41)] {
        let entries: Vec<_> = (from..=to)
            .map(|n| {
                let mut e = entry(n);
                e.actor_name = Some(format!("name {n}"));
                e.secret_scope = Some(secret_core::SecretScope::Organization);
                e.request_id = n.is_multiple_of(3).then(|| format!("req-{n}"));
                e.details = format!("{{\"n\":{n}}}");
                e
            })
            .collect();
        let usages: Vec<_> = (from..=to).map(|n| usage(n, "s-used")).collect();
        store.append_batch(&entries, &usages).await.unwrap();
        written.extend(entries);
    }
    // Usage alone, no records.
    store
        .append_batch(&[], &[usage(100, "s-other")])
        .await
        .unwrap();

    let records = store.scan(0, 1_000).await.unwrap();
    assert_eq!(records.len(), written.len());
    for (i, (record, entry)) in records.iter().zip(&written).enumerate() {
        assert_eq!(record.seq, i as i64 + 1);
        assert_eq!(&record.entry, entry, "record {}", record.seq);
    }
    let key = store.chain_key().await.unwrap();
    assert_eq!(
        verify(&store, &key, None).await.unwrap(),
        written.len() as u64
    );

    // The stored timestamps have one shape whichever path wrote them.
    if db.kind() == DbKind::Sqlite {
        for seq in [1, 2, 4, 40, 41] {
            let stored = t
                .text(&format!(
                    "SELECT typeof(timestamp) || ' ' || timestamp FROM secret_audit_logs WHERE seq = {seq}"
                ))
                .await;
            let at = stored.strip_prefix("text ").expect(&stored);
            assert!(at.ends_with("+00:00") && at.contains('T'), "{stored}");
            assert_eq!(
                chrono::DateTime::parse_from_rfc3339(at).unwrap(),
                written[seq as usize - 1].timestamp,
                "{stored}"
            );
        }
    }
    assert_eq!(
        t.int("SELECT count(*) FROM secret_usage WHERE secret_id = 's-used'")
            .await,
        41
    );
    assert_eq!(
        t.int("SELECT read_count FROM secret_usage_summary WHERE secret_id = 's-used'")
            .await,
        41
    );
    assert_eq!(
        t.int("SELECT read_count FROM secret_usage_summary WHERE secret_id = 's-other'")
            .await,
        1
    );
    drop(keys);
}

#[tokio::test]
async fn a_head_moved_by_another_writer_sends_the_batch_through_the_pool() {
    let t = TestDb::new().await;
    let db = t.connect().await;
    let _keys = KeyManager::open(db.clone(), &master_key()).await.unwrap();
    let first = AuditStore::new(db.clone());
    let second = AuditStore::new(db.clone());
    append(&first, 1, 2).await;
    append(&first, 3, 4).await; // continues from the head it knows
    append(&second, 5, 6).await; // moves the head behind first's back
    append(&first, 7, 8).await; // its known head is stale: rolled back, then the pool
    append(&first, 9, 9).await;
    append(&second, 10, 10).await;
    let key = first.chain_key().await.unwrap();
    assert_eq!(verify(&first, &key, None).await.unwrap(), 10);
    let actors: Vec<String> = first
        .scan(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entry.actor_id)
        .collect();
    let expected: Vec<String> = (1..=10).map(|n| format!("user-{n}")).collect();
    assert_eq!(actors, expected);
}
