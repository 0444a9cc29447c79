//! **A stand-in for Google Secret Manager** (no emulator can be installed here): an
//! in-process gRPC server of `google.cloud.secretmanager.v1.SecretManagerService`, built
//! with tonic's server API over the very prost messages `gcloud-sdk` ships, so that the
//! official generated client talks to it unchanged. Test support only (feature
//! `gcp-stand-in`); never in a shipped binary.
//!
//! What it follows, from the Secret Manager reference (the v1 RPCs and "Secret Manager
//! error codes") and its "managing secret versions" pages:
//! - every call needs `authorization: Bearer <token>`; the stand-in accepts the
//!   self-signed JWT a service-account key makes (header `kid` the key id, claim `iss` the
//!   client email) and answers UNAUTHENTICATED otherwise (it does not check the signature);
//! - CreateSecret: ids of 1-255 letters, digits, `_`, `-`; replication required; labels of
//!   lower-case keys and values of at most 63 characters; annotations (keys of 1-63
//!   characters, letters or digits at both ends; under 16 KiB in all); ALREADY_EXISTS for a
//!   taken id;
//! - GetSecret; UpdateSecret of labels and annotations with the required update mask and
//!   an optional etag (a stale one is ABORTED);
//! - AddSecretVersion: payloads of at most 64 KiB; versions are numbered from 1, ENABLED;
//! - GetSecretVersion and AccessSecretVersion by number or `latest` (the newest version);
//!   reading a version that is not ENABLED is FAILED_PRECONDITION; NOT_FOUND otherwise;
//! - ListSecretVersions (newest first), ListSecrets;
//! - Disable/Enable/DestroySecretVersion and DeleteSecret with optional etags: a stale
//!   etag is ABORTED; changing a destroyed version is FAILED_PRECONDITION;
//! - throttling is RESOURCE_EXHAUSTED.
//!
//! Where it is simpler: one project, no IAM, no paging (every list fits one page), no
//! replication status, no expiry or TTLs enforced, no payload checksums.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use gcloud_sdk::google::cloud::secretmanager::v1 as sm;
use gcloud_sdk::proto_ext::secretmanager::SecretPayload;
use gcloud_sdk::tonic::codegen::{Context, Poll, Service, http};
use gcloud_sdk::tonic::server::NamedService;
use gcloud_sdk::tonic::{self, Request, Response, Status};
use serde_json::{Value, json};

use super::controls::Controls;

mod state;

use state::*;

/// The project the stand-in serves.
pub const PROJECT_ID: &str = "stand-in-project";
/// The service-account key id and email the stand-in accepts.
pub const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";
pub const CLIENT_EMAIL: &str = "secret-manager@stand-in-project.iam.gserviceaccount.com";

const TEST_KEY: &str = include_str!("../../../../secret-core/tests/fixtures/cert_rsa_key.pem");

/// Secret Manager's limit on a payload (the "quotas and limits" page).
const MAX_PAYLOAD: usize = 64 * 1024;

/// A running stand-in.
#[derive(Clone)]
pub struct GcpStandIn {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    state: Arc<State>,
}

impl std::fmt::Debug for GcpStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpStandIn")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<GcpStandIn> = OnceLock::new();

/// A unary method as a tower service.
struct Method<F>(F);

impl<Req, Resp, F> Service<Request<Req>> for Method<F>
where
    F: FnMut(Request<Req>) -> Result<Response<Resp>, Status>,
{
    type Response = Response<Resp>;
    type Error = Status;
    type Future = std::future::Ready<Result<Response<Resp>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, r: Request<Req>) -> Self::Future {
        std::future::ready((self.0)(r))
    }
}

#[derive(Clone)]
struct Server(Arc<State>);

impl NamedService for Server {
    const NAME: &'static str = "google.cloud.secretmanager.v1.SecretManagerService";
}

type Reply = http::Response<tonic::body::Body>;

