//! `veilpost doctor` against a running node and a DNS zone on loopback: one domain set
//! up right (MX, SPF naming this host, DKIM with the gateway's key, DMARC), one not at all;
//! the checks say which, with advice, as JSON and as a table, and the exit status is 1.

use veilpost_dns::testserver::{TestDnsServer, Zone};

use crate::{Gateway, test_dir};

/// The TXT value in a zone line `NAME IN TXT ( "a" "b" )`.
fn record_value(zone_line: &str) -> String {
    zone_line.split('"').skip(1).step_by(2).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_what_is_right_and_what_to_do() {
    let dir = test_dir("doctor");
    // The zone is filled once the DKIM key exists; the server's address goes in the config.
    let mut gw = Gateway::configure(&dir, "");
    let text = std::fs::read_to_string(&gw.config).expect("config");
    std::fs::write(
        &gw.config,
        text.replace(
            "domains = [\"praktijk.test\"]",
            "domains = [\"praktijk.test\", \"tweede.test\"]",
        ),
    )
    .expect("config");
    let out = gw.cli(&["dkim", "show"]);
    assert!(out.status.success(), "{out:?}");
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    let ours = lines
        .lines()
        .find(|l| l.starts_with("veilpost._domainkey.praktijk.test."))
        .expect("praktijk.test key");
    let mut zone = Zone::new();
    zone.ip("gw.praktijk.test", "127.0.0.1".parse().expect("ip"))
        .expect("a")
        .mx("praktijk.test", 10, "gw.praktijk.test")
        .expect("mx")
        .txt("praktijk.test", &["v=spf1 ip4:127.0.0.1 -all"])
        .expect("spf")
        .txt("veilpost._domainkey.praktijk.test", &[&record_value(ours)])
        .expect("dkim")
        .txt(
            "_dmarc.praktijk.test",
            &["v=DMARC1; p=reject; rua=mailto:dmarc@praktijk.test"],
        )
        .expect("dmarc")
        .mx("tweede.test", 10, "mx.elders.test")
        .expect("mx");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let text = std::fs::read_to_string(&gw.config).expect("config");
    let text = text.replace(
        &text[text.find("nameservers = [").expect("dns")..]
            .lines()
            .next()
            .expect("line")
            .to_string(),
        &format!("nameservers = [\"{}\"]", dns.addr()),
    );
    std::fs::write(&gw.config, text).expect("config");
    gw.start();

    let out = gw.cli(&["doctor", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let checks = report["checks"].as_array().expect("checks");
    for c in checks {
        for key in ["id", "status", "detail"] {
            assert!(c[key].is_string(), "{c}");
        }
        assert!(
            ["pass", "warn", "fail", "info"].contains(&c["status"].as_str().expect("status")),
            "{c}"
        );
        // Doctor's own failures say what to do (check-domain's say it in the detail).
        let own = !c["id"].as_str().is_some_and(|id| id.starts_with("dns."));
        if c["status"] == "fail" && own {
            assert!(c["advice"].is_string(), "a failure says what to do: {c}");
        }
    }
    let status = |id: &str| -> String {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {report:#}"))["status"]
            .as_str()
            .expect("status")
            .to_string()
    };
    let expected = [
        ("config", "pass"),
        // Captured in local outboxes: fine for a trial, not for a live installation.
        ("config.delivery", "warn"),
        ("config.sms", "warn"),
        // Held by the running node.
        ("listen.smtp.submission_listen", "pass"),
        ("listen.web.listen", "pass"),
        ("database", "pass"),
        ("blobs", "pass"),
        // Self-signed, made at first start.
        ("certificate", "warn"),
        ("dkim.praktijk.test", "pass"),
        ("spf.praktijk.test.this-host", "pass"),
        ("dkim.tweede.test", "fail"),
        ("spf.tweede.test.this-host", "fail"),
    ];
    for (id, want) in expected {
        assert_eq!(status(id), want, "{id} in {report:#}");
    }
    // The posture checks of each domain, under its name.
    assert!(
        checks.iter().any(|c| c["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("dns.praktijk.test.dmarc"))),
        "{report:#}"
    );
    let dkim_advice = checks
        .iter()
        .find(|c| c["id"] == "dkim.tweede.test")
        .and_then(|c| c["advice"].as_str())
        .expect("advice");
    assert!(dkim_advice.contains("v=DKIM1"), "{dkim_advice}");

    // The table, in Dutch by default.
    let out = gw.cli(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("✓ config") && table.contains("✗ dkim.tweede.test"),
        "{table}"
    );
    assert!(table.contains("fout(en)"), "{table}");

    // A configuration that does not read is a failed check too, not a crash.
    std::fs::write(
        dir.join("broken.toml"),
        "[smtp]\nmax_recipients = \"veel\"\n",
    )
    .expect("write");
    let out = crate::veilpost()
        .args(["doctor", "--format", "json", "--config"])
        .arg(dir.join("broken.toml"))
        .output()
        .expect("doctor");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["checks"][0]["id"], "config");
    assert_eq!(report["checks"][0]["status"], "fail");
    let _ = std::fs::remove_dir_all(&dir);
}
