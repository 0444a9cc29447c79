//! **A stand-in for Azure Key Vault** (no emulator can be installed here): an in-process
//! HTTPS server, with a CA made at start, that speaks enough of the Key Vault data plane
//! (api-version 7.5 and later, as the official `azure_security_keyvault_secrets` client
//! sends it) and of the Entra ID token endpoint for the official SDK clients to talk to it
//! unchanged. Test support only (feature `testing`); never in a shipped binary.
//!
//! What it follows, from the Key Vault REST reference and its "about secrets", "soft-delete
//! overview" and "authentication" pages:
//! - every data-plane request without a valid bearer token is answered 401 with the
//!   challenge `WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
//!   resource="https://vault.azure.net"`;
//! - `PUT /secrets/{name}` (Set Secret) makes a new version with a 32-hex-digit id; names
//!   are 1-127 letters, digits and hyphens, case-insensitive; at most 15 tags; values at most
//!   25 KB; a name in the deleted-but-recoverable state is refused with 409 `Conflict`;
//! - `GET /secrets/{name}/{version}` (the current version when the version is empty);
//!   a disabled version is 403 `Forbidden` with inner error `SecretDisabled`; an unknown
//!   secret or version 404 `SecretNotFound`;
//! - `GET /secrets/{name}/versions` (no values), `PATCH /secrets/{name}/{version}`
//!   (attributes, tags, content type);
//! - `DELETE /secrets/{name}` moves the secret with every version to the deleted state;
//!   `GET /deletedsecrets/{name}`, `POST /deletedsecrets/{name}/recover`,
//!   `DELETE /deletedsecrets/{name}` (purge, 204; 403 when the vault has purge protection);
//! - error bodies `{"error":{"code","message","innererror"?}}`; throttling is 429 with
//!   `Retry-After`;
//! - `POST /{tenant}/oauth2/v2.0/token` (client credentials) answers a bearer token for
//!   the configured client id and secret, and 401 `invalid_client` (AADSTS7000215) otherwise.
//!
//! Where it is simpler than the real service: deletion, recovery and purge take effect at
//! once (Key Vault completes them in the background, which the backend waits for); there
//! is no RBAC or access policy beyond the one client; `nextLink` paging never starts.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::controls::Controls;

mod state;

use state::*;

/// The tenant, client id and secret the stand-in's token endpoint accepts.
pub const TENANT_ID: &str = "00000000-0000-4000-8000-00000000a2e5";
pub const CLIENT_ID: &str = "11111111-1111-4111-8111-111111111111";
pub const CLIENT_SECRET: &str = "stand-in-client-secret";

/// A running stand-in.
#[derive(Clone)]
pub struct AzureStandIn {
    /// `https://127.0.0.1:PORT`: both the vault URL and the Entra ID authority host.
    pub url: String,
    /// The test CA's certificate (PEM), which the stand-in's certificate chains to.
    pub ca_pem: String,
    state: Arc<State>,
}

impl std::fmt::Debug for AzureStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureStandIn")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<AzureStandIn> = OnceLock::new();

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    if state.controls.arrive().await {
        // Drops the connection without an answer, as a stopped server would.
        return Err(std::io::Error::other("stand-in stopped"));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let api_version = req
        .uri()
        .query()
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "api-version"))
        .map(|(_, v)| v.into_owned());
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let is_token = path.ends_with("/oauth2/v2.0/token");
    if !is_token
        && api_version
            .as_deref()
            .is_none_or(|v| !(v.starts_with("7.") || v.starts_with("20")))
    {
        return Ok(kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The api-version is missing or not supported.",
            None,
        ));
    }
    if !is_token && state.controls.throttled() {
        let mut r = kv_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Throttled",
            "Request was not processed because too many requests were received.",
            None,
        );
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from_static("0"),
        );
        return Ok(r);
    }
    Ok(state.route(&method, &path, auth.as_deref(), &body))
}

fn tls_config() -> (rustls::ServerConfig, String) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "secret-manager test CA");
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let leaf_key = rcgen::KeyPair::generate().expect("a server key");
    let leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("the server certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("the server's TLS settings");
    (config, ca.pem())
}

