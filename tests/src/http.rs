//! The HTTP harness shared by the REST tests: the real actix server on 127.0.0.1:0 over a
//! fresh database (SQLite, or PostgreSQL when `DATABASE_URL` says so), reqwest, HS256
//! tokens, and a capture of every log line of the test binary.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

use chrono::{Duration, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use secret_access::{TokenIssuer, TokenVerifier};
use secret_api::http::{HttpSettings, serve};
use secret_core::{OrgRole, Principal, ProjectRole, TeamRole};
use serde_json::{Value, json};

use crate::db::TestService;

// ------------------------------------------------------------------ log capture

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a global subscriber that keeps every event, down to TRACE, of this binary.
pub fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
}

pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// Fails if any of `values` appears in any log line written so far.
pub fn assert_never_logged(values: &[&str]) {
    let logs = logs();
    assert!(!logs.is_empty(), "the log capture saw nothing");
    for v in values {
        assert!(!logs.contains(v), "a secret value was logged: {v}");
    }
}

// ------------------------------------------------------------------ harness

pub struct Server {
    pub base: String,
    pub client: Client,
    pub issuer: TokenIssuer,
    pub t: TestService,
    pub handle: actix_web::dev::ServerHandle,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Sends the stop command at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn expect(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "body: {}",
            self.text
        );
        if !code.is_empty() {
            assert!(self.body["error"]["message"].is_string());
            assert_eq!(
                self.body["error"]["requestId"].as_str(),
                self.header("x-request-id"),
                "the envelope's request id is the header's"
            );
        }
    }
}

pub fn settings() -> HttpSettings {
    HttpSettings {
        workers: Some(1),
        ..HttpSettings::default()
    }
}

pub async fn spawn() -> Server {
    spawn_with(TestService::new().await, settings()).await
}

/// A server whose web UI has the development sign-in page (as `--dev` gives it).
pub async fn spawn_dev() -> Server {
    let key = random_key();
    let settings = HttpSettings {
        dev_sign_in: Some(secret_api::http::DevSignIn::new(
            TokenIssuer::hs256(&key).unwrap(),
        )),
        ..settings()
    };
    spawn_keyed(TestService::new().await, settings, key).await
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).unwrap();
    key
}

pub async fn spawn_with(t: TestService, settings: HttpSettings) -> Server {
    spawn_keyed(t, settings, random_key()).await
}

async fn spawn_keyed(t: TestService, settings: HttpSettings, key: [u8; 32]) -> Server {
    capture_logs();
    let verifier = TokenVerifier::hs256(&key).unwrap();
    let issuer = TokenIssuer::hs256(&key).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = serve(listener, t.service.clone(), verifier, settings).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    Server {
        base: format!("http://127.0.0.1:{port}"),
        client: Client::new(),
        issuer,
        t,
        handle,
    }
}

/// Administers org-1, leads team-1, administers project-1; authenticated just now.
pub fn org_admin() -> Principal {
    Principal::user("user-1")
        .with_org("org-1", OrgRole::Admin)
        .with_team("team-1", "org-1", TeamRole::Lead)
        .with_project("project-1", "org-1", Some("team-1"), ProjectRole::Admin)
        .authenticated_at(Utc::now())
}

/// A plain member of org-1.
pub fn org_member() -> Principal {
    Principal::user("user-2").with_org("org-1", OrgRole::Member)
}

/// Administers another organization only.
pub fn outsider() -> Principal {
    Principal::user("user-3").with_org("org-2", OrgRole::Admin)
}

impl Server {
    pub fn token(&self, p: &Principal) -> String {
        self.issuer
            .mint(p, Duration::minutes(30), Utc::now())
            .unwrap()
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-Organization-Id", "org-1");
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.request(method, path, Some(token));
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// Creates an ORGANIZATION API key in org-1 and returns its id.
    pub async fn create_key(&self, token: &str, name: &str, key: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/api/secrets",
                token,
                Some(api_key_body(name, key)),
            )
            .await;
        r.expect(201, "");
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn rows(&self) -> (i64, i64, i64) {
        let mut raw = self.t.db.raw().await;
        (
            raw.count("SELECT COUNT(*) FROM secrets").await,
            raw.count("SELECT COUNT(*) FROM secret_versions").await,
            raw.count("SELECT COUNT(*) FROM secret_access_grants").await,
        )
    }
}

pub fn api_key_body(name: &str, key: &str) -> Value {
    json!({
        "name": name,
        "type": "API_KEY",
        "value": {"type": "API_KEY", "key": key},
        "scope": "ORGANIZATION",
        "tags": ["llm", "prod"],
        "metadata": {"owner": "platform"},
    })
}
