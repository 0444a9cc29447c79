//! Secrets kept in AWS Secrets Manager, over HTTP against the real server and a real moto
//! server (started by the test; skipped without `moto_server`, failed instead under
//! `SECRETS_TEST_STRICT=1`): the service-level suite of `external`, checked with the AWS
//! SDK against moto. On SQLite, and PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod external;

use external::ExternalVault;
use secret_store::testing::controls::Controlled;
use secret_store::testing::moto::{self, Moto};
use serde_json::Value;

impl ExternalVault for Moto {
    fn backend(&self) -> &'static str {
        "AWS_SECRETS_MANAGER"
    }

    fn config(&self, prefix: &str, timeout_seconds: u64) -> Value {
        self.config_json(prefix, timeout_seconds)
    }

    fn fresh_prefix(&self) -> String {
        moto::fresh_prefix()
    }

    fn object(&self, prefix: &str, id: &str) -> String {
        format!("{prefix}{id}")
    }

    async fn current(&self, object: &str) -> Option<Value> {
        self.current_value(object).await
    }

    async fn holds(&self, object: &str) -> bool {
        Moto::holds(self, object).await
    }

    async fn write_outside(&self, object: &str, value: Value) {
        self.client()
            .await
            .put_secret_value()
            .secret_id(object)
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
    }

    async fn create_outside(&self, object: &str, value: Value) {
        self.client()
            .await
            .create_secret()
            .name(object)
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
    }

    fn controls(&self) -> &dyn Controlled {
        &self.process
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_lives_in_aws_secrets_manager_through_its_whole_life() {
    let Some(m) = moto::server().await else {
        return;
    };
    external::a_secret_lives_in_the_vault_through_its_whole_life(&m).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_aws_answers_503_leaves_nothing_half_written_and_recovers() {
    let Some(m) = Moto::spawn_private().await else {
        return;
    };
    external::a_hung_vault_answers_503_leaves_nothing_half_written_and_recovers(&m).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_writes_interrupted_between_the_vault_and_the_database_are_reconciled() {
    let Some(m) = moto::server().await else {
        return;
    };
    external::writes_interrupted_between_the_vault_and_the_database_are_reconciled(&m).await;
}
