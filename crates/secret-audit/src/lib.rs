//! The audit trail of the secret manager (seed part 2 §10): events built from the caller's
//! context with their details redacted, the group-commit writer that makes each record
//! durable before the operation answers, the verifier of the keyed hash chain, and
//! compliance reports.

pub mod event;
pub mod pdf;
pub mod redact;
pub mod report;
pub mod verify;
pub mod writer;

pub use event::{AuditEvent, SecretRef, error_message};
pub use redact::sanitize_details;
pub use verify::{ChainReport, VerifyError, verify_chain, verify_chain_with};
pub use writer::{AuditWriter, WriterConfig};
