//! [`ClientConfig`]: the server, the headers every request carries, timeouts, retries and
//! the cache.

use std::time::Duration;

use crate::cache::CacheSettings;
use crate::error::ClientError;

/// How a [`crate::SecretClient`] talks to its server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server, e.g. `https://secrets.internal:8443`.
    pub base_url: url::Url,
    /// `X-Consumer-Module`: the module the server's audit records name.
    pub consumer_module: Option<String>,
    /// `X-Organization-Id`: the organization the caller works in.
    pub organization_id: Option<String>,
    /// The longest a request may take, answer included (the change stream excepted).
    pub timeout: Duration,
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
    /// How many times a request is tried again after a 429, 502, 503 or 504 answer or a
    /// connection that could not be opened.
    pub max_retries: u32,
    /// The wait before the first retry; doubled for each next one, up to `max_backoff`
    /// (a `Retry-After` header is honoured instead, up to `max_backoff`).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The value cache.
    pub cache: CacheSettings,
}

impl ClientConfig {
    /// Defaults for the server at `base_url`, refused if it is not an http(s) URL: a 10 s
    /// request timeout, 3 s to connect, 3 retries from 200 ms up to 5 s, the default cache.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let mut url = url::Url::parse(base_url).map_err(|e| ClientError::Config {
            message: format!("server URL '{base_url}': {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::Config {
                message: format!("server URL '{base_url}': must be http:// or https://"),
            });
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(ClientConfig {
            base_url: url,
            consumer_module: None,
            organization_id: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            cache: CacheSettings::default(),
        })
    }

    /// With `X-Consumer-Module: module`.
    pub fn consumer_module(mut self, module: impl Into<String>) -> Self {
        self.consumer_module = Some(module.into());
        self
    }

    /// With `X-Organization-Id: org`.
    pub fn organization(mut self, org: impl Into<String>) -> Self {
        self.organization_id = Some(org.into());
        self
    }

    /// With these cache settings.
    pub fn cache(mut self, cache: CacheSettings) -> Self {
        self.cache = cache;
        self
    }

    /// The URL of `path` (relative, without a leading slash) on the server.
    pub(crate) fn url(&self, path: &str) -> Result<url::Url, ClientError> {
        self.base_url.join(path).map_err(|e| ClientError::Config {
            message: format!("path '{path}': {e}"),
        })
    }
}
