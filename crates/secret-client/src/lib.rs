//! `secret-client`: the secret manager for modules in other processes (§9, §12.1).
//!
//! [`SecretClient`] calls a `secret-server` over HTTP: every operation of the REST API with
//! the wire types of `secret-core`, typed errors ([`ClientError`]), a token from a
//! provider the host module controls ([`TokenProvider`], so it can refresh it), retries with
//! backoff on 429/502/503/504 that honour `Retry-After`, timeouts, and a local cache of
//! values: a TTL, refresh-ahead, stale-if-error up to a bound, and push invalidation from
//! the server's change stream (`GET /api/secrets/events`), so a cached value is dropped as
//! soon as it changes, is revoked or deleted. It implements [`SecretReader`], as the
//! embedded `SecretService::reader` does, so a module switches between the two by
//! configuration.
//!
//! ```no_run
//! # async fn demo() -> Result<(), secret_client::ClientError> {
//! use secret_client::{ClientConfig, SecretClient, StaticToken};
//!
//! let client = SecretClient::new(
//!     ClientConfig::new("http://127.0.0.1:8080")?.consumer_module("llm-client"),
//!     StaticToken::new(std::env::var("SECRETS_TOKEN").unwrap_or_default()),
//! )?;
//! let id = secret_core::SecretId::from("0193...");
//! let value = client.get_secret(&id).await?; // cached after the first read
//! # Ok(()) }
//! ```
//!
//! Depends on `secret-core` and an HTTP client only: no database driver, no server
//! framework.

mod admin;
mod cache;
mod config;
mod error;
mod events;
mod http;
mod ops;
mod reader;
mod token;

use std::sync::Arc;

pub use cache::CacheSettings;
pub use config::ClientConfig;
pub use error::ClientError;
pub use ops::{AuditQuery, ExportQuery, ListQuery};
pub use secret_core::SecretReader;
pub use token::{StaticToken, TokenProvider};

/// A client of one server, cheap to clone (clones share the connection pool and cache).
#[derive(Clone)]
pub struct SecretClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SecretClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretClient")
            .field("base_url", &self.inner.config.base_url.as_str())
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    token: Arc<dyn TokenProvider>,
    cache: cache::ValueCache,
    events: events::Subscription,
}

impl SecretClient {
    /// A client of the server `config` names, authenticating with `token`. Called inside a
    /// Tokio runtime, it connects the change stream that invalidates the cache at once;
    /// otherwise the stream starts with the first read.
    pub fn new(
        config: ClientConfig,
        token: impl TokenProvider + 'static,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| ClientError::Config {
                message: e.to_string(),
            })?;
        let inner = Arc::new(Inner {
            cache: cache::ValueCache::new(config.cache),
            config,
            http,
            token: Arc::new(token),
            events: events::Subscription::default(),
        });
        // Inside a Tokio runtime the change stream connects now, so that it is usually up
        // before the first value is cached (else it starts with the first read).
        events::ensure_started(&inner);
        Ok(SecretClient { inner })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Drops every cached value.
    pub fn clear_cache(&self) {
        self.inner.cache.clear();
    }

    /// How many values the cache holds.
    pub fn cached_values(&self) -> usize {
        self.inner.cache.len()
    }

    /// Whether the change stream is connected (cached values are then dropped as soon as
    /// they change; otherwise only their TTL bounds how stale they can be).
    pub fn is_invalidation_connected(&self) -> bool {
        self.inner.events.is_connected()
    }
}
