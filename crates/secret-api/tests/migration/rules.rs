//! Who may migrate, and what a request must say.

use reqwest::Method;
use secret_testkit::http::*;
use serde_json::json;

use super::{openbao_vault, root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_migrate_and_bad_requests_say_what_is_wrong() {
    let s = spawn().await;
    let Some((_bao, vault, _)) = openbao_vault(&s).await else {
        return;
    };
    let body = json!({"sourceVaultId": "local", "targetVaultId": vault, "dryRun": true});
    let call = |token: String, body: serde_json::Value| {
        let s = &s;
        async move {
            s.call(Method::POST, "/api/secrets/migrate", &token, Some(body))
                .await
        }
    };
    call(s.token(&org_member()), body.clone())
        .await
        .expect(403, "ACCESS_DENIED");
    // An organization admin names the organization whose secrets move.
    let r = call(s.token(&org_admin()), body.clone()).await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(r.text.contains("organizationId"), "{}", r.text);
    let mut other = body.clone();
    other["organizationId"] = json!("org-2");
    call(s.token(&org_admin()), other)
        .await
        .expect(403, "ACCESS_DENIED");
    let mut own = body.clone();
    own["organizationId"] = json!("org-1");
    let plan = call(s.token(&org_admin()), own).await;
    plan.expect(200, "");
    assert_eq!(plan.body["secretCount"], 0);
    assert_eq!(plan.body["targetBackend"], "HASHICORP_VAULT");
    assert_eq!(plan.body["sourceBackend"], "LOCAL_ENCRYPTED");

    let admin = s.token(&root());
    let same = json!({"sourceVaultId": "local", "targetVaultId": "local"});
    let r = call(admin.clone(), same).await;
    r.expect(400, "VALIDATION_ERROR");
    assert!(r.text.contains("targetVaultId"), "{}", r.text);
    let missing = json!({"sourceVaultId": "local", "targetVaultId": "no-such-vault"});
    call(admin.clone(), missing)
        .await
        .expect(404, "SECRET_NOT_FOUND");
    let bad = json!({"sourceVaultId": "local", "targetVaultId": vault, "versions": "SOME"});
    call(admin.clone(), bad)
        .await
        .expect(400, "VALIDATION_ERROR");
    let unknown = json!({"sourceVaultId": "local", "targetVaultId": vault, "extra": 1});
    call(admin.clone(), unknown)
        .await
        .expect(400, "VALIDATION_ERROR");

    // A migration is visible to who may run it, and to nobody else.
    let r = s
        .call(
            Method::POST,
            "/api/secrets/migrate",
            &admin,
            Some(json!({"sourceVaultId": "local", "targetVaultId": vault})),
        )
        .await;
    r.expect(202, "");
    let id = r.body["id"].as_str().unwrap();
    let status = super::finished(&s, &admin, id).await;
    assert_eq!(status["state"], "COMPLETED");
    assert_eq!(status["total"], 0);
    s.get(
        &format!("/api/secrets/migrations/{id}"),
        &s.token(&org_admin()),
    )
    .await
    .expect(404, "SECRET_NOT_FOUND");
    s.get(
        &format!("/api/secrets/migrations/{id}"),
        &s.token(&outsider()),
    )
    .await
    .expect(404, "SECRET_NOT_FOUND");
}
