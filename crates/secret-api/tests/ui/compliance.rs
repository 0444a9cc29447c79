//! The compliance report view: summary, findings, the two SVG charts, the PDF download,
//! and who may see which organization's report.

use chrono::{Duration, Utc};
use secret_testkit::http::*;
use serde_json::json;

use super::{Browser, CANARY, create};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_view_charts_reads_and_expiries_and_downloads_the_pdf() {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let soon = (Utc::now() + Duration::days(10)).to_rfc3339();
    let expiring = create(&s, "EXPIRING_KEY", json!({"expiresAt": soon})).await;
    let read = create(&s, "READ_KEY", json!({})).await;
    for _ in 0..3 {
        s.get(&format!("/api/secrets/{read}/value"), &admin)
            .await
            .expect(200, "");
    }
    let mut b = Browser::new(&s);
    b.sign_in(&org_admin()).await;
    let today = Utc::now().date_naive();

    let page = b.get("/ui/compliance").await;
    assert_eq!(page.status, 200, "{}", page.html);
    let html = &page.html;
    assert!(html.contains("Organization org-1"), "{html}");
    assert!(html.contains("<strong>2</strong>secrets"), "{html}");
    assert!(
        html.contains("<strong class=\"warn\">1</strong>expire within 30 days"),
        "{html}"
    );
    // Reads per day: the period's days, today's bar with its three reads.
    assert!(
        html.contains(&format!("<title>{today}: 3 reads</title>")),
        "{html}"
    );
    assert!(html.contains(&format!(
        "3 value reads from {} to {today}",
        today - Duration::days(29)
    )));
    assert_eq!(html.matches(" reads</title>").count(), 30, "one bar a day");
    // Expiring by week: the one expiring in ten days falls in the second week.
    assert!(
        html.contains(&format!(
            "<title>week of {}: 1 secrets</title>",
            today + Duration::days(7)
        )),
        "{html}"
    );
    assert!(html.contains("<title>expired: 0 secrets</title>"));
    assert!(html.contains("role=\"img\""));
    // The findings name the secrets they affect, linked; no value anywhere.
    assert!(html.contains("id=\"findings\""));
    assert!(
        html.contains(&format!("href=\"/ui/secrets/{expiring}\"")),
        "{html}"
    );
    assert!(!html.contains(CANARY));

    let pdf = b
        .get(&format!(
            "/ui/compliance/report.pdf?from={}&to={today}",
            today - Duration::days(6)
        ))
        .await;
    assert_eq!(pdf.status, 200, "{}", pdf.html);
    assert_eq!(pdf.headers.get("content-type").unwrap(), "application/pdf");
    assert!(pdf.html.starts_with("%PDF-"));

    // A period the API refuses is refused here too; another organization's report too.
    assert_eq!(
        b.get(&format!(
            "/ui/compliance?from={today}&to={}",
            today - Duration::days(1)
        ))
        .await
        .status,
        400
    );
    assert_eq!(
        b.get("/ui/compliance?organizationId=org-2").await.status,
        403
    );
    let mut member = Browser::new(&s);
    member.sign_in(&org_member()).await;
    assert_eq!(member.get("/ui/compliance").await.status, 403);
}
