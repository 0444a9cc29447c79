//! Where the client's bearer token comes from: a [`TokenProvider`] the host module
//! controls, asked before every request, so a module that refreshes its token (a
//! workload identity, an OAuth client) hands the new one over without rebuilding the
//! client.

use secrecy::{ExposeSecret, SecretString};

/// Supplies the bearer token of each request.
#[async_trait::async_trait]
pub trait TokenProvider: Send + Sync {
    /// The token to send now; an error fails the request with
    /// [`crate::ClientError::Token`].
    async fn token(&self) -> Result<SecretString, String>;
}

/// A token that never changes (e.g. `SECRETS_TOKEN`).
#[derive(Clone)]
pub struct StaticToken(SecretString);

impl StaticToken {
    /// The token `token`.
    pub fn new(token: impl Into<String>) -> Self {
        StaticToken(SecretString::from(token.into()))
    }
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(..)")
    }
}

#[async_trait::async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self) -> Result<SecretString, String> {
        Ok(SecretString::from(self.0.expose_secret().to_owned()))
    }
}

/// A closure returning the current token (it may read a file the host refreshes, or a
/// value it rotates in memory).
#[async_trait::async_trait]
impl<F> TokenProvider for F
where
    F: Fn() -> Result<String, String> + Send + Sync,
{
    async fn token(&self) -> Result<SecretString, String> {
        self().map(SecretString::from)
    }
}
