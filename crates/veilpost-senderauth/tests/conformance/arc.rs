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
