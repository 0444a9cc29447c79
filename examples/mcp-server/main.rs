//! An MCP-server-style module (§9.2): each MCP server it talks to names the secret holding
//! its credentials; a tool call reads that secret through `SecretService` as the calling
//! user, with `mcp-server` as the consumer module and the server's id as the resource (so
//! the audit trail says which server used which credential), and turns "not found" and
//! "expired" into the module's own errors.
//!
//! `cargo run -p secret-examples --bin mcp-server`

#![allow(clippy::print_stdout)]

#[path = "../common.rs"]
mod common;

use secret_api::{CreateSecretParams, SecretScope, SecretService};
use secret_core::value::ApiKeySecret;
use secret_core::{AnySecretValue, ErrorCode, SecretContext, SecretError, SecretId, SecretValue};

/// The module's own errors, as its callers know them.
#[derive(Debug, PartialEq, Eq)]
enum McpError {
    /// The server's credential does not exist (or the user may not see it).
    AuthSecretMissing,
    /// The server's credential has expired: someone must renew it.
    AuthSecretExpired,
    /// Anything else (denied, the vault unreachable, ...), with the secret manager's code.
    Secret(ErrorCode),
}

impl From<SecretError> for McpError {
    fn from(err: SecretError) -> Self {
        match err.code() {
            ErrorCode::SecretNotFound => McpError::AuthSecretMissing,
            ErrorCode::SecretExpired => McpError::AuthSecretExpired,
            code => McpError::Secret(code),
        }
    }
}

/// One MCP server this module calls.
struct McpServerConfig {
    id: &'static str,
    auth_secret_id: Option<SecretId>,
}

struct McpService {
    secrets: SecretService,
}

impl McpService {
    /// Runs `tool` on `server` for the user of `user_ctx`; returns what the transport
    /// would be given (here: a description, never the credential itself).
    async fn execute_tool_with_auth(
        &self,
        server: &McpServerConfig,
        tool: &str,
        user_ctx: &SecretContext,
    ) -> Result<String, McpError> {
        let mut ctx = user_ctx.clone();
        ctx.consumer_module = "mcp-server".to_string();
        ctx.consumer_resource_id = Some(server.id.to_string());
        let credential = match &server.auth_secret_id {
            Some(id) => Some(self.secrets.get_secret(id, &ctx).await?),
            None => None,
        };
        Ok(match credential {
            Some(value) => format!(
                "{tool} on {} with a {} credential",
                server.id,
                value.expose_secret().secret_type()
            ),
            None => format!("{tool} on {} without credentials", server.id),
        })
    }
}

fn api_key(key: &str) -> SecretValue {
    SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
        key: key.to_string(),
    }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let secrets = common::embedded_service().await?;
    let admin = common::caller("mcp-admin");
    let github = secrets
        .create_secret(
            CreateSecretParams::new(
                "GITHUB_MCP_TOKEN",
                SecretScope::Organization,
                api_key("ghp_example0123456789abcdef"),
            ),
            &admin,
        )
        .await?;
    let mut short = CreateSecretParams::new(
        "JIRA_MCP_TOKEN",
        SecretScope::Organization,
        api_key("jira-example-0123456789"),
    );
    short.expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(1));
    let jira = secrets.create_secret(short, &admin).await?;

    let mcp = McpService { secrets };
    let user = common::caller("mcp-server");
    let servers = [
        McpServerConfig {
            id: "github",
            auth_secret_id: Some(github.id.clone()),
        },
        McpServerConfig {
            id: "jira",
            auth_secret_id: Some(jira.id.clone()),
        },
        McpServerConfig {
            id: "wiki",
            auth_secret_id: Some(SecretId::from("01a20000-0000-7000-8000-00000000dead")),
        },
        McpServerConfig {
            id: "public-search",
            auth_secret_id: None,
        },
    ];
    // Let the JIRA token expire.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut outcomes = Vec::new();
    for server in &servers {
        let outcome = mcp.execute_tool_with_auth(server, "search", &user).await;
        println!("{:<14} {:?}", server.id, outcome);
        outcomes.push(outcome);
    }
    anyhow::ensure!(outcomes[0].is_ok(), "github should have run");
    anyhow::ensure!(
        outcomes[1] == Err(McpError::AuthSecretExpired),
        "jira's token expired"
    );
    anyhow::ensure!(
        outcomes[2] == Err(McpError::AuthSecretMissing),
        "wiki's token is missing"
    );
    anyhow::ensure!(outcomes[3].is_ok(), "public-search needs no credential");
    println!("every outcome as expected");
    Ok(())
}
