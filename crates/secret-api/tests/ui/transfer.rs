//! Import (a dry run with its per-line results, then the import) and export, through the
//! forms.

use reqwest::header::CONTENT_DISPOSITION;
use secret_testkit::http::*;
use serde_json::json;

use super::{Browser, CANARY};

const ENV: &str = "# the LLM keys\nOPENAI_API_KEY=sk-ui-import-CANARY-0123\n1BAD-NAME=x\nthis line is not a pair\nANTHROPIC_KEY=\"sk-ui-import-two\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_import_is_dry_run_first_with_per_line_results_then_imported() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;
    let form = b.get("/ui/import").await;
    assert_eq!(form.status, 200);
    let fields = |mode: &'static str| {
        vec![
            ("format", "env"),
            ("content", ENV),
            ("scope", "ORGANIZATION"),
            ("organizationId", "org-1"),
            ("mode", mode),
        ]
    };
    let mut dry = fields("dry");
    dry.push(("csrf", &csrf));
    let r = b.post("/ui/import", &dry).await;
    assert_eq!(r.status, 200, "{}", r.html);
    assert!(r.html.contains("Dry run: "), "{}", r.html);
    assert!(r.html.contains("would be imported"));
    // Each line's fate, with the reason for the ones that fail.
    assert!(
        r.html
            .contains("<td>2</td><td>OPENAI_API_KEY</td><td>create</td>"),
        "{}",
        r.html
    );
    assert!(
        r.html
            .contains("<td>3</td><td>1BAD-NAME</td><td>fail</td><td>VALIDATION_ERROR"),
        "{}",
        r.html
    );
    assert!(r.html.contains("<td>4</td>") && r.html.contains("import-fail"));
    assert_eq!(
        s.get("/api/secrets", &admin).await.body["total"],
        0,
        "a dry run writes nothing"
    );

    let mut real = fields("import");
    real.push(("csrf", &csrf));
    let r = b.post("/ui/import", &real).await;
    assert_eq!(r.status, 200);
    assert!(r.html.contains("Import: "));
    assert!(
        !r.html.contains("sk-ui-import-CANARY-0123"),
        "the file is not echoed after an import"
    );
    let listed = s.get("/api/secrets?search=_KEY", &admin).await;
    assert_eq!(listed.body["total"], 2, "{}", listed.text);

    // A forged import and a member's import are refused.
    let r = b.post("/ui/import", &fields("import")).await;
    assert_eq!(r.status, 403);
    let mut member = Browser::new(&s);
    let member_csrf = member.sign_in(&org_member()).await;
    let mut theirs = fields("dry");
    theirs.push(("csrf", &member_csrf));
    assert_eq!(member.post("/ui/import", &theirs).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_import_and_an_export_with_and_without_values() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let mut b = Browser::new(&s);
    let csrf = b.sign_in(&org_admin()).await;
    let doc = json!({"secrets": [
        {"name": "FROM_JSON", "type": "API_KEY", "value": {"type": "API_KEY", "key": CANARY}, "tags": ["json"]}
    ]})
    .to_string();
    let r = b
        .post(
            "/ui/import",
            &[
                ("csrf", &csrf),
                ("format", "json"),
                ("content", &doc),
                ("scope", "ORGANIZATION"),
                ("organizationId", "org-1"),
                ("mode", "import"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.html);
    assert!(
        r.html.contains("<td>FROM_JSON</td><td>create</td>"),
        "{}",
        r.html
    );

    let r = b
        .post(
            "/ui/export",
            &[
                ("csrf", &csrf),
                ("format", "json"),
                ("scope", "ORGANIZATION"),
                ("organizationId", "org-1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers[CONTENT_DISPOSITION],
        "attachment; filename=\"secrets.json\""
    );
    assert!(r.html.contains("FROM_JSON") && !r.html.contains(CANARY));
    let r = b
        .post(
            "/ui/export",
            &[
                ("csrf", &csrf),
                ("format", "env"),
                ("scope", "ORGANIZATION"),
                ("organizationId", "org-1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.html);
    assert!(
        r.html.contains(&format!("FROM_JSON={CANARY}"))
            || r.html.contains(&format!("FROM_JSON='{CANARY}'")),
        "{}",
        r.html
    );
    let exports = s
        .get("/api/secrets/audit?eventType=SECRETS_EXPORTED", &admin)
        .await;
    assert_eq!(exports.body["total"], 2, "{}", exports.text);
}
