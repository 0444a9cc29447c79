//! Secrets kept in Google Secret Manager, over HTTP against the real server and the in-tree
//! Secret Manager **stand-in** (`secret_store::testing::gcp`: a gRPC server over the
//! messages `gcloud-sdk` ships), reached through the generated client: the service-level
//! suite of `external`. On SQLite, and PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod external;

use external::ExternalVault;
use secret_store::testing::controls::Controlled;
use secret_store::testing::gcp::GcpStandIn;
use serde_json::Value;

impl ExternalVault for GcpStandIn {
    fn backend(&self) -> &'static str {
        "GCP_SECRET_MANAGER"
    }

    fn config(&self, prefix: &str, timeout_seconds: u64) -> Value {
        self.config_json(prefix, timeout_seconds)
    }

    fn fresh_prefix(&self) -> String {
        format!("t{}-", uuid::Uuid::now_v7().simple())
    }

    fn object(&self, prefix: &str, id: &str) -> String {
        format!("{prefix}{id}")
    }

    async fn current(&self, object: &str) -> Option<Value> {
        self.current_value(object)
    }

    async fn holds(&self, object: &str) -> bool {
        GcpStandIn::holds(self, object)
    }

    async fn write_outside(&self, object: &str, value: Value) {
        GcpStandIn::write_outside(self, object, &value);
    }

    async fn create_outside(&self, object: &str, value: Value) {
        GcpStandIn::write_outside(self, object, &value);
    }

    fn controls(&self) -> &dyn Controlled {
        GcpStandIn::controls(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_lives_in_google_secret_manager_through_its_whole_life() {
    external::a_secret_lives_in_the_vault_through_its_whole_life(&GcpStandIn::shared()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_google_answers_503_leaves_nothing_half_written_and_recovers() {
    external::a_hung_vault_answers_503_leaves_nothing_half_written_and_recovers(
        &GcpStandIn::start(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_writes_interrupted_between_the_vault_and_the_database_are_reconciled() {
    external::writes_interrupted_between_the_vault_and_the_database_are_reconciled(
        &GcpStandIn::shared(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_follows_the_secret_into_a_google_annotation() {
    external::the_expiry_follows_the_secret_into_the_vault(
        &GcpStandIn::shared(),
        |gcp, object| {
            gcp.annotations(object)
                .get(secret_store::GCP_EXPIRY_ANNOTATION)
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .expect("an RFC 3339 annotation")
                        .timestamp()
                })
        },
        true,
    )
    .await;
}
