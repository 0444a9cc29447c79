//! A configuration resolver (§9.3): a module's `EnvironmentConfig` holds plain values and
//! secret references (`secret://` URIs and SECRET_REF objects); one `resolve` call turns it
//! into plain values, reading every referenced secret in one audited batch, or fails naming
//! every key that did not resolve.
//!
//! `cargo run -p secret-examples --bin config-resolver`

#![allow(clippy::print_stdout)]

#[path = "../common.rs"]
mod common;

use std::collections::BTreeMap;

use secret_api::{CreateSecretParams, SecretScope};
use secret_core::reference::ConfigValue;
use secret_core::value::{ApiKeySecret, UsernamePasswordSecret};
use secret_core::{AnySecretValue, SecretError, SecretValue};
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let service = common::embedded_service().await?;
    let ctx = common::caller("config-resolver");
    let db = service
        .create_secret(
            CreateSecretParams::new(
                "ORDERS_DB",
                SecretScope::Organization,
                SecretValue::new(AnySecretValue::UsernamePassword(UsernamePasswordSecret {
                    username: "orders_app".to_string(),
                    password: "example-password-0123".to_string(),
                })),
            ),
            &ctx,
        )
        .await?;
    service
        .create_secret(
            CreateSecretParams::new(
                "STRIPE_KEY",
                SecretScope::Organization,
                SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
                    key: "sk_test_example_0123456789".to_string(),
                })),
            ),
            &ctx,
        )
        .await?;

    // The module's configuration, as it would come from a file or its settings store.
    let config = json!({
        "DATABASE_HOST": "orders-db.internal",
        "DATABASE_USER": format!("secret://{}#username", db.id),
        "DATABASE_PASSWORD": {"type": "SECRET_REF", "secretId": db.id, "field": "password"},
        "STRIPE_API_KEY": format!("secret://org/{}/STRIPE_KEY", common::ORG),
    });
    let variables: BTreeMap<String, ConfigValue> = config
        .as_object()
        .ok_or_else(|| anyhow::anyhow!("the configuration is an object"))?
        .iter()
        .map(|(k, v)| Ok((k.clone(), ConfigValue::from_json(v)?)))
        .collect::<Result<_, SecretError>>()?;
    let resolved = service.resolve(&variables, &ctx).await?;
    for (key, value) in &resolved {
        let shown = if matches!(variables.get(key), Some(ConfigValue::Plain(_))) {
            value.to_string()
        } else {
            format!("<secret, {} chars>", value.len())
        };
        println!("{key}={shown}");
    }

    // One reference that does not resolve: the whole resolution fails, naming it.
    let mut broken = variables.clone();
    broken.insert(
        "SENTRY_DSN".to_string(),
        ConfigValue::from_json(&json!(format!("secret://org/{}/SENTRY_DSN", common::ORG)))?,
    );
    match service.resolve(&broken, &ctx).await {
        Err(SecretError::Unresolved { failures, .. }) => {
            for f in failures {
                println!("unresolved: {} ({})", f.key, f.code.as_str());
            }
        }
        other => anyhow::bail!(
            "expected the broken configuration to fail, got {:?}",
            other.map(|r| r.len())
        ),
    }
    Ok(())
}
