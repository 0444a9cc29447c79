//! The web UI under `/ui` over real HTTP against the real server: sign-in with a bearer
//! token and the session cookie, CSRF on every form, the security headers, the secret list
//! with its filters, the detail page, reveal as an audited read, soft delete and restore,
//! and actions hidden from callers not allowed them. (The browser tests of issue 15 drive
//! the same pages in chromium.) On SQLite, and PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, StatusCode, redirect};
use secret_core::Principal;
use secret_testkit::http::*;
use serde_json::json;

const CANARY: &str = "sk-ui-CANARY-0123456789abcdef";

/// A browser without JavaScript: no redirects followed, cookies kept by hand.
struct Browser<'a> {
    s: &'a Server,
    client: Client,
    cookies: Vec<(String, String)>,
}

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers.get(LOCATION).unwrap().to_str().unwrap()
    }

    /// The value of the first hidden `csrf` input.
    fn csrf(&self) -> String {
        let at = self
            .html
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.html[at..].split('"').next().unwrap().to_string()
    }
}

impl<'a> Browser<'a> {
    fn new(s: &'a Server) -> Self {
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

    async fn get(&mut self, path: &str) -> Page {
        self.go(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.go(Method::POST, path, Some(form)).await
    }

    /// Signs in as `who`; returns the session's CSRF token.
    async fn sign_in(&mut self, who: &Principal) -> String {
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

async fn create(s: &Server, name: &str, extra: serde_json::Value) -> String {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_session_cookie_and_every_form_needs_its_csrf_token() {
    let s = spawn().await;
    let mut b = Browser::new(&s);
    let r = b.get("/ui/secrets").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/ui/sign-in");

    let form = b.get("/ui/sign-in").await;
    let csp = form.headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(form.headers["referrer-policy"], "no-referrer");
    assert_eq!(form.headers["x-content-type-options"], "nosniff");
    let token = s.token(&org_admin());
    // A forged sign-in (no form token) and a token that does not verify are refused.
    let r = b
        .post("/ui/sign-in", &[("token", &token), ("csrf", "forged")])
        .await;
    assert_eq!(r.status, 403);
    let form = b.get("/ui/sign-in").await;
    let r = b
        .post(
            "/ui/sign-in",
            &[("token", "not-a-token"), ("csrf", &form.csrf())],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.html.contains("That token was not accepted"));
    assert!(!b.cookies.iter().any(|(k, _)| k == "sm_session"));

    let form = b.get("/ui/sign-in").await;
    let r = b
        .post("/ui/sign-in", &[("token", &token), ("csrf", &form.csrf())])
        .await;
    assert_eq!(r.status, 303);
    let set: Vec<&str> = r
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|v| v.starts_with("sm_session="))
        .collect();
    assert_eq!(set.len(), 1);
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set[0].contains(attr), "{attr} missing: {}", set[0]);
    }

    // Signed in; a post without the session's CSRF token changes nothing.
    let id = create(&s, "UI_CSRF", json!({})).await;
    let list = b.get("/ui/secrets").await;
    assert_eq!(list.status, 200);
    let r = b
        .post(&format!("/ui/secrets/{id}/delete"), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status, 403);
    let meta = s.get(&format!("/api/secrets/{id}"), &token).await;
    assert_eq!(meta.body["deletedAt"], serde_json::Value::Null);

    // Sign-out needs the token too, and ends the session.
    let csrf = list.csrf();
    assert_eq!(b.post("/ui/sign-out", &[("csrf", "x")]).await.status, 403);
    let r = b.post("/ui/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(b.get("/ui/secrets").await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_and_the_detail_reveals_a_value_only_when_asked_and_audited() {
    let s = spawn().await;
    let soon = (Utc::now() + Duration::days(10)).to_rfc3339();
    let id = create(
        &s,
        "GITHUB_TOKEN",
        json!({"description": "GitHub token <for CI>", "expiresAt": soon, "tags": ["github", "api"]}),
    )
    .await;
    create(&s, "OTHER_KEY", json!({"tags": ["other"]})).await;
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;

    let list = b.get("/ui/secrets").await;
    assert!(list.html.contains("GITHUB_TOKEN") && list.html.contains("OTHER_KEY"));
    assert!(list.html.contains("API Key"));
    // Escaped, never raw markup.
    assert!(
        list.html.contains("GitHub token &#60;for CI&#62;")
            || list.html.contains("GitHub token &lt;for CI&gt;")
    );
    assert!(
        list.html.contains("class=\"warn\""),
        "expiry within 30 days is a warning"
    );
    assert!(list.html.contains("href=\"/ui/secrets?tag=github\""));
    assert!(!list.html.contains(CANARY));

    let by_tag = b.get("/ui/secrets?tag=github").await;
    assert!(by_tag.html.contains("GITHUB_TOKEN") && !by_tag.html.contains("OTHER_KEY"));
    let by_search = b.get("/ui/secrets?search=other").await;
    assert!(!by_search.html.contains("GITHUB_TOKEN") && by_search.html.contains("OTHER_KEY"));
    let none = b
        .get("/ui/secrets?search=nothing-matches&type=SSH_KEY")
        .await;
    assert!(none.html.contains("No secrets match"));
    assert!(none.html.contains("<option value=\"SSH_KEY\" selected>"));

    let detail = b.get(&format!("/ui/secrets/{id}")).await;
    assert_eq!(detail.status, 200);
    assert!(detail.html.contains("id=\"masked\""));
    assert!(!detail.html.contains(CANARY));
    let reads = "SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRET_READ' \
                 AND consumer_module = 'web-ui'";
    assert_eq!(s.t.db.raw().await.count(reads).await, 0);
    let forged = b
        .post(&format!("/ui/secrets/{id}/reveal"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status, 403);
    assert!(!forged.html.contains(CANARY));
    let shown = b
        .post(&format!("/ui/secrets/{id}/reveal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(shown.status, 200);
    assert!(shown.html.contains(CANARY));
    assert!(shown.html.contains(&format!(
        "<meta http-equiv=\"refresh\" content=\"30;url=/ui/secrets/{id}\">"
    )));
    assert_eq!(shown.headers["cache-control"], "no-store");
    assert_eq!(s.t.db.raw().await.count(reads).await, 1);
    assert!(
        !b.get(&format!("/ui/secrets/{id}"))
            .await
            .html
            .contains(CANARY)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_no_delete_and_an_admin_deletes_and_restores() {
    let s = spawn().await;
    let id = create(&s, "SHARED_KEY", json!({})).await;
    let admin = s.token(&org_admin());
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/access"),
        &admin,
        Some(json!({"granteeType": "USER", "granteeId": "user-2", "canRead": true})),
    )
    .await
    .expect(201, "");

    let mut member = Browser::new(&s);
    let csrf = member.sign_in(&org_member()).await;
    let list = member.get("/ui/secrets").await;
    assert!(list.html.contains("SHARED_KEY"), "{}", list.html);
    assert!(!list.html.contains("/delete\""), "a member sees no Delete");
    let detail = member.get(&format!("/ui/secrets/{id}")).await;
    assert!(!detail.html.contains("/delete\"") && !detail.html.contains("Access grants"));
    // A post the page never offered is refused by the service itself.
    let r = member
        .post(&format!("/ui/secrets/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 403);
    let shown = member
        .post(&format!("/ui/secrets/{id}/reveal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(shown.status, 200);
    assert!(shown.html.contains(CANARY));

    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;
    let detail = b.get(&format!("/ui/secrets/{id}")).await;
    assert!(detail.html.contains("Access grants") && detail.html.contains("User user-2"));
    let r = b
        .post(&format!("/ui/secrets/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert!(meta.body["deletedAt"].is_string(), "{}", meta.text);
    let detail = b.get(r.location()).await;
    assert!(detail.html.contains("deleted") && detail.html.contains("/restore\""));
    let r = b
        .post(&format!("/ui/secrets/{id}/restore"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(meta.body["deletedAt"], serde_json::Value::Null);
}

const CERT: &str = include_str!("../../secret-core/tests/fixtures/cert_rsa.pem");
const CERT_KEY: &str = include_str!("../../secret-core/tests/fixtures/cert_rsa_key.pem");
const SSH_KEY: &str = include_str!("../../secret-core/tests/fixtures/ssh_ed25519.key");

/// One type's form fields and what the API then reads back.
type Case = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    serde_json::Value,
);

/// Creates a secret through the create form; returns the answer.
async fn create_through_form(b: &mut Browser<'_>, csrf: &str, fields: &[(&str, &str)]) -> Page {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    b.post("/ui/secrets/new", &form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_is_created_through_its_own_form_and_reads_back_through_the_api() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;

    // The form offers only the scopes an org admin may create in, with its memberships.
    let form = b.get("/ui/secrets/new").await;
    assert_eq!(form.status, 200);
    assert!(
        form.html
            .contains("<option value=\"ORGANIZATION\" selected>Organization</option>")
    );
    assert!(
        !form.html.contains("value=\"GLOBAL\""),
        "an org admin cannot create global secrets"
    );
    assert!(form.html.contains("<option value=\"org-1\">org-1</option>"));
    assert!(form.html.contains("type=\"password\" id=\"value-key\""));
    let env = b.get("/ui/secrets/new?type=ENV_VARIABLE_SET").await;
    assert!(env.html.contains("name=\"value.variables\""));

    let cases: Vec<Case> = vec![
        (
            "API_KEY",
            vec![("value.key", CANARY)],
            json!({"key": CANARY}),
        ),
        (
            "OAUTH2_TOKEN",
            vec![
                ("value.accessToken", "at-CANARY-1"),
                ("value.tokenType", "Bearer"),
                ("value.expiresAt", "2031-01-02T03:04"),
            ],
            json!({"accessToken": "at-CANARY-1", "tokenType": "Bearer", "expiresAt": "2031-01-02T03:04:00Z"}),
        ),
        (
            "USERNAME_PASSWORD",
            vec![
                ("value.username", "svc"),
                ("value.password", " pw with spaces "),
            ],
            json!({"username": "svc", "password": " pw with spaces "}),
        ),
        (
            "CERTIFICATE",
            vec![("value.certificate", CERT), ("value.privateKey", CERT_KEY)],
            json!({"certificate": CERT.trim()}),
        ),
        (
            "SSH_KEY",
            vec![("value.privateKey", SSH_KEY), ("value.keyType", "ed25519")],
            json!({"keyType": "ed25519"}),
        ),
        (
            "CONNECTION_STRING",
            vec![(
                "value.connectionString",
                "postgres://app:pw-CANARY@db.internal:5432/app",
            )],
            json!({"connectionString": "postgres://app:pw-CANARY@db.internal:5432/app"}),
        ),
        (
            "JSON_CREDENTIAL",
            vec![(
                "value.credential",
                "{\"type\": \"service_account\", \"n\": 1}",
            )],
            json!({"credential": {"type": "service_account", "n": 1}}),
        ),
        (
            "ENV_VARIABLE_SET",
            vec![(
                "value.variables",
                "# comment\nDB_HOST=db.internal\nDB_PASS=a=b",
            )],
            json!({"variables": {"DB_HOST": "db.internal", "DB_PASS": "a=b"}}),
        ),
        (
            "GENERIC",
            vec![("value.value", "anything at all")],
            json!({"value": "anything at all"}),
        ),
    ];
    for (n, (t, value_fields, expected)) in cases.into_iter().enumerate() {
        let name = format!("FORM_{n}");
        let mut fields = vec![
            ("type", t),
            ("name", name.as_str()),
            ("scope", "ORGANIZATION"),
            ("organizationId", "org-1"),
            ("tags", "ui, form"),
        ];
        fields.extend(value_fields);
        let r = create_through_form(&mut b, &csrf, &fields).await;
        assert_eq!(r.status, 303, "{t}: {}", r.html);
        let id = r.location().rsplit('/').next().unwrap().to_string();
        let value = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
        value.expect(200, "");
        for (k, v) in expected.as_object().unwrap() {
            let got = &value.body["value"][k];
            match v.as_str() {
                Some(text) => assert_eq!(got.as_str().unwrap().trim(), text.trim(), "{t}.{k}"),
                None => assert_eq!(got, v, "{t}.{k}"),
            }
        }
        let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
        assert_eq!(meta.body["type"], t);
        assert_eq!(meta.body["tags"], json!(["ui", "form"]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_comes_back_with_the_error_beside_its_field_and_no_value_in_it() {
    let s = spawn().await;
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;
    let r = create_through_form(
        &mut b,
        &csrf,
        &[
            ("type", "API_KEY"),
            ("name", "1-not-a-name"),
            ("scope", "ORGANIZATION"),
            ("organizationId", "org-1"),
            ("description", "kept <b>as typed</b>"),
            ("value.key", CANARY),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    let at = r.html.find("id=\"name\"").unwrap();
    let error = r.html[at..].find("field-error").unwrap();
    assert!(error < 400, "the error sits beside the name field");
    assert!(r.html.contains("value=\"1-not-a-name\""));
    assert!(
        r.html.contains("kept &#60;b&#62;as typed&#60;/b&#62;")
            || r.html.contains("kept &lt;b&gt;as typed&lt;/b&gt;")
    );
    assert!(
        !r.html.contains(CANARY),
        "a value is never written back into a page"
    );

    let r = create_through_form(
        &mut b,
        &csrf,
        &[
            ("type", "CERTIFICATE"),
            ("name", "BAD_CERT"),
            ("scope", "ORGANIZATION"),
            ("organizationId", "org-1"),
            ("value.certificate", "not a certificate"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.html);
    let at = r.html.find("id=\"value-certificate\"").unwrap();
    assert!(
        r.html[at..].find("field-error").unwrap() < 600,
        "{}",
        &r.html[at..]
    );

    let r = create_through_form(
        &mut b,
        &csrf,
        &[
            ("type", "JSON_CREDENTIAL"),
            ("name", "BAD_JSON"),
            ("scope", "ORGANIZATION"),
            ("organizationId", "org-1"),
            ("value.credential", "[1, 2]"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.html.contains("must be a JSON object"));
    let listed = s.get("/api/secrets", &s.token(&org_admin())).await;
    assert_eq!(listed.body["total"], 0, "nothing half-written");
    // Without the CSRF token nothing is created either.
    let r = b
        .post(
            "/ui/secrets/new",
            &[
                ("type", "API_KEY"),
                ("name", "FORGED"),
                ("scope", "USER"),
                ("value.key", CANARY),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_rotate_grant_and_revoke_go_through_the_forms() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let id = create(&s, "EDITED", json!({})).await;
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;

    let edit = b.get(&format!("/ui/secrets/{id}/edit")).await;
    assert_eq!(edit.status, 200);
    assert!(edit.html.contains("value=\"llm, prod\""));
    let r = b
        .post(
            &format!("/ui/secrets/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("description", "now described"),
                ("expiresAt", "2031-05-06"),
                ("tags", "a, b"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(meta.body["description"], "now described");
    assert_eq!(meta.body["tags"], json!(["a", "b"]));
    assert_eq!(meta.body["expiresAt"], "2031-05-06T00:00:00Z");
    // A form made for an older version is refused.
    let r = b
        .post(
            &format!("/ui/secrets/{id}/edit"),
            &[("csrf", &csrf), ("version", "7"), ("tags", "c")],
        )
        .await;
    assert_eq!(r.status, 409);

    let rotate = b.get(&format!("/ui/secrets/{id}/rotate")).await;
    assert!(rotate.html.contains("name=\"value.key\""));
    let r = b
        .post(
            &format!("/ui/secrets/{id}/rotate"),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("value.key", "sk-ui-rotated-CANARY-0123"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let value = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(value.body["value"]["key"], "sk-ui-rotated-CANARY-0123");
    assert_eq!(value.body["version"], 2);

    let r = b
        .post(
            &format!("/ui/secrets/{id}/access"),
            &[
                ("csrf", &csrf),
                ("granteeType", "USER"),
                ("granteeId", "user-2"),
                ("canRead", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let member = s.token(&org_member());
    s.get(&format!("/api/secrets/{id}/value"), &member)
        .await
        .expect(200, "");
    let detail = b.get(&format!("/ui/secrets/{id}")).await;
    let at = detail.html.find("/revoke\"").unwrap();
    let action_start = detail.html[..at].rfind("action=\"").unwrap() + 8;
    let revoke = detail.html[action_start..at + 7].to_string();
    let r = b.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.html);
    // The member still sees the organization's secret, but may no longer read it.
    s.get(&format!("/api/secrets/{id}/value"), &member)
        .await
        .expect(403, "ACCESS_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_view_shows_the_reveal_to_admins_only_and_never_a_value() {
    let s = spawn().await;
    let id = create(&s, "AUDITED_KEY", json!({})).await;
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;
    let shown = b
        .post(&format!("/ui/secrets/{id}/reveal"), &[("csrf", &csrf)])
        .await;
    assert!(
        shown.html.contains("href=\"/ui/audit\""),
        "admins have the audit view"
    );

    let reads = b
        .get(&format!("/ui/audit?eventType=SECRET_READ&secretId={id}"))
        .await;
    assert_eq!(reads.status, 200);
    assert!(reads.html.contains("1 record<"), "{}", reads.html);
    assert!(reads.html.contains("<td>AUDITED_KEY</td><td>web-ui</td>"));
    assert!(!reads.html.contains(CANARY));
    let none = b
        .get("/ui/audit?eventType=SECRET_READ&outcome=DENIED")
        .await;
    assert!(none.html.contains("No records match"));
    let bad = b.get("/ui/audit?from=yesterday").await;
    assert_eq!(bad.status, 400);

    let at = reads.html.find("href=\"/ui/audit/").unwrap() + 6;
    let link = reads.html[at..].split('"').next().unwrap().to_string();
    let detail = b.get(&link).await;
    assert_eq!(detail.status, 200);
    assert!(detail.html.contains("SECRET_READ") && detail.html.contains("Previous hash"));
    assert!(!detail.html.contains(CANARY));

    let mut member = Browser::new(&s);
    member.sign_in(&org_member()).await;
    let list = member.get("/ui/secrets").await;
    assert!(!list.html.contains("href=\"/ui/audit\""));
    assert_eq!(member.get("/ui/audit").await.status, 403);
}
