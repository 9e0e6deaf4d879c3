//! The openspf RFC 7208 suite (pyspf 2.0.14's copy): 203 tests over 16 scenarios.

use std::net::IpAddr;

use veilpost_dns::testserver::Zone;
use yaml_rust2::{Yaml, YamlLoader};

use crate::{read, serve};

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Build the scenario's zone: SPF-type data is served as TXT where a name has no TXT
/// (what the suite's drivers do), `TXT: NONE` means the name has no TXT at all.
pub fn zone(zonedata: &Yaml) -> Zone {
    let mut zone = Zone::new();
    let Some(names) = zonedata.as_hash() else {
        return zone;
    };
    for (name, records) in names {
        let Some(name) = scalar(name) else { continue };
        for record in records.as_vec().into_iter().flatten() {
            if let Some(word) = record.as_str() {
                if word == "TIMEOUT" {
                    zone.timeout(&name).ok();
                }
                continue;
            }
            let Some(hash) = record.as_hash() else {
                continue;
            };
            for (rtype, value) in hash {
                let rtype = rtype.as_str().unwrap_or_default();
                let _ = match (rtype, value) {
                    ("TXT", Yaml::String(s)) if s == "NONE" => zone.no_txt(&name).map(|_| ()),
                    ("TXT" | "SPF", Yaml::Array(parts)) => {
                        let parts: Vec<String> = parts.iter().filter_map(scalar).collect();
                        let quoted: Vec<String> = parts
                            .iter()
                            .map(|p| {
                                format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\""))
                            })
                            .collect();
                        if quoted.is_empty() {
                            zone.record(&name, rtype, "\"\"").map(|_| ())
                        } else {
                            zone.record(&name, rtype, &quoted.join(" ")).map(|_| ())
                        }
                    }
                    ("TXT" | "SPF", v) => {
                        let s = scalar(v).unwrap_or_default();
                        let quoted =
                            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
                        zone.record(&name, rtype, &quoted).map(|_| ())
                    }
                    ("MX", Yaml::Array(v)) if v.len() == 2 => {
                        let pref = scalar(&v[0]).unwrap_or_default();
                        let host = scalar(&v[1]).unwrap_or_default();
                        zone.record(&name, "MX", &format!("{pref} {host}"))
                            .map(|_| ())
                    }
                    (t, v) => {
                        let data = scalar(v).unwrap_or_default();
                        zone.record(&name, t, &data).map(|_| ())
                    }
                };
            }
        }
    }
    zone
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openspf_rfc7208_suite() {
    let docs = YamlLoader::load_from_str(&read("spf-rfc7208/rfc7208-tests.yml")).expect("YAML");
    let (mut passed, mut total) = (0, 0);
    let mut failures = Vec::new();
    for doc in &docs {
        let (_server, auth) = serve(zone(&doc["zonedata"])).await;
        let Some(tests) = doc["tests"].as_hash() else {
            continue;
        };
        for (name, t) in tests {
            let name = name.as_str().unwrap_or_default();
            let helo = t["helo"].as_str().unwrap_or_default();
            let ip: IpAddr = t["host"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .expect("host IP");
            let mail_from = t["mailfrom"].as_str().unwrap_or_default();
            let expected: Vec<String> = match &t["result"] {
                Yaml::Array(a) => a.iter().filter_map(scalar).collect(),
                y => scalar(y).into_iter().collect(),
            };
            let got = auth.check_spf(ip, helo, mail_from).await.result;
            total += 1;
            if expected.iter().any(|e| e == got.as_str()) {
                passed += 1;
            } else {
                failures.push(format!("{name}: expected {expected:?}, got {got}"));
            }
        }
    }
    let rate = f64::from(passed) / f64::from(total);
    eprintln!(
        "openspf RFC 7208 suite: {passed}/{total} ({:.1}%)",
        rate * 100.0
    );
    for f in &failures {
        eprintln!("  {f}");
    }
    assert_eq!(total, 203, "the suite has 203 tests");
    assert!(rate >= 0.95, "pass rate {rate:.3} below 0.95");
}
