//! Audit records and the chain that makes them tamper-evident.
//!
//! An [`AuditEntry`] is what happened; the store gives it a sequence number and links it to
//! the record before it. Each record carries a 64-hex-digit tag over the canonical encoding
//! of `(seq, prev_hash, every field)`; the first record's `prev_hash` is [`GENESIS_HASH`].
//! Changing, removing or inserting a record breaks the chain at that point, which
//! [`ChainVerifier`] names.
//!
//! Two tags exist:
//! - [`chain_hash`], plain SHA-256, which records written before the chain was keyed carry.
//!   Anyone can recompute it, so a consistent rewrite of the table is not detected by it.
//! - [`keyed_chain_mac`], HMAC-SHA256 under the installation's secret *chain key* (kept
//!   wrapped by the master key, see `secret_crypto::ChainKey`), which every record from the
//!   chain's *keyed start* on carries. Rewriting those needs the chain key.
//!
//! The two use different domain labels, so no record's tag is valid under the other
//! function. Which records are keyed is decided by the keyed start the verifier is given
//! (kept authenticated beside the chain key), never by anything in the record itself.
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

/// Domain label of the canonical encoding under the unkeyed hash; a new encoding gets a new
/// label.
const HASH_DOMAIN: &[u8] = b"secret-manager/audit-record/v1";
/// Domain label of the canonical encoding under the keyed MAC.
const MAC_DOMAIN: &[u8] = b"secret-manager/audit-record/v2-hmac-sha256";

/// Length in bytes of a chain key.
pub const CHAIN_KEY_LEN: usize = 32;

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

/// Something the canonical encoding is fed into: a hash or a MAC.
trait Sink {
    fn feed(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn feed(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

fn put(h: &mut impl Sink, field: Option<&str>) {
    match field {
        None => h.feed(&[0u8]),
        Some(s) => {
            h.feed(&[1u8]);
            h.feed(&(s.len() as u64).to_be_bytes());
            h.feed(s.as_bytes());
        }
    }
}

/// Feeds the canonical encoding of `entry` at `seq` after `prev_hash` under `domain`.
fn encode(h: &mut impl Sink, domain: &[u8], seq: i64, prev_hash: &str, entry: &AuditEntry) {
    h.feed(domain);
    h.feed(&seq.to_be_bytes());
    put(h, Some(prev_hash));
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
        put(h, field);
    }
}

fn to_hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The unkeyed hash of `entry` at position `seq` after a record whose hash is `prev_hash`,
/// as 64 lower-case hex digits: what records written before the chain was keyed carry.
pub fn chain_hash(seq: i64, prev_hash: &str, entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    encode(&mut h, HASH_DOMAIN, seq, prev_hash, entry);
    to_hex(&h.finalize())
}

/// HMAC-SHA256 (RFC 2104), from the `hmac` crate.
type HmacSha256 = hmac::Hmac<Sha256>;

impl Sink for HmacSha256 {
    fn feed(&mut self, bytes: &[u8]) {
        hmac::Mac::update(self, bytes);
    }
}

/// The keyed tag of `entry` at position `seq` after a record whose tag is `prev_hash`:
/// HMAC-SHA256 under the chain key, as 64 lower-case hex digits. Every record from the
/// chain's keyed start on carries it.
pub fn keyed_chain_mac(
    key: &[u8; CHAIN_KEY_LEN],
    seq: i64,
    prev_hash: &str,
    entry: &AuditEntry,
) -> String {
    let Ok(mut h) = <HmacSha256 as hmac::KeyInit>::new_from_slice(key) else {
        // HMAC takes keys of every length, so this is not reached; an empty tag never
        // verifies.
        return String::new();
    };
    encode(&mut h, MAC_DOMAIN, seq, prev_hash, entry);
    to_hex(&hmac::Mac::finalize(h).into_bytes())
}

/// The keyed tag of the chain, as the verifier and the writer see it: computing it needs
/// the chain key, which implementations hold (`secret_crypto::ChainKey`).
pub trait ChainMac: Send + Sync {
    /// The tag of `entry` at `seq` after `prev_hash` ([`keyed_chain_mac`] under the key).
    fn mac(&self, seq: i64, prev_hash: &str, entry: &AuditEntry) -> String;

    /// Whether `tag` is the tag of `entry` at `seq` after `prev_hash`, compared in constant
    /// time.
    fn verify(&self, seq: i64, prev_hash: &str, entry: &AuditEntry, tag: &str) -> bool;
}

/// Where a chain stopped being intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record's fields no longer match its tag: it was edited, or written by hand (or,
    /// past the keyed start, tagged without the chain key).
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
    /// The chain ends before the head kept elsewhere: records up to it were removed.
    #[error(
        "audit records after {last_seq} were removed: the expected head is record {expected_seq}"
    )]
    ExpectedHeadMissing { last_seq: i64, expected_seq: i64 },
    /// The record at the head kept elsewhere carries another tag: the chain was rewritten
    /// up to there.
    #[error(
        "audit record {seq} (id {id}) does not match the expected head: the chain was rewritten up to it"
    )]
    ExpectedHeadMismatch { seq: i64, id: String },
}