impl AzureStandIn {
    /// Starts a stand-in of its own, on a thread with its own runtime (so it outlives any
    /// one test's runtime).
    pub fn start() -> AzureStandIn {
        let (tls, ca_pem) = tls_config();
        let state = Arc::new(State {
            token: format!("stand-in-token-{}", uuid::Uuid::now_v7().simple()),
            ..State::default()
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let _ = state.base.set(url.clone());
        let served = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("the stand-in's runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (acceptor, state) = (acceptor.clone(), served.clone());
                    tokio::spawn(async move {
                        if state.controls.is_down() {
                            return;
                        }
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service =
                            hyper::service::service_fn(move |req| handle(state.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        crate::backend::trust_test_ca(&ca_pem);
        AzureStandIn { url, ca_pem, state }
    }

    /// The test process's shared stand-in. Every stand-in shares one CA trust slot in the
    /// backend, so a test that needs one of its own takes [`AzureStandIn::start`]'s after
    /// this one exists.
    pub fn shared() -> AzureStandIn {
        SHARED.get_or_init(AzureStandIn::start).clone()
    }

    /// A configuration's `config` in its wire shape: this stand-in as vault and authority,
    /// its service principal, `prefix` before every name.
    pub fn config_json(&self, prefix: &str, timeout_seconds: u64) -> Value {
        json!({"vaultUrl": self.url, "namePrefix": prefix, "timeoutSeconds": timeout_seconds,
               "authorityHost": self.url,
               "auth": {"method": "SERVICE_PRINCIPAL", "tenantId": TENANT_ID,
                        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}})
    }

    /// A configuration's `config` authenticating with the certificate file at `path`
    /// (see [`AzureStandIn::trust_client_certificate`]).
    pub fn certificate_config_json(&self, prefix: &str, path: &str) -> Value {
        json!({"vaultUrl": self.url, "namePrefix": prefix, "timeoutSeconds": 10,
               "authorityHost": self.url,
               "auth": {"method": "CERTIFICATE", "tenantId": TENANT_ID,
                        "clientId": CLIENT_ID, "certificatePath": path}})
    }

    /// Accepts client assertions signed with the key of `cert_pem` (the first certificate
    /// in it), as an app registration with that certificate uploaded does.
    pub fn trust_client_certificate(&self, cert_pem: &str) {
        let der = x509_parser::pem::Pem::iter_from_buffer(cert_pem.as_bytes())
            .filter_map(Result::ok)
            .find(|p| p.label == "CERTIFICATE")
            .expect("a certificate")
            .contents;
        *self
            .state
            .client_certificate
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(der);
    }

    /// Its switches: freeze, thaw, stop, throttle, count requests.
    pub fn controls(&self) -> &Controls {
        &self.state.controls
    }

    /// Makes the vault refuse purges, as one with purge protection does.
    pub fn set_purge_protection(&self, on: bool) {
        self.state.purge_protection.store(on, Ordering::SeqCst);
    }

    /// The current version's value of `name` as JSON, as the vault would serve it; `None`
    /// when it serves none (no secret, deleted, or the current version disabled).
    pub fn current_value(&self, name: &str) -> Option<Value> {
        let secrets = self.state.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let s = secrets
            .get(&name.to_ascii_lowercase())
            .filter(|s| s.deleted.is_none())?;
        let v = s.versions.iter().rev().find(|v| v.enabled)?;
        serde_json::from_str(&v.value).ok()
    }

    /// Whether the vault holds `name` at all (deleted or not).
    pub fn holds(&self, name: &str) -> bool {
        let secrets = self.state.secrets.lock().unwrap_or_else(|p| p.into_inner());
        secrets.contains_key(&name.to_ascii_lowercase())
    }

    /// Whether `name` is in the deleted state.
    pub fn is_deleted(&self, name: &str) -> bool {
        let secrets = self.state.secrets.lock().unwrap_or_else(|p| p.into_inner());
        secrets
            .get(&name.to_ascii_lowercase())
            .is_some_and(|s| s.deleted.is_some())
    }

    /// The tags of `name`'s newest version.
    pub fn tags(&self, name: &str) -> BTreeMap<String, String> {
        let secrets = self.state.secrets.lock().unwrap_or_else(|p| p.into_inner());
        secrets
            .get(&name.to_ascii_lowercase())
            .and_then(|s| s.versions.last())
            .map(|v| v.tags.clone())
            .unwrap_or_default()
    }

    /// The `exp` attribute (seconds since the epoch) of `name`'s newest version.
    pub fn expiry(&self, name: &str) -> Option<i64> {
        let secrets = self.state.secrets.lock().unwrap_or_else(|p| p.into_inner());
        secrets
            .get(&name.to_ascii_lowercase())
            .and_then(|s| s.versions.last())
            .and_then(|v| v.exp)
    }

    /// Writes a new version of `name` directly, as another client of the vault would.
    pub fn write_outside(&self, name: &str, value: &Value) {
        let r = self.state.set(name, &json!({"value": value.to_string()}));
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "the stand-in refused a direct write"
        );
    }

    /// Disables `name`'s current version directly.
    pub fn disable_current(&self, name: &str) {
        let r = self
            .state
            .update(name, "", &json!({"attributes": {"enabled": false}}));
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "the stand-in refused a direct update"
        );
    }
}
