//! The storage-backend conformance suite against AWS Secrets Manager's API on a real moto
//! server (started by the test; skipped without `moto_server`, failed instead under
//! `SECRETS_TEST_STRICT=1`), plus what only the AWS backend shows: our tags, staging labels,
//! a write refused when the secret changed outside the service, the recovery window, and
//! errors when the server is gone, hangs, refuses the credentials or keeps throttling.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use secret_core::SecretError;
use secret_core::vault::AwsSecretsManagerConfig;
use secret_store::testing::conformance::{generic, same};
use secret_store::testing::moto::{self, Moto};
use secret_store::testing::{conformance, stub};
use secret_store::{AwsSecretsManagerBackend, StorageBackend, StoredValue, ValueTarget};

fn version_id(stored: &StoredValue) -> String {
    match stored {
        StoredValue::External {
            vault_version_id: Some(v),
            ..
        } => v.clone(),
        other => panic!("not an AWS reference: {other:?}"),
    }
}

async fn backend(config: AwsSecretsManagerConfig) -> AwsSecretsManagerBackend {
    AwsSecretsManagerBackend::connect(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_backend_conforms() {
    let Some(m) = moto::server().await else {
        return;
    };
    conformance::run(&backend(m.config(&moto::fresh_prefix(), 10)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_secrets_carry_our_tags_and_labels_and_refuse_a_stale_write() {
    let Some(m) = moto::server().await else {
        return;
    };
    let prefix = moto::fresh_prefix();
    let b = backend(m.config(&prefix, 10)).await;
    let id = uuid::Uuid::now_v7().to_string();
    let name = format!("{prefix}{id}");
    let t1 = ValueTarget {
        secret_id: &id,
        secret_name: "TAGGED",
        version: 1,
    };
    let v1 = b.store_value(t1, &generic("one"), None).await.unwrap();
    let t2 = ValueTarget { version: 2, ..t1 };
    let v2 = b.store_value(t2, &generic("two"), Some(&v1)).await.unwrap();
    let client = m.client().await;
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = d
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    assert!(
        tags.contains(&("secretManagerId".into(), id.clone())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("secretType".into(), "GENERIC".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("secretManagerVersion".into(), "2".into())),
        "{tags:?}"
    );
    assert!(
        !tags.iter().any(|(_, v)| v.contains("TAGGED")),
        "the human name is not put in tags"
    );
    let stages = d.version_ids_to_stages().unwrap();
    assert_eq!(stages[&version_id(&v2)], vec!["AWSCURRENT".to_string()]);
    assert!(stages[&version_id(&v1)].contains(&"AWSPREVIOUS".to_string()));

    // A write whose answer was lost is found again: the one current version after ours.
    assert_eq!(
        b.find_written(&id, Some(&v1)).await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(b.find_written(&id, Some(&v2)).await.unwrap(), None);
    // Removing the newest version (an abandoned write) moves AWSCURRENT back.
    b.remove_versions(&id, std::slice::from_ref(&v2))
        .await
        .unwrap();
    assert_eq!(
        m.current_value(&name).await,
        Some(serde_json::json!({"type": "GENERIC", "value": "one"}))
    );
    assert_eq!(b.find_written(&id, Some(&v1)).await.unwrap(), None);
    // A write after v1 lands again (moto then labels two versions AWSCURRENT, which AWS
    // never does: nothing after this relies on find_written).
    let v2 = b.store_value(t2, &generic("two"), Some(&v1)).await.unwrap();
    assert!(same(
        &b.retrieve_value(t2, &v2).await.unwrap(),
        &generic("two")
    ));

    // A value written outside the service: our next write is refused, not stacked on it.
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(r#"{"type":"GENERIC","value":"outside"}"#)
        .send()
        .await
        .unwrap();
    let t3 = ValueTarget { version: 3, ..t1 };
    let err = SecretError::from(
        b.store_value(t3, &generic("three"), Some(&v2))
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, SecretError::Conflict { .. }), "{err:?}");
    // So is a create over a name that exists.
    let err = SecretError::from(
        b.store_value(t1, &generic("again"), None)
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, SecretError::Conflict { .. }), "{err:?}");

    // Soft delete schedules the deletion with our recovery window; a second is no error.
    b.soft_delete(&id, &[]).await.unwrap();
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert!(d.deleted_date().is_some(), "not scheduled for deletion");
    b.soft_delete(&id, &[]).await.unwrap();
    assert_eq!(m.current_value(&name).await, None, "served while deleted");
    b.restore(&id, &[]).await.unwrap();
    assert!(m.current_value(&name).await.is_some());
    b.delete_secret(&id, &[]).await.unwrap();
    assert!(
        !m.holds(&name).await,
        "the secret survived a permanent delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_or_hung_moto_is_unavailable() {
    let Some(m) = Moto::spawn_private().await else {
        return;
    };
    let b = backend(m.config(&moto::fresh_prefix(), 2)).await;
    conformance::unavailable_while_hung_or_stopped(&b, &m.process).await;
}

async fn stub_backend(
    replies: Vec<stub::Reply>,
) -> (
    AwsSecretsManagerBackend,
    tokio::task::JoinHandle<Vec<String>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(stub::answer(listener, replies));
    (backend(moto::config(&endpoint, "", 2)).await, server)
}

const AWS_JSON: &str = "application/x-amz-json-1.1";

#[tokio::test]
async fn refused_credentials_are_a_502_naming_the_code_and_never_the_key() {
    let reply = stub::Reply {
        status: 400,
        content_type: AWS_JSON,
        body: r#"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
    };
    let (b, server) = stub_backend(vec![reply]).await;
    let err = SecretError::from(b.health_check().await.unwrap_err());
    let requests = server.await.unwrap();
    assert_eq!(requests.len(), 1, "a refused credential is not retried");
    assert!(
        matches!(err, SecretError::VaultConnectionFailed { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("UnrecognizedClientException"), "{text}");
    assert!(text.contains("AWS Secrets Manager (us-east-1)"), "{text}");
    assert!(
        !text.contains("AKIATESTING") && !text.contains("testing-secret"),
        "{text}"
    );
    // The request was signed with the configured key (its id, never the secret, is sent).
    assert!(
        requests[0].contains("Credential=AKIATESTING/"),
        "{}",
        requests[0]
    );
    assert!(!requests[0].contains("testing-secret-access-key"));
}

#[tokio::test]
async fn throttling_is_retried_up_to_a_bound_then_a_503() {
    let reply = stub::Reply {
        status: 400,
        content_type: AWS_JSON,
        body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
    };
    let (b, server) = stub_backend(vec![reply; 3]).await;
    let err = SecretError::from(b.health_check().await.unwrap_err());
    // Three attempts were answered; a fourth would have found the stub gone (connection
    // refused: "could not be reached").
    let requests = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("the backend made fewer than three attempts")
        .unwrap();
    assert_eq!(requests.len(), 3);
    assert!(
        matches!(err, SecretError::VaultUnavailable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("throttling"), "{err}");
}

/// The conformance suite against a real AWS account, on demand:
/// `AWS_REGION=eu-west-1 SECRETS_LIVE_AWS=1 cargo test -p secret-store --features
/// testing,aws-secrets-manager --test conformance_aws -- --ignored`, with credentials from
/// the SDK's default chain. Every object is made under a `secret-manager-live-test/` prefix
/// and deleted again (forced, no recovery window). Exempt from SECRETS_TEST_STRICT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real AWS account: set AWS_REGION, credentials and SECRETS_LIVE_AWS=1"]
async fn live_aws_secrets_manager_conforms() {
    let (Ok(region), Ok("1")) = (
        std::env::var("AWS_REGION"),
        std::env::var("SECRETS_LIVE_AWS").as_deref(),
    ) else {
        eprintln!("live AWS test not run: set AWS_REGION, SECRETS_LIVE_AWS=1 and credentials");
        return;
    };
    let prefix = format!(
        "secret-manager-live-test/{}/",
        uuid::Uuid::now_v7().simple()
    );
    let config = secret_core::vault::BackendConfig::parse(
        secret_core::StorageBackendKind::AwsSecretsManager,
        serde_json::json!({"region": region, "namePrefix": prefix, "timeoutSeconds": 20,
                           "auth": {"method": "DEFAULT"}}),
    )
    .unwrap();
    let secret_core::vault::BackendConfig::AwsSecretsManager(config) = config else {
        panic!("not an AWS configuration")
    };
    conformance::run(&backend(config).await).await;
}