/// A head kept elsewhere (`SEQ:TAG`, as `secret-server audit verify` prints it), which the
/// chain must still contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedHead {
    pub seq: i64,
    /// The record's tag, 64 lower-case hex digits.
    pub hash: String,
}

impl std::str::FromStr for ExpectedHead {
    type Err = String;

    /// Parses `SEQ:TAG`: a sequence number from 0 and 64 hex digits (`0:` and the genesis
    /// hash for an empty chain).
    fn from_str(s: &str) -> Result<Self, String> {
        const FORM: &str = "expected SEQ:HASH, e.g. 42: and 64 hex digits";
        let (seq, hash) = s.trim().split_once(':').ok_or_else(|| FORM.to_string())?;
        let seq: i64 = seq
            .parse()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("the sequence number is not a number from 0; {FORM}"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("the hash is not 64 hex digits; {FORM}"));
        }
        let hash = hash.to_ascii_lowercase();
        if seq == 0 && hash != GENESIS_HASH {
            return Err("head 0 is the empty chain, whose hash is 64 zeros".to_string());
        }
        Ok(ExpectedHead { seq, hash })
    }
}

impl std::fmt::Display for ExpectedHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// Walks records in `seq` order and finds the first break. Feed it every record, then call
/// [`ChainVerifier::finish`] with the stored head.
///
/// A keyed verifier ([`ChainVerifier::keyed`]) checks records before the keyed start with
/// [`chain_hash`] and every record from it on with the chain key's MAC only: an unkeyed tag
/// there is a changed record, whatever the record says.
#[derive(Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_id: Option<String>,
    last_hash: String,
    checked: u64,
    keyed: Option<(std::sync::Arc<dyn ChainMac>, i64)>,
    expected: Option<ExpectedHead>,
}

impl std::fmt::Debug for ChainVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("last_seq", &self.last_seq)
            .field("checked", &self.checked)
            .field("keyed_from_seq", &self.keyed_from_seq())
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_id: None,
            last_hash: GENESIS_HASH.to_string(),
            checked: 0,
            keyed: None,
            expected: None,
        }
    }
}

impl ChainVerifier {
    /// A verifier of a chain with no keyed part (every record checked with [`chain_hash`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier of a chain keyed from record `keyed_from_seq` on (1 for a chain keyed
    /// from its start) under `key`.
    pub fn keyed(key: std::sync::Arc<dyn ChainMac>, keyed_from_seq: i64) -> Self {
        ChainVerifier {
            keyed: Some((key, keyed_from_seq.max(1))),
            ..Self::default()
        }
    }

    /// Also requires the chain to contain `expected` (a head kept elsewhere).
    pub fn expect_head(mut self, expected: ExpectedHead) -> Self {
        self.expected = Some(expected);
        self
    }

    /// Where the keyed part starts, if the chain has one.
    pub fn keyed_from_seq(&self) -> Option<i64> {
        self.keyed.as_ref().map(|(_, from)| *from)
    }

