//! The web UI under `/ui` over real HTTP against the real server, as a browser without
//! JavaScript would use it (cookies kept by hand, every form posted as a form): sign-in and
//! the session cookie, CSRF on every form, the security headers, the secret list and
//! detail, reveal as an audited read, the forms of every type, edit, rotate, grants, the
//! audit log, rollback and permanent delete. (`ui_browser` drives the same pages in
//! chromium.) On SQLite, and PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod compliance;
mod forms;
mod secrets;
mod transfer;
mod vaults;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, StatusCode, redirect};
use secret_core::Principal;
use secret_testkit::http::*;

pub(crate) const CANARY: &str = "sk-ui-CANARY-0123456789abcdef";

/// A browser without JavaScript: no redirects followed, cookies kept by hand.
pub(crate) struct Browser<'a> {
    s: &'a Server,
    client: Client,
    pub(crate) cookies: Vec<(String, String)>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) html: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers.get(LOCATION).unwrap().to_str().unwrap()
    }

    /// The value of the first hidden `csrf` input.
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .html
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.html[at..].split('"').next().unwrap().to_string()
    }
}

impl<'a> Browser<'a> {
    pub(crate) fn new(s: &'a Server) -> Self {
        Browser {
            s,
            client: Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    async fn go(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.s.base));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(COOKIE, jar.join("; "));
        }
        if let Some(form) = form {
            req = req.form(form);
        }
        let res = req.send().await.unwrap();
        let headers = res.headers().clone();
        for set in headers.get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() && !set.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        Page {
            status: res.status(),
            headers,
            html: res.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.go(Method::GET, path, None).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.go(Method::POST, path, Some(form)).await
    }

    /// Signs in as `who`; returns the session's CSRF token.
    pub(crate) async fn sign_in(&mut self, who: &Principal) -> String {
        let form = self.get("/ui/sign-in").await;
        assert_eq!(form.status, 200);
        let token = self.s.token(who);
        let r = self
            .post("/ui/sign-in", &[("token", &token), ("csrf", &form.csrf())])
            .await;
        assert_eq!(r.status, 303, "{}", r.html);
        assert_eq!(r.location(), "/ui/secrets");
        self.get("/ui/secrets").await.csrf()
    }
}

pub(crate) async fn create(s: &Server, name: &str, extra: serde_json::Value) -> String {
    let mut body = api_key_body(name, CANARY);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = s
        .call(
            Method::POST,
            "/api/secrets",
            &s.token(&org_admin()),
            Some(body),
        )
        .await;
    r.expect(201, "");
    r.body["id"].as_str().unwrap().to_string()
}
