//! The lifecycle of secrets (seed part 2 §8), on top of `SecretService`: the scheduler's
//! jobs ([`jobs`]), notifications of what happens to a secret, rotation handlers, and the
//! policies the jobs apply (which expiry notices are due, when a failed rotation is
//! retried, which versions are kept).

pub mod jobs;
pub mod notification;
pub mod policy;
pub mod rotation;