    /// Checks the next record.
    pub fn check(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        let id = record.entry.id.clone();
        let intact = match &self.keyed {
            Some((key, from)) if record.seq >= *from => {
                key.verify(record.seq, &record.prev_hash, &record.entry, &record.hash)
            }
            _ => chain_hash(record.seq, &record.prev_hash, &record.entry) == record.hash,
        };
        if !intact {
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
        if let Some(expected) = &self.expected
            && expected.seq == record.seq
            && expected.hash != record.hash
        {
            return Err(ChainBreak::ExpectedHeadMismatch {
                seq: record.seq,
                id,
            });
        }
        self.last_seq = record.seq;
        self.last_hash.clone_from(&record.hash);
        self.last_id = Some(id);
        self.checked += 1;
        Ok(())
    }

    /// Checks the end of the chain against the stored head `(seq, hash)` (and the expected
    /// head, if one was given); returns the number of records checked.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        if let Some(expected) = &self.expected
            && self.last_seq < expected.seq
        {
            return Err(ChainBreak::ExpectedHeadMissing {
                last_seq: self.last_seq,
                expected_seq: expected.seq,
            });
        }
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

    /// The tag of the last record checked ([`GENESIS_HASH`] before the first).
    pub fn last_hash(&self) -> &str {
        &self.last_hash
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

    /// A chain key for tests: [`keyed_chain_mac`] under fixed bytes.
    struct TestKey([u8; CHAIN_KEY_LEN]);

    impl ChainMac for TestKey {
        fn mac(&self, seq: i64, prev_hash: &str, entry: &AuditEntry) -> String {
            keyed_chain_mac(&self.0, seq, prev_hash, entry)
        }
        fn verify(&self, seq: i64, prev_hash: &str, entry: &AuditEntry, tag: &str) -> bool {
            self.mac(seq, prev_hash, entry) == tag
        }
    }

    /// `n` records, unkeyed before `keyed_from`, tagged under `key` from it on.
    fn mixed_chain(n: u32, keyed_from: i64, key: &dyn ChainMac) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|i| {
                let seq = i64::from(i);
                let e = entry(i);
                let hash = if seq >= keyed_from {
                    key.mac(seq, &prev, &e)
                } else {
                    chain_hash(seq, &prev, &e)
                };
                AuditRecord {
                    seq,
                    entry: e,
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                }
            })
            .collect()
    }

