//! The audit log view, usage, rollback and permanent delete.

use chrono::Duration;
use reqwest::Method;
use secret_testkit::http::*;
use serde_json::json;

use super::{Browser, CANARY, create};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_rollback_and_a_confirmed_permanent_delete_that_needs_a_recent_sign_in() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let id = create(&s, "ROLLED_BACK", json!({})).await;
    s.call(
        Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &admin,
        Some(json!({"value": {"type": "API_KEY", "key": "sk-ui-second-0123456789"}})),
    )
    .await
    .expect(200, "");
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;
    let detail = b.get(&format!("/ui/secrets/{id}")).await;
    assert!(detail.html.contains("<span id=\"last-used\">never</span>"));
    b.post(&format!("/ui/secrets/{id}/reveal"), &[("csrf", &csrf)])
        .await;
    let detail = b.get(&format!("/ui/secrets/{id}")).await;
    assert!(detail.html.contains("<span class=\"chip\">web-ui</span>"));
    assert!(detail.html.contains("Roll back to 1"));

    let r = b
        .post(
            &format!("/ui/secrets/{id}/rollback"),
            &[("csrf", &csrf), ("version", "1"), ("expected", "2")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let value = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(value.body["version"], 3);
    assert_eq!(value.body["value"]["key"], CANARY);

    b.post(&format!("/ui/secrets/{id}/delete"), &[("csrf", &csrf)])
        .await;
    let detail = b.get(&format!("/ui/secrets/{id}")).await;
    assert!(detail.html.contains("/purge\""));
    let wrong = b
        .post(
            &format!("/ui/secrets/{id}/purge"),
            &[("csrf", &csrf), ("confirm", "NOT_IT")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    // A session whose sign-in is older than five minutes must sign in again.
    let mut stale = Browser::new(&s);
    let stale_csrf = stale
        .sign_in(&org_admin().authenticated_at(chrono::Utc::now() - Duration::minutes(10)))
        .await;
    let r = stale
        .post(
            &format!("/ui/secrets/{id}/purge"),
            &[("csrf", &stale_csrf), ("confirm", "ROLLED_BACK")],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.html);
    assert!(r.html.contains("REAUTHENTICATION_REQUIRED"));
    let r = b
        .post(
            &format!("/ui/secrets/{id}/purge"),
            &[("csrf", &csrf), ("confirm", "ROLLED_BACK")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    s.get(&format!("/api/secrets/{id}"), &admin)
        .await
        .expect(404, "SECRET_NOT_FOUND");
}
