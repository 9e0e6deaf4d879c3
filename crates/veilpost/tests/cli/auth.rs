//! `veilpost dkim keygen|sign` and `veilpost verify --dns`, against the in-process DNS
//! server: generate a key, publish it, sign, verify; tamper, verify again.

use std::io::Write;
use std::process::Stdio;

use veilpost_dns::testserver::{TestDnsServer, Zone};

use crate::veilpost;

/// The TXT value in a zone line `NAME IN TXT ( "a" "b" )`.
fn record_value(zone_line: &str) -> String {
    zone_line.split('"').skip(1).step_by(2).collect()
}

fn sign(key: &std::path::Path, message: &[u8]) -> Vec<u8> {
    let mut child = veilpost()
        .args(["dkim", "sign", "--key"])
        .arg(key)
        .args(["--domain", "praktijk.test", "--selector", "vp1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_sign_verify() {
    let dir = std::env::temp_dir().join(format!("veilpost-dkim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = veilpost()
        .args([
            "--lang",
            "en",
            "dkim",
            "keygen",
            "--domain",
            "praktijk.test",
            "--selector",
            "vp1",
            "--algorithm",
            "ed25519",
            "--out",
        ])
        .arg(&dir)
        .output()
        .expect("keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("vp1._domainkey.praktijk.test. IN TXT"),
        "{printed}"
    );
    let key = dir.join("vp1.praktijk.test.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key).expect("key").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // Never overwrite a key.
    let again = veilpost()
        .args([
            "dkim",
            "keygen",
            "--domain",
            "praktijk.test",
            "--selector",
            "vp1",
            "--out",
        ])
        .arg(&dir)
        .output()
        .expect("keygen");
    assert_eq!(again.status.code(), Some(2));

    let zone_line = std::fs::read_to_string(dir.join("vp1.praktijk.test.txt")).expect("txt");
    let mut zone = Zone::new();
    zone.txt("vp1._domainkey.praktijk.test", &[&record_value(&zone_line)])
        .expect("dkim");
    zone.txt("praktijk.test", &["v=spf1 ip4:192.0.2.0/24 -all"])
        .expect("spf");
    zone.txt(
        "_dmarc.praktijk.test",
        &["v=DMARC1; p=reject; rua=mailto:dmarc@praktijk.test"],
    )
    .expect("dmarc");
    zone.txt("mail.praktijk.test", &["v=spf1 a -all"])
        .expect("helo spf");
    zone.ip("mail.praktijk.test", "192.0.2.5".parse().expect("ip"))
        .expect("a");
    let server = TestDnsServer::start(zone).await.expect("server");
    let dns = server.addr().to_string();

    let message = b"From: Jan <jan@praktijk.test>\r\nTo: piet@zorg.test\r\nSubject: Overdracht\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nGoedemorgen.\r\n";
    let signed = sign(&key, message);
    assert!(signed.starts_with(b"DKIM-Signature: "));
    let signed_path = dir.join("signed.eml");
    std::fs::write(&signed_path, &signed).expect("write");

    let verify = |path: &std::path::Path, ip: &str, mail_from: &str| {
        veilpost()
            .args([
                "--dns",
                &dns,
                "verify",
                "--format",
                "json",
                "--ip",
                ip,
                "--helo",
                "mail.praktijk.test",
                "--mail-from",
                mail_from,
                "--authserv-id",
                "mx.veilpost.test",
            ])
            .arg(path)
            .output()
            .expect("verify")
    };
    let out = verify(&signed_path, "192.0.2.5", "jan@praktijk.test");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["spf"]["result"], "pass", "{v}");
    assert_eq!(v["dkim"][0]["result"], "pass", "{v}");
    assert_eq!(v["dkim"][0]["algorithm"], "ed25519-sha256", "{v}");
    assert_eq!(v["dmarc"]["result"], "pass", "{v}");
    assert_eq!(v["arc"]["result"], "none", "{v}");
    let ar = v["authentication_results"].as_str().expect("header");
    assert!(
        ar.starts_with("Authentication-Results: mx.veilpost.test;"),
        "{ar}"
    );

    // Empty MAIL FROM: SPF checks the HELO identity.
    let out = verify(&signed_path, "192.0.2.5", "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["spf"]["identity"], "helo", "{v}");
    assert_eq!(v["spf"]["result"], "pass", "{v}");

    // Tampered body from an unauthorised address: DKIM and SPF fail, DMARC fails, exit 1.
    let tampered = String::from_utf8_lossy(&signed).replace("Goedemorgen.", "Goedenavond.");
    let tampered_path = dir.join("tampered.eml");
    std::fs::write(&tampered_path, tampered).expect("write");
    let out = verify(&tampered_path, "198.51.100.1", "jan@praktijk.test");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["spf"]["result"], "fail", "{v}");
    assert_eq!(v["dkim"][0]["result"], "fail", "{v}");
    assert_eq!(v["dmarc"]["result"], "fail", "{v}");
    assert_eq!(v["dmarc"]["policy"], "reject", "{v}");

    // Text output, in Dutch by default.
    let out = veilpost()
        .args([
            "--dns",
            &dns,
            "verify",
            "--ip",
            "192.0.2.5",
            "--mail-from",
            "jan@praktijk.test",
        ])
        .arg(&signed_path)
        .output()
        .expect("verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DMARC  pass") && text.contains("Authentication-Results:"),
        "{text}"
    );

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_are_errors() {
    let out = veilpost()
        .args([
            "--dns",
            "not a server",
            "verify",
            "--ip",
            "192.0.2.1",
            "x.eml",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid name server"));
    let out = veilpost()
        .args(["verify", "--ip", "192.0.2.1", "/nonexistent.eml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = veilpost()
        .args(["verify", "--ip", "not-an-ip", "x.eml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
