//! The create form for every type, refused forms, edit, rotate, grant and revoke.

use secret_testkit::http::*;
use serde_json::json;

use super::{Browser, CANARY, Page, create};

const CERT: &str = include_str!("../../../secret-core/tests/fixtures/cert_rsa.pem");
const CERT_KEY: &str = include_str!("../../../secret-core/tests/fixtures/cert_rsa_key.pem");
const SSH_KEY: &str = include_str!("../../../secret-core/tests/fixtures/ssh_ed25519.key");

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
