//! Audit records and the hash chain that makes them tamper-evident.
//!
//! An [`AuditEntry`] is what happened; the store gives it a sequence number and links it to
//! the record before it: `hash = SHA-256(canonical encoding of (seq, prev_hash, every
//! field))`, with the first record's `prev_hash` being [`GENESIS_HASH`]. Changing, removing
//! or inserting a record breaks the chain at that point, which [`ChainVerifier`] names.
//!
//! The canonical encoding is a domain label followed by each field length-prefixed, with
//! an absent optional field distinct from an empty one, so no two different records encode
//! alike. Timestamps are encoded as RFC 3339 with microseconds, the precision both
//! databases keep; entries are truncated to it when they are made.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::enums::{ActorType, AuditCategory, AuditOutcome, SecretAuditEventType, SecretScope};

/// The `prev_hash` of the first record of the chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain label of the canonical encoding; a new encoding gets a new label.
const HASH_DOMAIN: &[u8] = b"secret-manager/audit-record/v1";

/// One audited event, before it is placed in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// A UUIDv7.
    pub id: String,
    pub event_type: SecretAuditEventType,
    pub event_category: AuditCategory,
    pub actor_type: ActorType,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    pub secret_id: Option<String>,
    pub secret_name: Option<String>,
    pub secret_scope: Option<SecretScope>,
    pub action: String,
    /// Sanitized details as JSON text, hashed exactly as stored.
    pub details: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub consumer_module: Option<String>,
    pub outcome: AuditOutcome,
    pub error_message: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// An audit record as stored: the entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The hash of the record before (or [`GENESIS_HASH`]).
    pub prev_hash: String,
    /// This record's hash, see [`chain_hash`].
    pub hash: String,
}

/// Truncates a timestamp to the microsecond precision the databases keep.
pub fn audit_timestamp(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

fn put(h: &mut Sha256, field: Option<&str>) {
    match field {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

/// The hash of `entry` at position `seq` after a record whose hash is `prev_hash`, as 64
/// lower-case hex digits.
pub fn chain_hash(seq: i64, prev_hash: &str, entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(HASH_DOMAIN);
    h.update(seq.to_be_bytes());
    put(&mut h, Some(prev_hash));
    let e = entry;
    let ts = e.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true);
    for field in [
        Some(e.id.as_str()),
        Some(e.event_type.as_str()),
        Some(e.event_category.as_str()),
        Some(e.actor_type.as_str()),
        Some(e.actor_id.as_str()),
        e.actor_name.as_deref(),
        e.organization_id.as_deref(),
        e.team_id.as_deref(),
        e.project_id.as_deref(),
        e.secret_id.as_deref(),
        e.secret_name.as_deref(),
        e.secret_scope.map(SecretScope::as_str),
        Some(e.action.as_str()),
        Some(e.details.as_str()),
        e.ip_address.as_deref(),
        e.user_agent.as_deref(),
        e.request_id.as_deref(),
        e.consumer_module.as_deref(),
        Some(e.outcome.as_str()),
        e.error_message.as_deref(),
        Some(ts.as_str()),
    ] {
        put(&mut h, field);
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Where a chain stopped being intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record's fields no longer match its hash: it was edited, or written by hand.
    #[error(
        "audit record {seq} (id {id}) was changed or inserted: its contents do not match its hash"
    )]
    Changed { seq: i64, id: String },
    /// A record does not link to the one before it: records between were removed, or
    /// this one was inserted.
    #[error(
        "audit record {seq} (id {id}) does not follow record {prev_seq}: records between them were removed, or this one was inserted"
    )]
    Unlinked { seq: i64, id: String, prev_seq: i64 },
    /// The chain ends before its recorded head: the last records were removed.
    #[error("audit records after {last_seq} were removed: the chain's head is record {head_seq}")]
    Truncated { last_seq: i64, head_seq: i64 },
    /// Records exist past the recorded head: they were appended by hand.
    #[error("audit record {seq} (id {id}) was inserted after the chain's head (record {head_seq})")]
    PastHead { seq: i64, id: String, head_seq: i64 },
    /// The head's hash does not match the last record's.
    #[error("audit record {seq} (id {id}) does not match the chain's head")]
    HeadMismatch { seq: i64, id: String },
}

