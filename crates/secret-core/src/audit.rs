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
mod tests;
