//! The DMARC reports pages in headless Chromium (issue 19, point 3; axe and the 360 px
//! check on each, see `axe.rs`): reports imported from files, the domain's sources grouped
//! by alignment with their reverse DNS (looked up in the background from the test DNS),
//! the verdict naming the source that would lose mail, the failures-only filter, the
//! per-reporter split, the trend chart, TLS failures by MX, and the CSV and JSON exports;
//! an auditor may look, a staff member may not.

use std::io::Write;

use veilpost_dns::testserver::{TestDnsServer, Zone};

use crate::browser::{body_text, chromium, click, driver, find, wait_text};
use crate::reports::dmarc_xml;
use crate::staff_web::sign_in;
use crate::{Gateway, PASSWORD, test_dir};

/// `GET path` with the browser's session cookies, as text (the exports are downloads;
/// the pages' CSP allows no script to fetch them).
async fn fetch(c: &fantoccini::Client, port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cookies: Vec<String> = c
        .get_all_cookies()
        .await
        .expect("cookies")
        .iter()
        .map(|k| format!("{}={}", k.name(), k.value()))
        .collect();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(
        format!(
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nCookie: {}\r\n\r\n",
            cookies.join("; ")
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_reports_pages_show_who_sends_and_whether_reject_is_safe() {
    let dir = test_dir("dmarc-web");
    let mut zone = Zone::new();
    zone.record("1.2.0.192.in-addr.arpa", "PTR", "mail.praktijk.test.")
        .expect("zone");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let mut gw = Gateway::configure(
        &dir,
        &format!("[dns]\nnameservers = [\"{}\"]\n", dns.addr()),
    );
    gw.add_user_with("beheer@praktijk.test", PASSWORD, &["--role", "admin"]);
    gw.add_user_with("audit@praktijk.test", PASSWORD, &["--role", "auditor"]);
    gw.add_user("ann@praktijk.test", PASSWORD, None);

    // Reports saved from a mailbox: two reporters; the practice's own server aligned, a
    // newsletter service aligned by DKIM only, and an unknown server that is not.
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).expect("dir");
    std::fs::write(
        reports.join("google.xml"),
        dmarc_xml(
            "google.com",
            "g-1",
            "praktijk.test",
            &[
                ("192.0.2.1", 700, true, true),
                ("198.51.100.20", 200, false, true),
                ("203.0.113.9", 100, false, false),
            ],
        ),
    )
    .expect("write");
    std::fs::write(
        reports.join("microsoft.xml"),
        dmarc_xml(
            "Enterprise Outlook",
            "m-1",
            "praktijk.test",
            &[("192.0.2.1", 300, true, true)],
        ),
    )
    .expect("write");
    let tls = r#"{"organization-name":"Company-X","date-range":{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"},"report-id":"t-1","policies":[{"policy":{"policy-type":"sts","policy-domain":"praktijk.test"},"summary":{"total-successful-session-count":90,"total-failure-session-count":6},"failure-details":[{"result-type":"certificate-expired","receiving-mx-hostname":"mx1.praktijk.test","failed-session-count":6}]}]}"#;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(tls.as_bytes()).expect("gzip");
    std::fs::write(reports.join("tls.json.gz"), e.finish().expect("gzip")).expect("write");
    let out = gw.cli(&["report", "import", reports.to_str().expect("path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Started after the import: the first housekeeping round names the sources.
    gw.start();
    let base = format!("http://127.0.0.1:{}", gw.web_port);

    let d = driver();
    let c = chromium(&d, &dir.join("profile"), &dir.join("downloads")).await;
    sign_in(&c, &base, "beheer@praktijk.test", None).await;
    c.goto(&format!("{base}/admin/dmarc"))
        .await
        .expect("overview");
    let text = wait_text(&c, "praktijk.test").await;
    assert!(text.contains("1300"), "{text}");
    click(&c, "#domains a[href='/admin/dmarc/praktijk.test']").await;
    let text = wait_text(&c, "Klaar voor p=reject?").await;
    assert!(text.contains("Nee."), "{text}");
    let blocking = find(&c, "#blocking").await.text().await.expect("text");
    assert_eq!(blocking.trim(), "203.0.113.9");
    // Grouped by alignment.
    assert!(
        find(&c, "#full")
            .await
            .text()
            .await
            .expect("text")
            .contains("192.0.2.1")
    );
    assert!(
        find(&c, "#partial")
            .await
            .text()
            .await
            .expect("text")
            .contains("198.51.100.20")
    );
    assert!(
        find(&c, "#none")
            .await
            .text()
            .await
            .expect("text")
            .contains("203.0.113.9")
    );
    // Reverse DNS from the background look-up (reload until it is there).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let full = find(&c, "#full").await.text().await.expect("text");
        if full.contains("mail.praktijk.test") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{full}\n{}", gw.log());
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        c.refresh().await.expect("refresh");
    }
    // Per reporter, the chart, TLS failures.
    let reporters = find(&c, "#reporters").await.text().await.expect("text");
    assert!(
        reporters.contains("google.com") && reporters.contains("Enterprise Outlook"),
        "{reporters}"
    );
    find(&c, "figure.chart svg.trend circle").await;
    let tls = find(&c, "#tls-failures").await.text().await.expect("text");
    assert!(
        tls.contains("mx1.praktijk.test") && tls.contains("certificate-expired"),
        "{tls}"
    );

    // Failures only: the fully aligned source is gone from the page.
    click(&c, "input[name=failures]").await;
    click(&c, "form.filters button[type=submit]").await;
    wait_text(&c, "Alleen bronnen die falen").await;
    let full = find(&c, "#full").await.text().await.expect("text");
    assert!(!full.contains("192.0.2.1"), "{full}");
    assert!(body_text(&c).await.contains("203.0.113.9"));

    // The exports, as the links give them.
    let csv = fetch(&c, gw.web_port, "/admin/dmarc/praktijk.test/sources.csv").await;
    assert!(csv.starts_with("ip,reverse_dns,messages"), "{csv}");
    assert!(csv.contains("203.0.113.9,,100,0,0,0,none,"), "{csv}");
    let json: serde_json::Value = serde_json::from_str(
        &fetch(&c, gw.web_port, "/admin/dmarc/praktijk.test/sources.json").await,
    )
    .expect("json");
    assert_eq!(json["summary"]["messages"], 1300);
    assert_eq!(
        json["summary"]["blocking_sources"],
        serde_json::json!(["203.0.113.9"])
    );
    let out = gw.cli(&["report", "summary", "praktijk.test", "--format", "json"]);
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["summary"], cli, "the page and the command line agree");

    // An auditor may look; a staff member may not.
    let c2 = chromium(&d, &dir.join("profile2"), &dir.join("downloads2")).await;
    sign_in(&c2, &base, "audit@praktijk.test", None).await;
    c2.goto(&format!("{base}/admin/dmarc/praktijk.test"))
        .await
        .expect("goto");
    wait_text(&c2, "Klaar voor p=reject?").await;
    let c3 = chromium(&d, &dir.join("profile3"), &dir.join("downloads3")).await;
    sign_in(&c3, &base, "ann@praktijk.test", None).await;
    c3.goto(&format!("{base}/admin/dmarc")).await.expect("goto");
    let text = body_text(&c3).await;
    assert!(
        !text.contains("Klaar voor p=reject?") && !text.contains("1300"),
        "{text}"
    );
    for client in [c, c2, c3] {
        let _ = client.close().await;
    }
}
