//! Import and export over HTTP (§11, §12.1): `.env` semantics with nothing expanded,
//! per-item errors, dry runs, atomic imports, JSON and `.env` exports, their permissions and
//! audit records, and the round trips: `.env` -> import -> export -> `.env` read by
//! python-dotenv (`interpolate=False`) as the same map, and JSON export -> import into
//! another organization.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use chrono::Utc;
use reqwest::Method;
use secret_core::Principal;
use secret_testkit::http::*;
use serde_json::{Value, json};

fn env_body(content: &str) -> Value {
    json!({"content": content, "targetScope": "ORGANIZATION"})
}

async fn import_env(s: &Server, token: &str, body: Value) -> Value {
    let r = s
        .call(Method::POST, "/api/secrets/import/env", token, Some(body))
        .await;
    r.expect(200, "");
    r.body
}

/// The value of the org-1 secret `name`, read through the API.
async fn value_of(s: &Server, token: &str, name: &str) -> Value {
    let r = s
        .get(&format!("/api/secrets?search={name}&limit=100"), token)
        .await;
    let id = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} was not imported: {}", r.text))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s.get(&format!("/api/secrets/{id}/value"), token).await;
    r.expect(200, "");
    r.body["value"].clone()
}

fn super_admin() -> Principal {
    Principal::user("root")
        .as_super_admin()
        .authenticated_at(Utc::now())
}

mod export;
mod import;
