//! `veilpost check-domain` against the in-process DNS server: JSON schema, exit codes,
//! the text table.

use veilpost_dns::testserver::{TestDnsServer, Zone};

use crate::veilpost;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_domain_json_and_text() {
    let zone = Zone::parse(
        r#"
        praktijk.test        TXT "v=spf1 mx -all"
        _dmarc.praktijk.test TXT "v=DMARC1; p=none"
        praktijk.test        MX  10 mx.praktijk.test.
        mx.praktijk.test     A   192.0.2.25
        open.test            TXT "v=spf1 +all"
        "#,
    )
    .expect("zone");
    let server = TestDnsServer::start(zone).await.expect("dns");
    let dns = server.addr().to_string();
    let run = |args: &[&str]| {
        let mut cmd = veilpost();
        cmd.args(["--dns", &dns]).args(args);
        cmd.output().expect("runs")
    };
    let out = run(&[
        "check-domain",
        "praktijk.test",
        "--no-smtp",
        "--format",
        "json",
    ]);
    // DNSSEC is missing on the test server, so a check fails: exit 1.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["domain"], "praktijk.test");
    let checks = v["checks"].as_array().expect("checks");
    for c in checks {
        assert!(c["id"].is_string() && c["detail"].is_string(), "{c}");
        assert!(
            matches!(
                c["status"].as_str(),
                Some("pass" | "warn" | "fail" | "info")
            ),
            "{c}"
        );
    }
    let find = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    assert_eq!(find("spf-all")["status"], "pass");
    assert_eq!(find("dmarc-policy")["status"], "warn");
    assert!(
        find("dmarc-policy")["advice"]
            .as_str()
            .unwrap_or_default()
            .contains("p=quarantine")
    );
    let areas = [
        "spf-", "dmarc-", "dkim-", "mx-", "dnssec-", "dane-", "mta-sts-", "tls-rpt-", "nta7516-",
    ];
    for area in areas {
        assert!(
            checks
                .iter()
                .any(|c| c["id"].as_str().unwrap_or_default().starts_with(area)),
            "{area}"
        );
    }
    assert!(v["secure_delivery"]["possible"].is_boolean());

    let out = run(&["check-domain", "open.test", "--no-smtp"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("✗ spf-all"), "{text}");
    assert!(
        text.contains("Vervang +all door -all"),
        "Dutch by default: {text}"
    );
    assert!(!text.contains("\x1b["), "no colour when not a terminal");
    let out = run(&["--lang", "en", "check-domain", "open.test", "--no-smtp"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Replace +all by -all"));

    let out = run(&["check-domain", "not a domain"]);
    assert_eq!(out.status.code(), Some(2));
}
