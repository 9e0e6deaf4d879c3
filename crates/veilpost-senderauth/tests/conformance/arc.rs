//! The ARC validation suite (ValiMail arc_test_suite): 171 chain-validation tests.

use veilpost_dns::testserver::Zone;
use veilpost_senderauth::AuthResult;
use yaml_rust2::YamlLoader;

use crate::{crlf, read, serve};

const SHADOWED: &str = "__shadowed_";

/// The suite repeats a test name within a scenario (`as_fields_b_head_case`); PyYAML, the
/// suite's own loader, keeps the last. Rename the earlier ones so a strict loader accepts
/// the file, and skip them.
fn shadow_duplicate_tests(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for i in 0..lines.len() {
        let line = lines[i].clone();
        if line == "---" {
            seen.clear();
            continue;
        }
        let is_test_key = line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':')
            && !line.trim().contains(' ');
        if !is_test_key {
            continue;
        }
        let key = line.trim().trim_end_matches(':').to_string();
        if let Some(&earlier) = seen.get(&key) {
            lines[earlier] = format!("  {key}{SHADOWED}{earlier}:");
        }
        seen.insert(key, i);
    }
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arc_validation_suite() {
    let text = shadow_duplicate_tests(&read("arc/arc-draft-validation-tests.yml"));
    let docs = YamlLoader::load_from_str(&text).expect("YAML");
    let (mut passed, mut total) = (0, 0);
    let mut failures = Vec::new();
    for doc in &docs {
        let mut zone = Zone::new();
        for (name, value) in doc["txt-records"].as_hash().into_iter().flatten() {
            let (Some(name), Some(value)) = (name.as_str(), value.as_str()) else {
                continue;
            };
            zone.txt(name, &[value]).expect("txt");
        }
        let (_server, auth) = serve(zone).await;
        for (name, t) in doc["tests"].as_hash().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if name.contains(SHADOWED) {
                continue;
            }
            let message = crlf(t["message"].as_str().unwrap_or_default());
            // Three cases leave cv blank where the chain already carries cv=fail (RFC 8617
            // §5.2: validation stops with fail); the reference implementation reports fail.
            let expected = match t["cv"].as_str().unwrap_or_default().trim() {
                "" => "fail".to_string(),
                cv => cv.to_ascii_lowercase(),
            };
            let got = auth.check_arc(&message).await;
            let got_word = match got.result {
                AuthResult::Pass => "pass",
                AuthResult::None => "none",
                _ => "fail",
            };
            total += 1;
            if got_word == expected {
                passed += 1;
            } else {
                failures.push(format!(
                    "{name}: expected {expected}, got {got_word} ({:?})",
                    got.detail
                ));
            }
        }
    }
    let rate = f64::from(passed) / f64::from(total);
    eprintln!(
        "ARC validation suite: {passed}/{total} ({:.1}%)",
        rate * 100.0
    );
    for f in &failures {
        eprintln!("  {f}");
    }
    assert_eq!(
        total, 171,
        "the suite has 171 tests (after PyYAML's last-key-wins)"
    );
    assert!(rate >= 0.95, "pass rate {rate:.3} below 0.95");
}

/// Veilpost's own ARC seal (issue 18, point 1): a forwarded partner mail changed by
/// Veilpost (a header added in front, as the banner and our results do) is sealed as
/// instance 1 with the partner's DKIM, SPF and DMARC in its ARC-Authentication-Results; the
/// chain validates (arc=pass) for the next hop, and a second sealing adds instance 2 on
/// top of a valid chain. A message whose chain failed is not sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veilposts_seal_validates_and_chains() {
    use veilpost_senderauth::VerifyRequest;
    use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};

    let partner = SigningKey::generate(KeyAlgorithm::Rsa2048).expect("key");
    let ours = SigningKey::generate(KeyAlgorithm::Rsa2048).expect("key");
    let mut zone = Zone::new();
    zone.txt("p._domainkey.partner.test", &[&partner.dns_record()])
        .expect("txt");
    zone.txt("v._domainkey.praktijk.test", &[&ours.dns_record()])
        .expect("txt");
    zone.txt("partner.test", &["v=spf1 ip4:192.0.2.10 -all"])
        .expect("txt");
    zone.txt("_dmarc.partner.test", &["v=DMARC1; p=reject"])
        .expect("txt");
    let (_server, auth) = serve(zone).await;
    let message = b"From: Lab <uitslagen@partner.test>\r\nTo: ann@praktijk.test\r\nSubject: Uitslag\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <u1@partner.test>\r\n\r\nDe uitslag staat klaar.\r\n";
    let mut original = partner
        .sign(message, "partner.test", "p")
        .expect("sign")
        .into_bytes();
    original.extend_from_slice(message);
    let req = VerifyRequest {
        message: &original,
        ip: "192.0.2.10".parse().expect("ip"),
        helo: "mail.partner.test",
        mail_from: "uitslagen@partner.test",
    };
    let v = auth.verify(&req).await;
    assert_eq!(v.dmarc.result, AuthResult::Pass, "{:?}", v.dmarc);
    let mut changed = b"X-Veilpost-Verdict: clean\r\n".to_vec();
    changed.extend_from_slice(&original);
    let set = auth
        .arc_seal(&original, &changed, &v, &req, &ours, "praktijk.test", "v")
        .await
        .expect("seal")
        .expect("a chain to seal");
    assert!(
        set.contains("ARC-Seal: i=1;")
            && set.contains("cv=none")
            && set.contains("d=praktijk.test")
            && set.contains("ARC-Authentication-Results: i=1;")
            && set.contains("dkim=pass")
            && set.contains("spf=pass")
            && set.contains("dmarc=pass"),
        "{set}"
    );
    let mut sealed = set.into_bytes();
    sealed.extend_from_slice(&changed);
    let arc = auth.check_arc(&sealed).await;
    assert_eq!(arc.result, AuthResult::Pass, "{arc:?}");
    assert_eq!(arc.instances, 1);
    // The next hop seals again on top of a valid chain.
    let req2 = VerifyRequest {
        message: &sealed,
        ..req
    };
    let v2 = auth.verify(&req2).await;
    let twice = auth
        .arc_seal(&sealed, &sealed, &v2, &req2, &ours, "praktijk.test", "v")
        .await
        .expect("seal")
        .expect("a valid chain to seal");
    assert!(
        twice.contains("i=2;") && twice.contains("cv=pass"),
        "{twice}"
    );
    let mut twice_sealed = twice.into_bytes();
    twice_sealed.extend_from_slice(&sealed);
    assert_eq!(auth.check_arc(&twice_sealed).await.result, AuthResult::Pass);
    // A broken chain (the sealed message altered after sealing) is not sealed further.
    let tampered = String::from_utf8_lossy(&sealed).replace("De uitslag", "Het geld");
    let req3 = VerifyRequest {
        message: tampered.as_bytes(),
        ..req
    };
    let v3 = auth.verify(&req3).await;
    assert_eq!(
        auth.arc_seal(
            tampered.as_bytes(),
            tampered.as_bytes(),
            &v3,
            &req3,
            &ours,
            "praktijk.test",
            "v"
        )
        .await
        .expect("no error"),
        None
    );
}
