//! The web UI in a real browser: Debian's chromium, headless, driven through WebDriver
//! (chromedriver, fantoccini) against the real server on a free port. An org admin signs
//! in, creates an API key through the form, finds it by search, reveals it (a SECRET_READ
//! from module `web-ui`), rotates it and grants a member read access; the member signs in,
//! sees no Edit or Delete and reads it; the admin deletes and restores it; a forged post
//! without the CSRF token is refused. The same pages with JavaScript off: every action is
//! a plain form post. Each test saves a screenshot of its last page in
//! `target/ui-screenshots/`.
//!
//! Needs `chromedriver` and `chromium` (`scripts/chromium.sh install`); without them the
//! tests report themselves skipped, or fail under SECRETS_TEST_STRICT=1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use secret_core::Principal;
use secret_store::testing::process::{ServerProcess, find_bin, free_port};
use secret_store::testing::skip;
use secret_testkit::http::*;
use serde_json::json;

const CANARY: &str = "sk-browser-CANARY-0123456789";
const ROTATED: &str = "sk-browser-rotated-CANARY-0123";

/// A chromedriver of the test's own, and the chromium binary it drives.
struct Driver {
    process: ServerProcess,
    chromium: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.process.stop();
    }
}

async fn driver(test: &str) -> Option<Driver> {
    let Some(bin) = find_bin("SECRETS_TEST_CHROMEDRIVER", "chromedriver") else {
        skip(
            test,
            "chromedriver is not installed (scripts/chromium.sh install)",
        );
        return None;
    };
    let chromium = std::env::var("SECRETS_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        skip(
            test,
            "chromium is not installed (scripts/chromium.sh install)",
        );
        return None;
    }
    let port = free_port();
    let process = ServerProcess::start("chromedriver", &bin, &format!("--port={port}"), port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = format!("http://127.0.0.1:{port}/status");
    loop {
        if reqwest::get(&status).await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(Driver { process, chromium })
}

/// A headless chromium session; `javascript` false turns scripts off.
async fn browser(d: &Driver, javascript: bool) -> Client {
    let mut options = json!({
        "binary": d.chromium.to_str().unwrap(),
        "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,1100", "--lang=en-US"],
    });
    if !javascript {
        options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.process.port))
        .await
        .expect("a chromium session")
}

