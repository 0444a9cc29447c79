//! Sign-in, the session and its CSRF tokens, the list, the detail page, reveal, and who sees which action.

use chrono::{Duration, Utc};
use reqwest::Method;
use secret_testkit::http::*;
use serde_json::json;

use reqwest::header::{CONTENT_SECURITY_POLICY, SET_COOKIE};

use super::{Browser, CANARY, create};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_sign_in_page_exists_only_in_dev_mode_and_says_so() {
    let s = spawn().await;
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/ui/dev/sign-in").await.status, 404);
    assert!(!b.get("/ui/sign-in").await.html.contains("/ui/dev/sign-in"));
    assert_eq!(
        b.post("/ui/dev/sign-in", &[("csrf", "x"), ("user", "mallory")])
            .await
            .status,
        404
    );

    let s = spawn_dev().await;
    create(&s, "DEV_VISIBLE", json!({})).await;
    let mut b = Browser::new(&s);
    assert!(
        b.get("/ui/sign-in")
            .await
            .html
            .contains("href=\"/ui/dev/sign-in\"")
    );
    let form = b.get("/ui/dev/sign-in").await;
    assert_eq!(form.status, 200);
    assert!(form.html.contains("Development only."));
    // The form's own token is needed (a cross-site post cannot sign anyone in).
    let r = b
        .post("/ui/dev/sign-in", &[("csrf", "forged"), ("user", "dev-1")])
        .await;
    assert_eq!(r.status, 403);
    let form = b.get("/ui/dev/sign-in").await;
    let r = b
        .post(
            "/ui/dev/sign-in",
            &[
                ("csrf", &form.csrf()),
                ("user", "dev-1"),
                ("org", "org-1"),
                ("orgRole", "ADMIN"),
                ("team", "team-9"),
                ("teamRole", "LEAD"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let list = b.get("/ui/secrets").await;
    assert_eq!(list.status, 200);
    assert!(list.html.contains("<span class=\"who\">dev-1</span>"));
    assert!(
        list.html.contains("DEV_VISIBLE"),
        "an admin of org-1 sees its secrets"
    );
    let form = b.get("/ui/dev/sign-in").await;
    let r = b
        .post(
            "/ui/dev/sign-in",
            &[
                ("csrf", &form.csrf()),
                ("user", "dev-2"),
                ("team", "team-9"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.html.contains("a team needs its organization"));
}
