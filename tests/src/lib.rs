//! What the workspace's integration and end-to-end tests share, one copy for every crate
//! and binary that tests against real parts:
//!
//! - [`db`] (re-exported at the root): a fresh database per test (a temporary SQLite file,
//!   or a PostgreSQL database with a random name when `DATABASE_URL` points at a server),
//!   real migrations, raw SQL on it, a service with a random master key, callers;
//! - [`http`] (feature `http`): the real actix server on 127.0.0.1:0 over such a database,
//!   tokens, reqwest calls and a capture of every log line of the test binary;
//! - [`process`]: the real `secret-server` binary as a process, its subcommands and HTTP
//!   calls to it.
//!
//! Helpers fail loudly (they panic) when the set-up fails: they exist only for tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod db;
#[cfg(feature = "http")]
pub mod http;
pub mod process;

pub use db::*;