/// Saves a screenshot of the page `c` shows as `target/ui-screenshots/<name>.png`.
async fn screenshot(c: &Client, name: &str) {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn sign_in(c: &Client, s: &Server, who: &Principal) {
    c.goto(&format!("{}/ui/secrets", s.base)).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/ui/sign-in")
    );
    c.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(&s.token(who))
        .await
        .unwrap();
    go(c, "button[type=submit]").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/ui/secrets");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks what `css` finds and waits until the next page has replaced this one (a click
/// returns before a form post's answer has loaded).
async fn go(c: &Client, css: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    click(c, css).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while old.tag_name().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the page after clicking {css} did not load"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.wait().for_element(Locator::Css("main")).await.unwrap();
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn page(c: &Client) -> String {
    c.source().await.unwrap()
}

async fn ui_reads(s: &Server) -> i64 {
    s.t.db
        .raw()
        .await
        .count(
            "SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = 'SECRET_READ' \
             AND consumer_module = 'web-ui' AND outcome = 'SUCCESS'",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_and_a_member_manage_a_secret_in_chromium() {
    let Some(d) = driver("an_admin_and_a_member_manage_a_secret_in_chromium").await else {
        return;
    };
    let s = spawn().await;
    let c = browser(&d, true).await;
    sign_in(&c, &s, &org_admin()).await;

    // Create an API key through the form; the reveal toggle shows what was typed.
    go(&c, "a[href='/ui/secrets/new']").await;
    type_into(&c, "#name", "OPENAI_API_KEY").await;
    type_into(&c, "#description", "OpenAI key for the LLM client").await;
    type_into(&c, "#value-key", CANARY).await;
    let key = c.find(Locator::Id("value-key")).await.unwrap();
    assert_eq!(key.attr("type").await.unwrap().as_deref(), Some("password"));
    click(&c, "button[data-reveal='value-key']").await;
    assert_eq!(key.attr("type").await.unwrap().as_deref(), Some("text"));
    type_into(&c, "#tags", "openai, llm").await;
    type_into(&c, "#interval", "90").await;
    click(&c, "input[name=rotationEnabled]").await;
    go(&c, "form.secret-form button[type=submit]").await;
    let url = c.current_url().await.unwrap();
    assert_ne!(
        url.path(),
        "/ui/secrets/new",
        "the form was refused: {}",
        page(&c).await
    );
    let id = url.path().rsplit('/').next().unwrap().to_string();
    assert!(page(&c).await.contains("OPENAI_API_KEY"));
    assert!(!page(&c).await.contains(CANARY), "masked until revealed");

    // Find it by search.
    c.goto(&format!("{}/ui/secrets", s.base)).await.unwrap();
    type_into(&c, "input[name=search]", "openai").await;
    go(&c, "form.filters button[type=submit]").await;
    let card = c.find(Locator::Id(&format!("secret-{id}"))).await.unwrap();
    assert!(
        card.text().await.unwrap().contains("Openai key")
            || card.text().await.unwrap().contains("OpenAI key")
    );

    // Reveal: an audited read.
    card.find(Locator::Css("a.name"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(ui_reads(&s).await, 0);
    go(&c, "form[action$='/reveal'] button").await;
    let shown = c
        .find(Locator::Id("revealed"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains(CANARY));
    assert_eq!(ui_reads(&s).await, 1);
    // The read is in the audit view.
    go(&c, "a[href='/ui/audit']").await;
    c.find(Locator::Css("select[name=eventType]"))
        .await
        .unwrap()
        .select_by_value("SECRET_READ")
        .await
        .unwrap();
    go(&c, "form.filters button[type=submit]").await;
    let table = c
        .find(Locator::Css("table.audit tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("SECRET_READ")
            && table.contains("OPENAI_API_KEY")
            && table.contains("web-ui"),
        "{table}"
    );
    screenshot(&c, "admin-audit").await;
    c.goto(&format!("{}/ui/secrets/{id}", s.base))
        .await
        .unwrap();

    // Rotate.
    go(&c, "a[href$='/rotate']").await;
    type_into(&c, "#value-key", ROTATED).await;
    go(&c, "form.secret-form button[type=submit]").await;
    assert!(page(&c).await.contains("2 (current)"));

    // Grant the member read access.
    c.find(Locator::Css("#granteeType"))
        .await
        .unwrap()
        .select_by_value("USER")
        .await
        .unwrap();
    type_into(&c, "#granteeId", "user-2").await;
    go(&c, "form.grant-form button[type=submit]").await;
    assert!(page(&c).await.contains("User user-2"));

    // A forged post with the session cookie but without the CSRF token is refused.
    let session = c.get_named_cookie("sm_session").await.unwrap();
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/ui/secrets/{id}/delete", s.base))
        .header("cookie", format!("sm_session={}", session.value()))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    screenshot(&c, "admin-detail").await;

    // The member: no Edit, Rotate or Delete; reads the rotated value.
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &s, &org_member()).await;
    let list = page(&c).await;
    assert!(list.contains("OPENAI_API_KEY"));
    assert!(!list.contains("/edit'") && !list.contains("/edit\"") && !list.contains("/delete\""));
    c.goto(&format!("{}/ui/secrets/{id}", s.base))
        .await
        .unwrap();
    let detail = page(&c).await;
    assert!(
        !detail.contains("/edit\"")
            && !detail.contains("/delete\"")
            && !detail.contains("Access grants")
    );
    go(&c, "form[action$='/reveal'] button").await;
    let shown = c
        .find(Locator::Id("revealed"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains(ROTATED));
    screenshot(&c, "member-revealed").await;

    // The admin deletes it and restores it.
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &s, &org_admin()).await;
    c.goto(&format!("{}/ui/secrets/{id}", s.base))
        .await
        .unwrap();
    go(&c, "form[action$='/delete'] button").await;
    assert!(page(&c).await.contains("badge danger"));
    go(&c, "form[action$='/restore'] button").await;
    assert!(!page(&c).await.contains("badge danger"));
    let meta = s
        .get(&format!("/api/secrets/{id}"), &s.token(&org_admin()))
        .await;
    assert_eq!(meta.body["deletedAt"], serde_json::Value::Null);
    assert_eq!(meta.body["currentVersion"], 2);
    c.goto(&format!("{}/ui/secrets", s.base)).await.unwrap();
    screenshot(&c, "admin-list").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_works_with_javascript_off() {
    let Some(d) = driver("every_action_works_with_javascript_off").await else {
        return;
    };
    let s = spawn().await;
    let c = browser(&d, false).await;
    sign_in(&c, &s, &org_admin()).await;
    c.goto(&format!("{}/ui/secrets/new?type=USERNAME_PASSWORD", s.base))
        .await
        .unwrap();
    // The toggle needs the script; without it the field simply stays masked.
    let toggle = c
        .find(Locator::Css("button[data-reveal='value-password']"))
        .await
        .unwrap();
    assert!(!toggle.is_displayed().await.unwrap());
    type_into(&c, "#name", "DB_LOGIN").await;
    type_into(&c, "#value-username", "app").await;
    type_into(&c, "#value-password", CANARY).await;
    go(&c, "form.secret-form button[type=submit]").await;
    let id = c
        .current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    go(&c, "form[action$='/reveal'] button").await;
    let shown = page(&c).await;
    assert!(shown.contains(CANARY));
    // Re-masking falls back to the page reloading itself.
    assert!(shown.contains(&format!("content=\"30;url=/ui/secrets/{id}\"")));
    go(&c, "a[href$='/edit']").await;
    type_into(&c, "#tags", "db, nojs").await;
    go(&c, "form.secret-form button[type=submit]").await;
    assert!(page(&c).await.contains("nojs"));
    screenshot(&c, "no-javascript-detail").await;

    // The import's dry run shows each line's result, with the reason a line fails.
    go(&c, "a[href='/ui/import']").await;
    type_into(
        &c,
        "#content",
        "GOOD_KEY=sk-browser-import-0123\nnot a pair\n1BAD=x\n",
    )
    .await;
    go(&c, "button[name=mode][value=dry]").await;
    let result = c
        .find(Locator::Id("import-result"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(result.contains("Dry run"), "{result}");
    assert!(result.contains("GOOD_KEY create"), "{result}");
    assert!(result.contains("1BAD fail VALIDATION_ERROR"), "{result}");
    screenshot(&c, "no-javascript-import-dry-run").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_super_admin_adds_and_tests_a_vault_and_reads_the_compliance_report() {
    let Some(d) =
        driver("a_super_admin_adds_and_tests_a_vault_and_reads_the_compliance_report").await
    else {
        return;
    };
    let Some(bao) = secret_store::testing::openbao::server().await else {
        return;
    };
    let token = bao
        .token_with_id(&format!("browser-CANARY-{}", std::process::id()))
        .await
        .expect("a token of OpenBao's");
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let id = s.create_key(&admin, "CHARTED_KEY", CANARY).await;
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(200, "");
    let c = browser(&d, true).await;
    sign_in(&c, &s, &Principal::user("root").as_super_admin()).await;
    // A secret's page is titled by its name alone.
    c.goto(&format!("{}/ui/secrets/{id}", s.base))
        .await
        .unwrap();
    assert_eq!(c.title().await.unwrap(), "CHARTED_KEY · Secret Manager");

    go(&c, "a[href='/ui/vaults']").await;
    go(&c, "a[href='/ui/vaults/new']").await;
    // The script shows only the chosen sign-in method's fields.
    let approle = c.find(Locator::Id("a-APPROLE-roleId")).await.unwrap();
    assert!(!approle.is_displayed().await.unwrap());
    c.find(Locator::Id("method"))
        .await
        .unwrap()
        .select_by_value("APPROLE")
        .await
        .unwrap();
    assert!(approle.is_displayed().await.unwrap());
    c.find(Locator::Id("method"))
        .await
        .unwrap()
        .select_by_value("TOKEN")
        .await
        .unwrap();
    type_into(&c, "#name", "bao-browser").await;
    type_into(&c, "#c-address", &bao.address).await;
    type_into(&c, "#c-pathPrefix", "ui-browser").await;
    type_into(&c, "#a-TOKEN-token", &token).await;
    go(&c, "form.secret-form button[type=submit]").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/ui/vaults");
    go(&c, "li.card:last-child form[action$='/health'] button").await;
    let listed = page(&c).await;
    assert!(listed.contains("bao-browser: healthy"), "{listed}");
    assert!(!listed.contains(&token));
    screenshot(&c, "super-admin-vaults").await;

    go(&c, "a[href='/ui/compliance']").await;
    let report = page(&c).await;
    assert!(report.contains("Every organization"), "{report}");
    let bars = c
        .find_all(Locator::Css("svg.chart rect.bar"))
        .await
        .unwrap();
    assert!(bars.len() > 30, "{} bars", bars.len());
    screenshot(&c, "super-admin-compliance").await;
    c.close().await.unwrap();
}
