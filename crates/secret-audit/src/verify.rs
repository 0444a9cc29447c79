//! Verification of the audit chain: every record in order, then the head.
//!
//! Records before the chain's keyed start are checked with the unkeyed SHA-256 of earlier
//! versions, every record from it on with HMAC-SHA256 under the audit chain key, which only
//! the master key opens. So a chain rewritten consistently by someone who can write to the
//! database but does not hold the master key fails, and so does one whose keyed records were
//! re-tagged with the public function. A head kept elsewhere ([`ExpectedHead`]) also catches
//! a chain cut back to an earlier, consistent state.

use secret_core::audit::{ChainBreak, ExpectedHead};
use secret_store::{AuditChainKey, AuditStore, ChainHead, ChainKeyError, StoreError};

/// Records read per query while verifying.
const PAGE: u64 = 1000;

/// Why verification did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is broken at a named record.
    #[error(transparent)]
    Broken(#[from] ChainBreak),
    /// The records could not be read (including a row that no longer parses, which is
    /// itself evidence of tampering).
    #[error("the audit log could not be read: {0}")]
    Store(#[from] StoreError),
    /// The chain key could not be opened (missing, not loaded, or its row altered).
    #[error("the audit chain key is unavailable: {0}")]
    ChainKey(#[from] ChainKeyError),
}

impl VerifyError {
    /// Whether this shows the trail was tampered with (a broken chain, an altered key row,
    /// a record that no longer parses), as opposed to "could not check".
    pub fn is_broken(&self) -> bool {
        match self {
            VerifyError::Broken(_) => true,
            VerifyError::Store(e) => matches!(e, StoreError::Corrupt { .. }),
            VerifyError::ChainKey(e) => e.is_tampering(),
        }
    }
}

/// What a verification that passed found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked.
    pub checked: u64,
    /// The first keyed record; records before it carry unkeyed hashes.
    pub keyed_from_seq: i64,
    /// The chain's head (the last record's sequence number and tag), to keep elsewhere and
    /// pass back as an [`ExpectedHead`] later.
    pub head: ChainHead,
}

/// Walks the whole chain with the chain key this process loaded for the store's database
/// (the key manager loads it at start); returns the number of records checked.
pub async fn verify_chain(store: &AuditStore) -> Result<u64, VerifyError> {
    let key = store.chain_key().await?;
    Ok(verify_chain_with(store, &key, None).await?.checked)
}

/// Walks the whole chain with `key`, requiring `expected` (a head kept elsewhere) to be in
/// it when given.
///
/// The head is read after the records: a legitimate append moves the head in the same
/// transaction that inserts its records, so every record committed before the head was
/// read lies at or below it. A record above it was written by hand.
pub async fn verify_chain_with(
    store: &AuditStore,
    key: &AuditChainKey,
    expected: Option<ExpectedHead>,
) -> Result<ChainReport, VerifyError> {
    let mut verifier = key.verifier();
    if let Some(expected) = expected {
        verifier = verifier.expect_head(expected);
    }
    loop {
        let records = store.scan(verifier.last_seq(), PAGE).await?;
        for r in &records {
            verifier.check(r)?;
        }
        if records.len() as u64 == PAGE {
            continue;
        }
        let head = store.head().await?;
        if verifier.last_seq() < head.seq {
            // Appended since the last page was read, or removed: look once more.
            let more = store.scan(verifier.last_seq(), PAGE).await?;
            if !more.is_empty() {
                for r in &more {
                    verifier.check(r)?;
                }
                continue;
            }
        }
        let checked = verifier.finish(head.seq, &head.hash)?;
        return Ok(ChainReport {
            checked,
            keyed_from_seq: key.keyed_from_seq(),
            head,
        });
    }
}
