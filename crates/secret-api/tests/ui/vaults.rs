//! Vault configuration (§13.4) through the forms, against a real OpenBao: add (an error
//! beside its field, the credential never echoed), Test connection, Edit with the
//! credential left blank (kept), Set as default, Migrate to… with its plan and its
//! progress page, and who sees the view.

use secret_core::Principal;
use secret_store::testing::openbao;
use secret_testkit::http::*;
use serde_json::Value;

use super::{Browser, create};

fn root() -> Principal {
    Principal::user("root").as_super_admin()
}

/// The configuration named `name`, as the API shows it.
async fn vault_named(s: &Server, name: &str) -> Value {
    let list = s.get("/api/vaults", &s.token(&root())).await;
    list.body["vaults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no vault {name}: {}", list.text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_is_added_tested_edited_made_default_and_migrated_to_from_the_ui() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // A token no page may ever show, distinct enough to look for.
    let token = bao
        .token_with_id(&format!("ui-CANARY-{nanos}"))
        .await
        .expect("a token of OpenBao's");
    let s = spawn().await;
    let secret = create(&s, "MOVING_KEY", serde_json::json!({})).await;
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&root()).await;

    let list = b.get("/ui/vaults").await;
    assert_eq!(list.status, 200);
    assert!(list.html.contains("Local encrypted store"), "{}", list.html);
    assert!(list.html.contains("1 secret"), "{}", list.html);
    // Each backend's form has its own fields, sign-in methods included.
    let aws = b.get("/ui/vaults/new?backend=AWS_SECRETS_MANAGER").await;
    assert!(aws.html.contains("name=\"c.region\""), "{}", aws.html);
    assert!(aws.html.contains("name=\"a.ACCESS_KEY.secretAccessKey\""));
    let gcp = b.get("/ui/vaults/new?backend=GCP_SECRET_MANAGER").await;
    assert!(gcp.html.contains("name=\"a.KEY_JSON.json\""));

    let prefix = format!("ui-{nanos}");
    let fields = |address: &'static str| {
        [
            ("backend", "HASHICORP_VAULT"),
            ("name", "bao-ui"),
            ("scope", "GLOBAL"),
            ("c.address", address),
            ("m", "TOKEN"),
        ]
    };
    // A bad address: the form again, the error beside the address, the token not echoed.
    let own = [
        ("c.pathPrefix", prefix.as_str()),
        ("a.TOKEN.token", token.as_str()),
        ("csrf", csrf.as_str()),
    ];
    let bad: Vec<(&str, &str)> = fields("ftp://127.0.0.1:1").into_iter().chain(own).collect();
    let r = b.post("/ui/vaults/new", &bad).await;
    assert_eq!(r.status, 400, "{}", r.html);
    let at = r.html.find("id=\"c-address\"").unwrap();
    let error = r.html[at..].find("field-error").unwrap();
    assert!(error < r.html[at..].find("</div>").unwrap(), "{}", r.html);
    assert!(!r.html.contains(&token), "the token came back");
    assert!(r.html.contains("value=\"bao-ui\""), "the name is kept");

    let mut good: Vec<(&str, &str)> = fields("").into_iter().chain(own).collect();
    good[3].1 = &bao.address;
    let r = b.post("/ui/vaults/new", &good).await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(r.location(), "/ui/vaults");
    let v = vault_named(&s, "bao-ui").await;
    let vid = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["config"]["address"], bao.address);
    assert_eq!(v["healthStatus"], "UNKNOWN");

    // Test connection: the list says what the check found, and the card shows it.
    let r = b
        .post(&format!("/ui/vaults/{vid}/health"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 200, "{}", r.html);
    assert!(r.html.contains("bao-ui: healthy"), "{}", r.html);
    assert!(!r.html.contains(&token));
    assert_eq!(vault_named(&s, "bao-ui").await["healthStatus"], "HEALTHY");

    // Edit: the settings come back, the token never; left blank, it is kept.
    let e = b.get(&format!("/ui/vaults/{vid}/edit")).await;
    assert_eq!(e.status, 200);
    assert!(e.html.contains(&format!("value=\"{}\"", bao.address)));
    assert!(e.html.contains(&format!("value=\"{prefix}\"")));
    assert!(!e.html.contains(&token), "the edit form shows the token");
    let r = b
        .post(
            &format!("/ui/vaults/{vid}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "bao-ui"),
                ("description", "edited in the UI"),
                ("c.address", &bao.address),
                ("c.pathPrefix", &prefix),
                ("m", "TOKEN"),
                ("a.TOKEN.token", ""),
                ("isActive", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(
        vault_named(&s, "bao-ui").await["description"],
        "edited in the UI"
    );
    let r = b
        .post(&format!("/ui/vaults/{vid}/health"), &[("csrf", &csrf)])
        .await;
    assert!(
        r.html.contains("bao-ui: healthy"),
        "the kept token no longer signs in: {}",
        r.html
    );

    // Set as default.
    let r = b
        .post(&format!("/ui/vaults/{vid}/default"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(vault_named(&s, "bao-ui").await["isDefault"], true);

    // Migrate to…: the plan first, then the progress page until it is done.
    let plan = b
        .post(
            "/ui/vaults/local/migrate",
            &[
                ("csrf", &csrf),
                ("target", &vid),
                ("versions", "ALL"),
                ("mode", "plan"),
            ],
        )
        .await;
    assert_eq!(plan.status, 200, "{}", plan.html);
    assert!(
        plan.html
            .contains("1 secret (1 version) would move to bao-ui"),
        "{}",
        plan.html
    );
    assert_eq!(
        s.get(&format!("/api/secrets/{secret}"), &s.token(&root()))
            .await
            .body["vaultId"],
        "local",
        "a plan moves nothing"
    );
    let r = b
        .post(
            "/ui/vaults/local/migrate",
            &[
                ("csrf", &csrf),
                ("target", &vid),
                ("versions", "ALL"),
                ("mode", "start"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let progress = r.location().to_string();
    assert!(progress.starts_with("/ui/migrations/"), "{progress}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let done = loop {
        let p = b.get(&progress).await;
        assert_eq!(p.status, 200, "{}", p.html);
        if p.html.contains("Migration: COMPLETED") {
            break p;
        }
        assert!(
            p.html.contains("http-equiv=\"refresh\""),
            "a running migration's page refreshes itself: {}",
            p.html
        );
        assert!(std::time::Instant::now() < deadline, "{}", p.html);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(!done.html.contains("http-equiv=\"refresh\""));
    assert!(
        done.html.contains("<strong>1 / 1</strong>done"),
        "{}",
        done.html
    );
    let meta = s
        .get(&format!("/api/secrets/{secret}"), &s.token(&root()))
        .await;
    assert_eq!(meta.body["vaultId"], vid.as_str());
    assert_eq!(
        s.get(
            &format!("/api/secrets/{secret}/value"),
            &s.token(&org_admin())
        )
        .await
        .body["value"]["key"],
        super::CANARY
    );
    let list = b.get("/ui/vaults").await;
    assert!(list.html.contains("edited in the UI"));

    // Audited as the API's calls are, from the web UI.
    let audit = s
        .get(
            "/api/secrets/audit?eventType=VAULT_CONFIGURED&limit=10",
            &s.token(&root()),
        )
        .await;
    let items = audit.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|r| r["outcome"] == "SUCCESS" && r["consumerModule"] == "web-ui"),
        "{}",
        audit.text
    );
    assert!(!audit.text.contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_see_the_vaults_and_an_org_admin_changes_only_its_own() {
    let s = spawn().await;
    let mut member = Browser::new(&s);
    member.sign_in(&org_member()).await;
    let r = member.get("/ui/vaults").await;
    assert_eq!(r.status, 403, "{}", r.html);
    assert!(!member.get("/ui/secrets").await.html.contains("/ui/vaults"));

    let mut admin = Browser::new(&s);
    let csrf = admin.sign_in(&org_admin()).await;
    let list = admin.get("/ui/vaults").await;
    assert_eq!(list.status, 200);
    // The global built-in vault is listed, but an organization admin may not change it.
    assert!(list.html.contains("Local encrypted store"));
    assert!(
        !list.html.contains("/ui/vaults/local/health"),
        "{}",
        list.html
    );
    let r = admin
        .post("/ui/vaults/local/health", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 403, "{}", r.html);
    // Its Add form offers its own organization only, no global scope.
    let form = admin.get("/ui/vaults/new").await;
    assert!(
        form.html.contains("<option value=\"org-1\""),
        "{}",
        form.html
    );
    assert!(
        !form.html.contains("<option value=\"GLOBAL\""),
        "{}",
        form.html
    );
    // A forged post without the CSRF token is refused.
    let r = admin.post("/ui/vaults/local/default", &[]).await;
    assert_eq!(r.status, 403, "{}", r.html);
}