impl Service<http::Request<tonic::body::Body>> for Server {
    type Response = Reply;
    type Error = Infallible;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Reply, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let state = self.0.clone();
        Box::pin(async move {
            if state.controls.arrive().await {
                return Ok(Status::unavailable("The service is currently unavailable.").into_http());
            }
            if !state.authorized(req.headers()) {
                return Ok(Status::unauthenticated(
                    "Request had invalid authentication credentials.",
                )
                .into_http());
            }
            if state.controls.throttled() {
                return Ok(Status::resource_exhausted("Quota exceeded.").into_http());
            }
            let method = req
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            macro_rules! unary {
                ($f:ident) => {{
                    let s = state.clone();
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    Ok(grpc.unary(Method(move |r| s.$f(r)), req).await)
                }};
            }
            match method.as_str() {
                "CreateSecret" => unary!(create_secret),
                "GetSecret" => unary!(get_secret),
                "UpdateSecret" => unary!(update_secret),
                "AddSecretVersion" => unary!(add_secret_version),
                "GetSecretVersion" => unary!(get_secret_version),
                "AccessSecretVersion" => unary!(access_secret_version),
                "ListSecretVersions" => unary!(list_secret_versions),
                "ListSecrets" => unary!(list_secrets),
                "DisableSecretVersion" => unary!(disable_secret_version),
                "EnableSecretVersion" => unary!(enable_secret_version),
                "DestroySecretVersion" => unary!(destroy_secret_version),
                "DeleteSecret" => unary!(delete_secret),
                _ => Ok(
                    Status::unimplemented("The stand-in does not serve this method.").into_http(),
                ),
            }
        })
    }
}

impl GcpStandIn {
    /// Starts a stand-in of its own, on a thread with its own runtime.
    pub fn start() -> GcpStandIn {
        let state = Arc::new(State::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).expect("non-blocking");
        let endpoint = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let served = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("the stand-in's runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                let _ = tonic::transport::Server::builder()
                    .add_service(Server(served))
                    .serve_with_incoming(incoming)
                    .await;
            });
        });
        GcpStandIn { endpoint, state }
    }

    /// The test process's shared stand-in.
    pub fn shared() -> GcpStandIn {
        SHARED.get_or_init(GcpStandIn::start).clone()
    }

    /// The service-account key the stand-in accepts (a test key; never a real one).
    pub fn key_json() -> Value {
        json!({"type": "service_account", "project_id": PROJECT_ID,
               "private_key_id": KEY_ID, "private_key": TEST_KEY,
               "client_email": CLIENT_EMAIL, "client_id": "100000000000000000001",
               "token_uri": "https://oauth2.googleapis.com/token"})
    }

    /// A configuration's `config` in its wire shape: this stand-in, the accepted key,
    /// `prefix` before every id.
    pub fn config_json(&self, prefix: &str, timeout_seconds: u64) -> Value {
        json!({"projectId": PROJECT_ID, "endpoint": self.endpoint, "namePrefix": prefix,
               "timeoutSeconds": timeout_seconds,
               "auth": {"method": "KEY_JSON", "json": Self::key_json()}})
    }

    /// The resource name of the secret with id `id`.
    pub fn secret_name(id: &str) -> String {
        format!("projects/{PROJECT_ID}/secrets/{id}")
    }

    /// Its switches: freeze, thaw, stop, throttle, count calls.
    pub fn controls(&self) -> &Controls {
        &self.state.controls
    }

    /// The newest enabled version's payload of secret `id` as JSON; `None` when it has
    /// none (no secret, or no enabled version).
    pub fn current_value(&self, id: &str) -> Option<Value> {
        let secrets = self.state.secrets();
        let v = secrets
            .get(id)?
            .versions
            .iter()
            .rev()
            .find(|v| v.state == sm::secret_version::State::Enabled)?;
        serde_json::from_slice(&v.data).ok()
    }

    /// Whether secret `id` exists.
    pub fn holds(&self, id: &str) -> bool {
        self.state.secrets().contains_key(id)
    }

    /// Secret `id`'s labels.
    pub fn labels(&self, id: &str) -> HashMap<String, String> {
        self.state
            .secrets()
            .get(id)
            .map(|s| s.labels.clone())
            .unwrap_or_default()
    }

    /// Secret `id`'s annotations.
    pub fn annotations(&self, id: &str) -> HashMap<String, String> {
        self.state
            .secrets()
            .get(id)
            .map(|s| s.annotations.clone())
            .unwrap_or_default()
    }

    /// The states of secret `id`'s versions, oldest first.
    pub fn states(&self, id: &str) -> Vec<String> {
        self.state
            .secrets()
            .get(id)
            .map(|s| {
                s.versions
                    .iter()
                    .map(|v| v.state.as_str_name().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes a version (making the secret if needed) directly, as another client would.
    pub fn write_outside(&self, id: &str, value: &Value) {
        let etag = self.state.etag();
        let mut secrets = self.state.secrets();
        let s = secrets.entry(id.to_string()).or_insert_with(|| Secret {
            labels: HashMap::new(),
            annotations: HashMap::new(),
            created: chrono::Utc::now().timestamp(),
            versions: Vec::new(),
            etag: etag.clone(),
        });
        let number = s.versions.len() as u64 + 1;
        s.versions.push(Version {
            number,
            state: sm::secret_version::State::Enabled,
            data: value.to_string().into_bytes(),
            created: chrono::Utc::now().timestamp(),
            etag,
        });
    }
}
