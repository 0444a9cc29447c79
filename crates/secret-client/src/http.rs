//! Sending one request: the token and headers, the timeout, and retries with exponential
//! backoff (or the server's `Retry-After`) on 429, 502, 503 and 504 and on connections that
//! could not be opened. A request whose connection broke after it was sent is retried only
//! when it is idempotent (GET, PUT, DELETE), so a create is never sent twice blindly.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::Inner;
use crate::error::ClientError;

/// The `Retry-After` of an answer, in seconds (the HTTP-date form is not used by our
/// server and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// A request to send: method, path, query and JSON body (serialized once, wiped after).
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(&'a str, String)>,
    pub(crate) body: Option<Zeroizing<Vec<u8>>>,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
        }
    }

    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Decode {
            message: format!("encoding the request: {e}"),
        })?;
        self.body = Some(Zeroizing::new(bytes));
        Ok(self)
    }

    pub(crate) fn query(mut self, key: &'a str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        )
    }
}

/// A successful answer's body (wiped when dropped: it may hold a value).
pub(crate) struct Answer {
    pub(crate) body: Zeroizing<Vec<u8>>,
}

impl Answer {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Decode {
            message: format!("reading the answer: {e}"),
        })
    }
}

impl Inner {
    fn backoff(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let exp = self
            .config
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt));
        hint.unwrap_or(exp).min(self.config.max_backoff)
    }

    /// The request of a stream that stays open (no overall timeout).
    pub(crate) async fn stream_request(
        &self,
        call: &Call<'_>,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        self.build_with(call, None).await
    }

    async fn build(&self, call: &Call<'_>) -> Result<reqwest::RequestBuilder, ClientError> {
        self.build_with(call, Some(self.config.timeout)).await
    }

    /// Builds the request of `call` with a fresh token.
    async fn build_with(
        &self,
        call: &Call<'_>,
        timeout: Option<Duration>,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let token = self
            .token
            .token()
            .await
            .map_err(|message| ClientError::Token { message })?;
        let mut url = self.config.url(&call.path)?;
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut req = self
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token.expose_secret());
        if let Some(timeout) = timeout {
            req = req.timeout(timeout);
        }
        if let Some(module) = &self.config.consumer_module {
            req = req.header("X-Consumer-Module", module);
        }
        if let Some(org) = &self.config.organization_id {
            req = req.header("X-Organization-Id", org);
        }
        for (name, value) in &call.headers {
            req = req.header(*name, value);
        }
        if let Some(body) = &call.body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_vec());
        }
        Ok(req)
    }

    /// Sends `call`, retrying as the module says; the answer of a 2xx, else its error.
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Answer, ClientError> {
        let mut attempt = 0;
        loop {
            let outcome = self.build(call).await?.send().await;
            let last = attempt >= self.config.max_retries;
            match outcome {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    if retryable(status) && !last {
                        let wait = self.backoff(attempt, retry_after(&headers));
                        tracing::debug!(status = status.as_u16(), ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    let body = Zeroizing::new(
                        resp.bytes()
                            .await
                            .map_err(|e| ClientError::transport(&e, self.config.timeout))?
                            .to_vec(),
                    );
                    if status.is_success() {
                        return Ok(Answer { body });
                    }
                    return Err(ClientError::from_answer(
                        status.as_u16(),
                        &body,
                        retry_after(&headers),
                    ));
                }
                Err(err) => {
                    // Not connected: nothing reached the server. Broken after sending:
                    // only an idempotent request may go again.
                    let again = err.is_connect() || (call.idempotent() && !err.is_builder());
                    if again && !last {
                        let wait = self.backoff(attempt, None);
                        tracing::debug!(error = %err, ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(ClientError::transport(&err, self.config.timeout));
                }
            }
        }
    }

    /// Sends `call` and reads its JSON answer.
    pub(crate) async fn fetch<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
    ) -> Result<T, ClientError> {
        self.send(call).await?.json()
    }
}