    fn verify_keyed(
        records: &[AuditRecord],
        key: std::sync::Arc<dyn ChainMac>,
        keyed_from: i64,
        expected: Option<ExpectedHead>,
    ) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::keyed(key, keyed_from);
        if let Some(e) = expected {
            v = v.expect_head(e);
        }
        for r in records {
            v.check(r)?;
        }
        let last = records
            .last()
            .map_or((0, GENESIS_HASH.to_string()), |r| (r.seq, r.hash.clone()));
        v.finish(last.0, &last.1)
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn hmac_hex(key: &[u8], data: &[u8]) -> String {
        let mut h = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).unwrap();
        h.feed(data);
        to_hex(&hmac::Mac::finalize(h).into_bytes())
    }

    #[test]
    fn hmac_sha256_matches_the_rfc_4231_test_vectors() {
        // (key, data, HMAC-SHA256) of RFC 4231 test cases 1, 2, 3, 4, 6 and 7.
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, mac) in cases {
            assert_eq!(hmac_hex(&key, &data), mac);
        }
    }

    #[test]
    fn the_unkeyed_hash_of_earlier_versions_is_unchanged() {
        // Computed by the code before the chain was keyed: chains written then still verify.
        use chrono::TimeZone;
        let mut e = entry(1);
        e.id = "0193a000-0000-7000-8000-000000000001".into();
        e.user_agent = Some(String::new());
        e.timestamp = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(
            chain_hash(7, GENESIS_HASH, &e),
            "3bd3260991e98983d7723ecf4c385e2b0859644559f041aef85187f8b3fd7fa2"
        );
    }

    #[test]
    fn the_keyed_mac_depends_on_the_key_and_differs_from_the_unkeyed_hash() {
        let e = entry(1);
        let a = keyed_chain_mac(&[1; 32], 1, GENESIS_HASH, &e);
        assert_eq!(a.len(), 64);
        assert_ne!(a, keyed_chain_mac(&[2; 32], 1, GENESIS_HASH, &e));
        assert_ne!(a, chain_hash(1, GENESIS_HASH, &e));
        assert_ne!(a, keyed_chain_mac(&[1; 32], 2, GENESIS_HASH, &e));
    }

    #[test]
    fn a_keyed_chain_with_an_unkeyed_prefix_verifies() {
        let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
        let c = mixed_chain(6, 4, key.as_ref());
        assert_eq!(verify_keyed(&c, key.clone(), 4, None), Ok(6));
        // Keyed from the start.
        let c = mixed_chain(3, 1, key.as_ref());
        assert_eq!(verify_keyed(&c, key.clone(), 1, None), Ok(3));
        // Keyed start not reached yet.
        let c = mixed_chain(3, 10, key.as_ref());
        assert_eq!(verify_keyed(&c, key, 10, None), Ok(3));
    }

    #[test]
    fn an_unkeyed_tag_past_the_keyed_start_is_a_changed_record() {
        // No downgrade: records re-tagged with the public function after the keyed start fail.
        let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
        let c = chain(5);
        assert_eq!(
            verify_keyed(&c, key.clone(), 3, None),
            Err(ChainBreak::Changed {
                seq: 3,
                id: "id-3".into()
            })
        );
        // And under another key.
        let c = mixed_chain(5, 3, &TestKey([8; 32]));
        assert_eq!(
            verify_keyed(&c, key, 3, None),
            Err(ChainBreak::Changed {
                seq: 3,
                id: "id-3".into()
            })
        );
    }

    #[test]
    fn a_consistently_rewritten_keyed_chain_fails() {
        let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
        let original = mixed_chain(6, 1, key.as_ref());
        // Record 3 removed, every later record renumbered and re-tagged without the key.
        let mut prev = original[1].hash.clone();
        let rewritten: Vec<AuditRecord> = original[..2]
            .iter()
            .cloned()
            .chain(original[3..].iter().enumerate().map(|(i, r)| {
                let seq = 3 + i as i64;
                let hash = chain_hash(seq, &prev, &r.entry);
                AuditRecord {
                    seq,
                    entry: r.entry.clone(),
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                }
            }))
            .collect();
        assert_eq!(
            verify_keyed(&rewritten, key, 1, None),
            Err(ChainBreak::Changed {
                seq: 3,
                id: "id-4".into()
            })
        );
    }

    #[test]
    fn the_expected_head_must_still_be_in_the_chain() {
        let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
        let c = mixed_chain(5, 1, key.as_ref());
        let at = |i: usize| ExpectedHead {
            seq: c[i].seq,
            hash: c[i].hash.clone(),
        };
        // The chain grew past the kept head: intact.
        assert_eq!(verify_keyed(&c, key.clone(), 1, Some(at(2))), Ok(5));
        assert_eq!(verify_keyed(&c, key.clone(), 1, Some(at(4))), Ok(5));
        // Truncated below the kept head.
        assert_eq!(
            verify_keyed(&c[..3], key.clone(), 1, Some(at(4))),
            Err(ChainBreak::ExpectedHeadMissing {
                last_seq: 3,
                expected_seq: 5
            })
        );
        // The record at the kept head carries another tag.
        let other = ExpectedHead {
            seq: 3,
            hash: "ab".repeat(32),
        };
        assert_eq!(
            verify_keyed(&c, key, 1, Some(other)),
            Err(ChainBreak::ExpectedHeadMismatch {
                seq: 3,
                id: "id-3".into()
            })
        );
    }

    #[test]
    fn expected_heads_parse_from_seq_colon_hash() {
        let hash = "AB".repeat(32);
        let head: ExpectedHead = format!("12:{hash}").parse().unwrap();
        assert_eq!(head.seq, 12);
        assert_eq!(head.hash, "ab".repeat(32));
        assert_eq!(head.to_string(), format!("12:{}", "ab".repeat(32)));
        let genesis: ExpectedHead = format!("0:{GENESIS_HASH}").parse().unwrap();
        assert_eq!(genesis.seq, 0);
        for bad in [
            String::new(),
            "12".into(),
            format!("-1:{hash}"),
            format!("x:{hash}"),
            "12:abc".into(),
            format!("12:{}", "zz".repeat(32)),
            format!("0:{hash}"),
        ] {
            assert!(bad.parse::<ExpectedHead>().is_err(), "{bad:?}");
        }
    }
}
