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
    // The advice points the reports at Veilpost's report addresses: by default those of
    // the domain itself…
    let advice = |v: &serde_json::Value, id: &str| -> String {
        v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == id)
            .and_then(|c| c["advice"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let rua = advice(&v, "dmarc-rua");
    assert!(rua.contains("rua=mailto:dmarc-rua@praktijk.test"), "{rua}");
    assert!(!rua.contains("_report._dmarc"), "{rua}");
    assert!(
        advice(&v, "tls-rpt-record").contains("rua=mailto:tls-rpt@praktijk.test"),
        "{v}"
    );
    // …and with a configuration, its addresses, with the record by which another domain
    // agrees to take the DMARC reports.
    let dir = std::env::temp_dir().join(format!("veilpost-posture-rua-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("veilpost.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[organisation]\ndomains = [\"praktijk.test\"]\n\
             [reports]\ndmarc_address = \"rapporten@regio-ict.test\"\n",
            dir.join("data").display()
        ),
    )
    .expect("config");
    let out = run(&[
        "check-domain",
        "praktijk.test",
        "--no-smtp",
        "--format",
        "json",
        "--config",
        config.to_str().expect("path"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rua = advice(&v, "dmarc-rua");
    assert!(rua.contains("rua=mailto:rapporten@regio-ict.test"), "{rua}");
    assert!(
        rua.contains("praktijk.test._report._dmarc.regio-ict.test. TXT \"v=DMARC1\""),
        "{rua}"
    );
    assert!(
        advice(&v, "tls-rpt-record").contains("rua=mailto:tls-rpt@praktijk.test"),
        "{v}"
    );
    let _ = std::fs::remove_dir_all(&dir);

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
