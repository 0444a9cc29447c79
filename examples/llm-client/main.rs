//! An LLM client that fetches its API key for every request through a cached
//! `SecretReader`, so a rotated key is used from the next request on, without a restart and
//! without asking the secret manager for every call. The reader is chosen by configuration:
//! `SECRETS_URL` set means the remote `secret-client` (with `SECRETS_TOKEN` and the key's id
//! in `LLM_API_KEY_SECRET_ID`), otherwise the embedded service.
//!
//! `cargo run -p secret-examples --bin llm-client`

#![allow(clippy::print_stdout)]

#[path = "../common.rs"]
mod common;

use std::sync::Arc;

use secret_api::{CreateSecretParams, SecretScope};
use secret_client::{ClientConfig, SecretClient, StaticToken};
use secret_core::value::ApiKeySecret;
use secret_core::{AnySecretValue, SecretId, SecretReader, SecretValue};

/// A model client that never keeps the key: it asks the reader at each request.
struct LlmClient {
    secrets: Arc<dyn SecretReader>,
    api_key: SecretId,
}

impl LlmClient {
    /// One completion request (here: the request it would send, without the key).
    async fn complete(&self, prompt: &str) -> anyhow::Result<String> {
        let value = self.secrets.get_secret(&self.api_key).await?;
        let AnySecretValue::ApiKey(key) = value.expose_secret() else {
            anyhow::bail!("secret {} is not an API key", self.api_key);
        };
        let suffix: String = key
            .key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Ok(format!(
            "POST /v1/completions ({} chars) with key ...{suffix}",
            prompt.len()
        ))
    }
}

async fn reader() -> anyhow::Result<(Arc<dyn SecretReader>, SecretId)> {
    if let Ok(url) = std::env::var("SECRETS_URL") {
        let token = std::env::var("SECRETS_TOKEN")?;
        let id = SecretId::from(std::env::var("LLM_API_KEY_SECRET_ID")?.as_str());
        let mut config = ClientConfig::new(&url)?.consumer_module("llm-client");
        if let Ok(org) = std::env::var("SECRETS_ORGANIZATION") {
            config = config.organization(org);
        }
        println!("reading through the secret-client of {url}");
        return Ok((
            Arc::new(SecretClient::new(config, StaticToken::new(token))?),
            id,
        ));
    }
    let service = common::embedded_service().await?;
    let ctx = common::caller("llm-client");
    let created = service
        .create_secret(
            CreateSecretParams::new(
                "OPENAI_API_KEY",
                SecretScope::Organization,
                SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
                    key: "sk-example-llm-0123456789".to_string(),
                })),
            ),
            &ctx,
        )
        .await?;
    println!("reading through the embedded service");
    Ok((Arc::new(service.reader(ctx)), created.id))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let (secrets, api_key) = reader().await?;
    let client = LlmClient { secrets, api_key };
    for prompt in [
        "Summarise this issue",
        "Write a haiku about key rotation",
        "Translate to French",
    ] {
        println!("{}", client.complete(prompt).await?);
    }
    Ok(())
}