/// Walks records in `seq` order and finds the first break. Feed it every record, then call
/// [`ChainVerifier::finish`] with the stored head.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_id: Option<String>,
    last_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_id: None,
            last_hash: GENESIS_HASH.to_string(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// A verifier at the start of the chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next record.
    pub fn check(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        let id = record.entry.id.clone();
        if chain_hash(record.seq, &record.prev_hash, &record.entry) != record.hash {
            return Err(ChainBreak::Changed {
                seq: record.seq,
                id,
            });
        }
        if record.seq != self.last_seq + 1 || record.prev_hash != self.last_hash {
            return Err(ChainBreak::Unlinked {
                seq: record.seq,
                id,
                prev_seq: self.last_seq,
            });
        }
        self.last_seq = record.seq;
        self.last_hash.clone_from(&record.hash);
        self.last_id = Some(id);
        self.checked += 1;
        Ok(())
    }

    /// Checks the end of the chain against the stored head `(seq, hash)`; returns the
    /// number of records checked.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        if self.last_seq < head_seq {
            return Err(ChainBreak::Truncated {
                last_seq: self.last_seq,
                head_seq,
            });
        }
        if self.last_seq > head_seq {
            return Err(ChainBreak::PastHead {
                seq: self.last_seq,
                id: self.last_id.unwrap_or_default(),
                head_seq,
            });
        }
        if self.last_hash != head_hash {
            return Err(ChainBreak::HeadMismatch {
                seq: self.last_seq,
                id: self.last_id.unwrap_or_default(),
            });
        }
        Ok(self.checked)
    }

    /// The sequence number of the last record checked.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

    use super::*;

    fn entry(n: u32) -> AuditEntry {
        AuditEntry {
            id: format!("id-{n}"),
            event_type: SecretAuditEventType::SecretRead,
            event_category: AuditCategory::Crud,
            actor_type: ActorType::User,
            actor_id: "alice".into(),
            actor_name: None,
            organization_id: Some("org-1".into()),
            team_id: None,
            project_id: None,
            secret_id: Some("s-1".into()),
            secret_name: Some("API".into()),
            secret_scope: Some(SecretScope::Organization),
            action: "SECRET_READ".into(),
            details: "{}".into(),
            ip_address: None,
            user_agent: None,
            request_id: None,
            consumer_module: Some("mcp".into()),
            outcome: AuditOutcome::Success,
            error_message: None,
            timestamp: audit_timestamp(Utc::now()),
        }
    }

    fn chain(n: u32) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|i| {
                let e = entry(i);
                let hash = chain_hash(i64::from(i), &prev, &e);
                let r = AuditRecord {
                    seq: i64::from(i),
                    entry: e,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn verify(records: &[AuditRecord], head: (i64, &str)) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::new();
        for r in records {
            v.check(r)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let head = c[4].hash.clone();
        assert_eq!(verify(&c, (5, &head)), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS_HASH)), Ok(0));
    }

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let a = entry(1);
        let mut b = a.clone();
        b.actor_name = Some(String::new());
        assert_ne!(
            chain_hash(1, GENESIS_HASH, &a),
            chain_hash(1, GENESIS_HASH, &b)
        );
        // Moving bytes between adjacent fields changes the hash too.
        let mut c = a.clone();
        c.secret_name = Some("AP".into());
        c.action = "ISECRET_READ".into();
        assert_ne!(
            chain_hash(1, GENESIS_HASH, &a),
            chain_hash(1, GENESIS_HASH, &c)
        );
    }

    #[test]
    fn an_edited_record_is_named() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        c[2].entry.outcome = AuditOutcome::Denied;
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Changed {
                seq: 3,
                id: "id-3".into()
            })
        );
    }

    #[test]
    fn a_removed_record_is_found() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        c.remove(1);
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Unlinked {
                seq: 3,
                id: "id-3".into(),
                prev_seq: 1
            })
        );
        // The last record removed: the head says 5, the chain ends at 4.
        let mut c = chain(5);
        c.pop();
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Truncated {
                last_seq: 4,
                head_seq: 5
            })
        );
    }

    #[test]
    fn an_inserted_record_is_found() {
        // A forged record re-hashed correctly but spliced in: it does not link.
        let mut c = chain(5);
        let head = c[4].hash.clone();
        let forged_entry = entry(99);
        let hash = chain_hash(3, &c[1].hash, &forged_entry);
        c.insert(
            2,
            AuditRecord {
                seq: 3,
                entry: forged_entry,
                prev_hash: c[1].hash.clone(),
                hash,
            },
        );
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Unlinked {
                seq: 3,
                id: "id-3".into(),
                prev_seq: 3
            })
        );
        // Appended past the head.
        let mut c = chain(5);
        let extra = entry(6);
        let hash = chain_hash(6, &c[4].hash, &extra);
        c.push(AuditRecord {
            seq: 6,
            entry: extra,
            prev_hash: c[4].hash.clone(),
            hash,
        });
        assert!(matches!(
            verify(&c, (5, &head)),
            Err(ChainBreak::PastHead { seq: 6, .. })
        ));
    }
}
