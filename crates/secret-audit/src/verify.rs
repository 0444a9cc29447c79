//! Verification of the audit hash chain: every record in order, then the head.

use secret_core::audit::{ChainBreak, ChainVerifier};
use secret_store::{AuditStore, StoreError};

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
}

/// Walks the whole chain; returns the number of records checked.
///
/// The head is read after the records: a legitimate append moves the head in the same
/// transaction that inserts its records, so every record committed before the head was
/// read lies at or below it. A record above it was written by hand.
pub async fn verify_chain(store: &AuditStore) -> Result<u64, VerifyError> {
    let mut verifier = ChainVerifier::new();
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
        return Ok(verifier.finish(head.seq, &head.hash)?);
    }
}
