//! Changes across processes sharing one database (issue 13, ARCHITECTURE §8): two services
//! on the same database stand for two processes (server replicas, a server and the
//! scheduler). The reader caches with a 300 s TTL, so only the change feed (PostgreSQL
//! LISTEN/NOTIFY, SQLite's polled change log) can make it see the writer's changes in time.
//! SQLite by default, PostgreSQL when `DATABASE_URL` points at one (CI runs both).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secret_api::{
    CacheConfig, CreateSecretParams, ErrorCode, GrantAccessParams, OrgRole, Principal,
    SecretContext, SecretScope, SecretService, UpdateValueParams,
};
use secret_core::wire::ChangeKind;
use secret_core::{GranteeType, SystemClock};
use secret_store::{Change, ChangeFeed, FeedEvent, Published};
use secret_testkit::*;

const LONG_TTL: Duration = Duration::from_secs(300);
const WITHIN: Duration = Duration::from_secs(5);

/// A second service on `t`'s database with a long-lived cache.
async fn replica(t: &TestService) -> SecretService {
    let material = secret_api::MasterKeyMaterial::parse(&t.master_key).unwrap();
    let cache = CacheConfig {
        ttl: LONG_TTL,
        ..CacheConfig::default()
    };
    let s = SecretService::open_with(
        t.db.connect().await,
        &material,
        Arc::new(SystemClock),
        cache,
    )
    .await
    .unwrap();
    connected(&s).await;
    s
}

async fn connected(s: &SecretService) {
    eventually("the change feed connects", || async {
        s.change_feed_status().connected
    })
    .await;
}

/// Polls `check` every 5 ms until it holds; panics after [`WITHIN`]. Returns how long it
/// took.
async fn eventually<F, Fut>(what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < WITHIN, "{what}: not within {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn changed(change: Change) -> FeedEvent {
    FeedEvent::Changed(Published {
        origin: "test".to_string(),
        change,
    })
}

fn member() -> SecretContext {
    ctx_of(Principal::user("member").with_org("org-1", OrgRole::Member)).in_organization("org-1")
}

async fn org_secret(t: &TestService, name: &str, key: &str) -> secret_api::SecretId {
    t.service
        .create_secret(
            CreateSecretParams::new(name, SecretScope::Organization, api_key(key)),
            &ctx(),
        )
        .await
        .unwrap()
        .id
}

