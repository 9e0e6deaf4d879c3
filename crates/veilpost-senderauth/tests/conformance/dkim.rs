//! DKIM: dkimpy's vectors (RFC 6376 / RFC 8463 Appendix A), bad key records, and
//! sign-then-verify round trips with generated and stored keys.

use veilpost_dns::testserver::Zone;
use veilpost_senderauth::AuthResult;
use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};

use crate::{crlf, read, serve};

/// A fixture message with CRLF line ends, as on the wire.
fn message(file: &str) -> Vec<u8> {
    crlf(&read(&format!("dkim-dkimpy/{file}")))
}

fn football_zone() -> Zone {
    let mut zone = Zone::new();
    zone.txt(
        "brisbane._domainkey.football.example.com",
        &["v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
    )
    .expect("txt");
    zone.txt(
        "test._domainkey.football.example.com",
        &[read("dkim-dkimpy/test.txt").trim()],
    )
    .expect("txt");
    zone
}

#[tokio::test]
async fn rfc8463_example_verifies_both_signatures() {
    let (_server, auth) = serve(football_zone()).await;
    let out = auth.check_dkim(&message("rfc6376.signed.msg")).await;
    assert_eq!(out.len(), 2, "{out:?}");
    let algs: Vec<&str> = out.iter().map(|d| d.algorithm.as_str()).collect();
    assert!(
        algs.contains(&"ed25519-sha256") && algs.contains(&"rsa-sha256"),
        "{algs:?}"
    );
    assert!(out.iter().all(|d| d.result == AuthResult::Pass), "{out:?}");
    assert!(out.iter().all(|d| d.domain == "football.example.com"));
}

#[tokio::test]
async fn rsa_variants_verify() {
    let (_server, auth) = serve(football_zone()).await;
    let out = auth.check_dkim(&message("rfc6376.signed.rsa.msg")).await;
    assert!(
        !out.is_empty() && out.iter().all(|d| d.result == AuthResult::Pass),
        "{out:?}"
    );
    // The same b= with its t= tag removed: the signed header changed, so it must fail.
    let out = auth.check_dkim(&message("rfc6376.signed.no_t.msg")).await;
    assert!(
        !out.is_empty() && out.iter().all(|d| d.result == AuthResult::Fail),
        "{out:?}"
    );
}

#[tokio::test]
async fn tampering_fails() {
    let (_server, auth) = serve(football_zone()).await;
    let msg = String::from_utf8(message("rfc6376.signed.msg")).expect("utf-8");
    let body_changed = msg.replacen("Joe.", "Joe!", 1);
    assert_ne!(body_changed, msg);
    let out = auth.check_dkim(body_changed.as_bytes()).await;
    assert!(out.iter().all(|d| d.result == AuthResult::Fail), "{out:?}");
    let header_changed = msg.replacen("Subject: Is dinner ready?", "Subject: Is lunch ready?", 1);
    assert_ne!(header_changed, msg);
    let out = auth.check_dkim(header_changed.as_bytes()).await;
    assert!(out.iter().all(|d| d.result == AuthResult::Fail), "{out:?}");
}

#[tokio::test]
async fn broken_key_records_never_pass() {
    for bad in ["badk.txt", "badversion.txt", "test_bad.txt"] {
        let mut zone = Zone::new();
        zone.txt(
            "test._domainkey.football.example.com",
            &[read(&format!("dkim-dkimpy/{bad}")).trim()],
        )
        .expect("txt");
        let (_server, auth) = serve(zone).await;
        let out = auth.check_dkim(&message("rfc6376.signed.rsa.msg")).await;
        assert!(
            !out.is_empty() && out.iter().all(|d| d.result != AuthResult::Pass),
            "{bad}: {out:?}"
        );
    }
}

#[tokio::test]
async fn sign_then_verify_round_trips() {
    let message = b"From: Jan <jan@praktijk.test>\r\nTo: Piet <piet@zorg.test>\r\nSubject: Overdracht\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <rt@praktijk.test>\r\n\r\nGoedemorgen,\r\n\r\nZie bijlage.\r\n";
    let mut zone = Zone::new();
    let mut signed = Vec::new();
    let stored_pkcs1 =
        SigningKey::from_pem(&read("dkim-dkimpy/2048_testkey.key")).expect("PKCS#1 key");
    let stored_pkcs8 =
        SigningKey::from_pem(&read("dkim-dkimpy/2048_testkey_PKCS8.key")).expect("PKCS#8 key");
    let keys = [
        (
            "ed",
            SigningKey::generate(KeyAlgorithm::Ed25519).expect("ed25519"),
        ),
        (
            "rsa",
            SigningKey::generate(KeyAlgorithm::Rsa2048).expect("rsa"),
        ),
        ("pkcs1", stored_pkcs1),
        ("pkcs8", stored_pkcs8),
    ];
    for (selector, key) in &keys {
        zone.txt(
            &format!("{selector}._domainkey.praktijk.test"),
            &[&key.dns_record()],
        )
        .expect("txt");
        let header = key.sign(message, "praktijk.test", selector).expect("sign");
        let mut m = header.into_bytes();
        m.extend_from_slice(message);
        signed.push((*selector, m));
    }
    let (_server, auth) = serve(zone).await;
    for (selector, m) in &signed {
        let out = auth.check_dkim(m).await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].result, AuthResult::Pass, "{selector}: {out:?}");
        assert_eq!(out[0].selector, *selector);
        // Relaxed canonicalisation survives whitespace changes in transit...
        let reflowed =
            String::from_utf8_lossy(m).replace("Subject: Overdracht", "Subject:  Overdracht");
        let out = auth.check_dkim(reflowed.as_bytes()).await;
        assert_eq!(
            out[0].result,
            AuthResult::Pass,
            "{selector} relaxed: {out:?}"
        );
        // ...but not a changed word, nor an added From header (From is over-signed).
        let changed = String::from_utf8_lossy(m).replace("Zie bijlage.", "Zie de bijlage.");
        assert_eq!(
            auth.check_dkim(changed.as_bytes()).await[0].result,
            AuthResult::Fail,
            "{selector}"
        );
        let extra_from =
            String::from_utf8_lossy(m).replacen("To: ", "From: evil@attacker.test\r\nTo: ", 1);
        assert_ne!(
            auth.check_dkim(extra_from.as_bytes()).await[0].result,
            AuthResult::Pass,
            "{selector}"
        );
    }
}
