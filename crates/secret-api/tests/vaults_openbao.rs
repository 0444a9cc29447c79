//! Secrets kept in HashiCorp Vault's KV v2 API, over HTTP against the real server and a real
//! OpenBao (started by the test; skipped without a `bao` binary, failed instead under
//! `SECRETS_TEST_STRICT=1`): the service-level suite of `external`, checked with OpenBao's
//! own API. On SQLite, and PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod external;

use external::ExternalVault;
use secret_store::testing::controls::Controlled;
use secret_store::testing::openbao::{self, OpenBao};
use serde_json::{Value, json};

impl ExternalVault for OpenBao {
    fn backend(&self) -> &'static str {
        "HASHICORP_VAULT"
    }

    fn config(&self, prefix: &str, timeout_seconds: u64) -> Value {
        json!({"address": self.address, "namespace": null, "mount": "secret",
               "pathPrefix": prefix, "timeoutSeconds": timeout_seconds,
               "auth": {"method": "TOKEN", "token": self.root_token}})
    }

    fn fresh_prefix(&self) -> String {
        format!("t-{}", uuid::Uuid::now_v7().simple())
    }

    fn object(&self, prefix: &str, id: &str) -> String {
        format!("{prefix}/{id}")
    }

    /// The newest version neither deleted nor destroyed (KV v2 has no other "current").
    async fn current(&self, object: &str) -> Option<Value> {
        let meta = vaultrs::kv2::read_metadata(&self.root(), "secret", object)
            .await
            .ok()?;
        let newest = meta
            .versions
            .iter()
            .filter(|(_, v)| !v.destroyed && v.deletion_time.is_empty())
            .filter_map(|(n, _)| n.parse::<u64>().ok())
            .max()?;
        vaultrs::kv2::read_version::<Value>(&self.root(), "secret", object, newest)
            .await
            .ok()
    }

    async fn holds(&self, object: &str) -> bool {
        vaultrs::kv2::read_metadata(&self.root(), "secret", object)
            .await
            .is_ok()
    }

    async fn write_outside(&self, object: &str, value: Value) {
        let meta = vaultrs::kv2::read_metadata(&self.root(), "secret", object)
            .await
            .unwrap();
        let cas = u32::try_from(meta.current_version).unwrap();
        vaultrs::kv2::set_with_options(
            &self.root(),
            "secret",
            object,
            &value,
            vaultrs::api::kv2::requests::SetSecretRequestOptions { cas },
        )
        .await
        .unwrap();
    }

    async fn create_outside(&self, object: &str, value: Value) {
        vaultrs::kv2::set(&self.root(), "secret", object, &value)
            .await
            .unwrap();
    }

    fn controls(&self) -> &dyn Controlled {
        &self.process
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_lives_in_openbao_through_its_whole_life() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    external::a_secret_lives_in_the_vault_through_its_whole_life(&bao).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_vault_answers_503_leaves_nothing_half_written_and_recovers() {
    let Some(bao) = OpenBao::spawn_private().await else {
        return;
    };
    external::a_hung_vault_answers_503_leaves_nothing_half_written_and_recovers(&bao).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_interrupted_between_the_vault_and_the_database_are_reconciled() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    external::writes_interrupted_between_the_vault_and_the_database_are_reconciled(&bao).await;
}