async fn value_of(
    s: &SecretService,
    id: &secret_api::SecretId,
    c: &SecretContext,
) -> Option<String> {
    s.get_secret(id, c).await.ok().map(|v| key_of(&v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_update_rotation_and_delete_by_one_service_reach_the_others_cache_at_once() {
    let t = TestService::new().await;
    let reader = replica(&t).await;
    let id = org_secret(&t, "REPLICATED", "sk-replica-first-01").await;
    assert_eq!(
        value_of(&reader, &id, &ctx()).await.unwrap(),
        "sk-replica-first-01"
    );

    t.service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-replica-second-2"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    eventually("the update is served", || async {
        value_of(&reader, &id, &ctx()).await.as_deref() == Some("sk-replica-second-2")
    })
    .await;

    t.service
        .rotate_secret(&id, api_key("sk-replica-rotated-3"), None, &ctx())
        .await
        .unwrap();
    eventually("the rotation is served", || async {
        value_of(&reader, &id, &ctx()).await.as_deref() == Some("sk-replica-rotated-3")
    })
    .await;

    t.service.delete_secret(&id, None, &ctx()).await.unwrap();
    eventually("the deletion is enforced", || async {
        matches!(reader.get_secret(&id, &ctx()).await,
            Err(e) if e.code() == ErrorCode::SecretNotFound)
    })
    .await;
    t.service.restore_secret(&id, &ctx()).await.unwrap();
    eventually("the restore is served", || async {
        value_of(&reader, &id, &ctx()).await.as_deref() == Some("sk-replica-rotated-3")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_is_enforced_by_the_other_service_at_once() {
    let t = TestService::new().await;
    let reader = replica(&t).await;
    let id = org_secret(&t, "GRANTED", "sk-granted-0000001").await;
    let grant = t
        .service
        .grant_access(
            &id,
            GrantAccessParams {
                grantee_type: GranteeType::User,
                grantee_id: "member".to_string(),
                can_read: true,
                can_update: false,
                can_delete: false,
                can_grant: false,
                expires_at: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    // The reader caches the secret with its grant.
    eventually("the grant is honoured", || async {
        value_of(&reader, &id, &member()).await.is_some()
    })
    .await;
    t.service
        .revoke_access(&id, &grant.id, &ctx())
        .await
        .unwrap();
    eventually("the revocation is enforced", || async {
        matches!(reader.get_secret(&id, &member()).await,
            Err(e) if e.code() == ErrorCode::AccessDenied)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_key_rotated_by_one_service_encrypts_the_others_new_values() {
    let t = TestService::new().await;
    let other = replica(&t).await;
    let new_key = t.service.rotate_data_key("ops").await.unwrap();
    eventually("the other service switches keys", || async {
        other.key_status().await.unwrap().active_key_id == new_key
    })
    .await;
    let id = other
        .create_secret(
            CreateSecretParams::new(
                "AFTER_ROTATION",
                SecretScope::Organization,
                api_key("sk-after-rotation-1"),
            ),
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    let mut raw = t.db.raw().await;
    let under_new = raw
        .count(&format!(
            "SELECT COUNT(*) FROM secret_versions WHERE secret_id = '{id}' AND key_id = '{new_key}'"
        ))
        .await;
    assert_eq!(under_new, 1, "the other service encrypted with the old key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_answers_resync_first_then_every_committed_change_in_order() {
    let t = TestService::new().await;
    let db = t.db.connect().await;
    let mut feed = ChangeFeed::new(db.clone());
    assert_eq!(feed.next().await.unwrap(), FeedEvent::Resync);
    // Published in a transaction that rolls back: never seen.
    let repo = secret_store::SecretRepository::new(db.clone());
    let mut tx = repo.begin().await.unwrap();
    tx.publish(
        &Change::secret("rolled-back", Some(1), ChangeKind::Updated),
        "test",
    )
    .await
    .unwrap();
    drop(tx);
    let changes = [
        Change::secret("s-1", Some(2), ChangeKind::Updated),
        Change::vault("v-1"),
        Change::KeyRing,
        Change::secret("s-1", None, ChangeKind::Deleted),
    ];
    for change in &changes {
        let mut tx = repo.begin().await.unwrap();
        tx.publish(change, "test").await.unwrap();
        tx.commit().await.unwrap();
    }
    for change in changes {
        let next = tokio::time::timeout(WITHIN, feed.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next, changed(change));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_missed_changes_says_so() {
    let t = TestService::new().await;
    let db = t.db.connect().await;
    let mut feed = ChangeFeed::new(db.clone());
    assert_eq!(feed.next().await.unwrap(), FeedEvent::Resync);
    let repo = secret_store::SecretRepository::new(db.clone());
    let publish = |change: Change| {
        let repo = repo.clone();
        async move {
            let mut tx = repo.begin().await.unwrap();
            tx.publish(&change, "test").await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    publish(Change::KeyRing).await;
    assert_eq!(feed.next().await.unwrap(), changed(Change::KeyRing));
    if t.db.is_postgres() {
        // The listener's connection is cut: what was sent meanwhile is lost, and the feed
        // says so when it is back.
        let mut raw = t.db.raw().await;
        let cut = raw
            .count(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE query LIKE 'LISTEN%' AND datname = current_database()",
            )
            .await;
        // This feed's and the test service's own.
        assert!(cut >= 1, "no listener to cut");
        let next = tokio::time::timeout(WITHIN, feed.next()).await.unwrap();
        assert!(matches!(next, Ok(FeedEvent::Resync) | Err(_)), "{next:?}");
    } else {
        // Rows pruned before the reader got to them (it slept past the retention).
        publish(Change::vault("pruned-1")).await;
        publish(Change::vault("pruned-2")).await;
        publish(Change::vault("kept")).await;
        let mut raw = t.db.raw().await;
        raw.exec(
            "DELETE FROM secret_changes WHERE payload LIKE '%pruned%'",
            &[],
        )
        .await;
        assert_eq!(feed.next().await.unwrap(), FeedEvent::Resync);
        assert_eq!(feed.next().await.unwrap(), changed(Change::vault("kept")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_whose_listener_is_cut_reconnects_and_misses_nothing() {
    let t = TestService::new().await;
    if !t.db.is_postgres() {
        // SQLite's change log is a table: there is no connection to lose.
        return;
    }
    let reader = replica(&t).await;
    let id = org_secret(&t, "CUT", "sk-before-the-cut-1").await;
    assert!(value_of(&reader, &id, &ctx()).await.is_some());
    let mut raw = t.db.raw().await;
    raw.count(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE query LIKE 'LISTEN%' AND datname = current_database()",
    )
    .await;
    t.service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-after-the-cut-02"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    eventually(
        "the change made while the listener was cut is served",
        || async { value_of(&reader, &id, &ctx()).await.as_deref() == Some("sk-after-the-cut-02") },
    )
    .await;
    connected(&reader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_does_not_follow_changes_says_so() {
    let t = TestService::new().await;
    let material = secret_api::MasterKeyMaterial::parse(&t.master_key).unwrap();
    let s = SecretService::open_with(
        t.db.connect().await,
        &material,
        Arc::new(SystemClock),
        CacheConfig {
            follow_changes: false,
            ..CacheConfig::default()
        },
    )
    .await
    .unwrap();
    let status = s.change_feed_status();
    assert!(!status.following && !status.connected);
    assert_eq!(
        status.staleness_bound,
        Duration::from_secs(secret_api::DEFAULT_TTL_SECS)
    );
    connected(&t.service).await;
    assert!(t.service.change_feed_status().following);
}

/// A reader that does not follow the feed, caching for 2 s with refresh-ahead at
/// `percent` %, caches a value that another process then changes; it is read once after
/// 1.1 s. Returns whether the reader served the new value before the 2 s TTL was up (with
/// refresh-ahead, that read reloaded the entry in the background).
async fn new_value_before_the_ttl(percent: u8) -> bool {
    const TTL: Duration = Duration::from_secs(2);
    let t = TestService::new().await;
    let material = secret_api::MasterKeyMaterial::parse(&t.master_key).unwrap();
    let reader = SecretService::open_with(
        t.db.connect().await,
        &material,
        Arc::new(SystemClock),
        CacheConfig {
            ttl: TTL,
            refresh_ahead_percent: percent,
            follow_changes: false,
            ..CacheConfig::default()
        },
    )
    .await
    .unwrap();
    let id = org_secret(&t, "REFRESHED", "sk-refresh-first-01").await;
    let cached_at = Instant::now();
    assert_eq!(
        value_of(&reader, &id, &ctx()).await.unwrap(),
        "sk-refresh-first-01"
    );
    t.service
        .update_secret_value(
            &id,
            UpdateValueParams {
                value: api_key("sk-refresh-second-2"),
                change_reason: None,
                expected_version: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100).saturating_sub(cached_at.elapsed())).await;
    // Past the refresh point: served from the cache (and, with refresh-ahead, reloaded
    // behind the read).
    assert_eq!(
        value_of(&reader, &id, &ctx()).await.unwrap(),
        "sk-refresh-first-01"
    );
    while cached_at.elapsed() < TTL - Duration::from_millis(200) {
        if value_of(&reader, &id, &ctx()).await.unwrap() == "sk-refresh-second-2" {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_reloads_an_entry_read_late_in_its_ttl_in_the_background() {
    assert!(
        new_value_before_the_ttl(50).await,
        "refresh-ahead did not reload"
    );
    // Without it, the entry is served as it was until its TTL ends.
    assert!(!new_value_before_the_ttl(0).await);
}
