//! Veilpost's SPF and DMARC verdicts beside checkdmarc's (PyPI) on the same loopback zones
//! (`compare_zones.txt`). Where the two differ, the difference is deliberate and listed in
//! `KNOWN_DIFFERENCES` with the reason; any other difference fails this test.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use veilpost_dns::testserver::{TestDnsServer, Zone};
use veilpost_posture::{Checker, Lang, Options, Report, Status};

const ZONES: &str = include_str!("compare_zones.txt");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/posture/checkdmarc_verdicts.py"
);

/// The worst status among the checks of one area (`spf-`, `dmarc-`), as checkdmarc words it.
fn area_verdict(r: &Report, area: &str) -> &'static str {
    let statuses: Vec<Status> = r
        .checks
        .iter()
        .filter(|c| c.id.starts_with(area))
        .map(|c| c.status)
        .collect();
    if statuses.contains(&Status::Fail) {
        "fail"
    } else if statuses.contains(&Status::Warn) {
        "warn"
    } else {
        "pass"
    }
}

/// Where Veilpost and checkdmarc (6.x) deliberately differ: (domain, area, Veilpost,
/// checkdmarc, why).
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "weak.test",
        "spf",
        "fail",
        "pass",
        "?all makes no statement about other senders, so SPF protects nothing; the issue and \
         internet.nl both count it as a failure, checkdmarc accepts any valid record",
    ),
    (
        "plusall.test",
        "spf",
        "fail",
        "pass",
        "+all authorises every host on the internet; checkdmarc only checks syntax",
    ),
    (
        "amx.test",
        "dmarc",
        "pass",
        "warn",
        "the report domain has no MX but an address; RFC 5321 §5.1 delivers to it \
         (implicit MX), checkdmarc demands an MX",
    ),
    (
        "trial.test",
        "dmarc",
        "warn",
        "pass",
        "t=y (RFC 9989 testing mode) makes receivers apply quarantine instead of reject; \
         checkdmarc describes the tag but does not flag the weaker effect",
    ),
];

pub fn domains() -> Vec<String> {
    let mut seen = Vec::new();
    for line in ZONES.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if name.is_empty() || name.starts_with('#') || name.contains('_') {
            continue;
        }
        let base = name.splitn(2, '.').collect::<Vec<_>>();
        let domain = if name.matches('.').count() == 1 {
            name.to_string()
        } else {
            base[1].to_string()
        };
        if !seen.contains(&domain) {
            seen.push(domain);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_beside_checkdmarc() {
    let zone = Zone::parse(ZONES).expect("zones");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let checker = Checker::new(
        &dns.config(),
        Options {
            lang: Lang::En,
            probe_smtp: false,
            deadline: Duration::from_secs(20),
            ..Options::default()
        },
    )
    .expect("checker");
    let domains = domains();
    let out = Command::new("python3")
        .arg(SCRIPT)
        .arg(dns.addr().port().to_string())
        .args(&domains)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "checkdmarc failed (pip install checkdmarc): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("checkdmarc json");
    let mut unexplained = Vec::new();
    for d in &domains {
        let r = checker.check(d).await.expect("report");
        let t = &theirs[d];
        for area in ["spf", "dmarc"] {
            let ours = area_verdict(&r, &format!("{area}-"));
            let their = t[area].as_str().unwrap_or("?");
            let known = KNOWN_DIFFERENCES.iter().find(|k| k.0 == d && k.1 == area);
            let note = match known {
                Some(k) if k.2 == ours && k.3 == their => format!("differs: {}", k.4),
                Some(k) => {
                    unexplained.push(format!("{d} {area}: expected {} vs {}", k.2, k.3));
                    "known difference changed".to_string()
                }
                None if ours == their => "same".to_string(),
                None => {
                    unexplained.push(format!("{d} {area}: veilpost {ours}, checkdmarc {their}"));
                    format!(
                        "UNEXPLAINED: ours {:?} theirs {}",
                        r.checks
                            .iter()
                            .filter(|c| c.id.starts_with(area) && c.status != Status::Pass)
                            .map(|c| &c.detail)
                            .collect::<Vec<_>>(),
                        t[format!("{area}_detail")]
                    )
                }
            };
            println!("{d:14} {area:5} veilpost={ours:4} checkdmarc={their:4} {note}");
        }
    }
    assert!(unexplained.is_empty(), "{unexplained:#?}");
}
