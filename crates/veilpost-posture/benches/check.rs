//! A whole `check-domain` of a well-configured domain against the in-process DNS server on
//! loopback: median and p99 over many runs, each with a fresh checker (cold caches, as a
//! command-line run; the checker's set-up is timed apart), beside checkdmarc's time on the
//! same zone.
//!
//! - `dns`: SPF, DMARC (with report destinations), DKIM selectors, MX, DNSSEC, TLSA,
//!   MTA-STS and TLS-RPT records, NTA 7516 — the DNS part, what checkdmarc does by default.
//! - `full`: the same plus STARTTLS on the MX (TLS 1.2/1.3 handshake, certificate, and the
//!   raw ClientHello probes for TLS 1.0/1.1 and weak suites) and the MTA-STS policy over
//!   HTTPS, against servers on 127.0.0.2.
//! - `checkdmarc`: `checkdmarc.check_domains` on the same zone (SPF, DMARC, MX, NS, SOA,
//!   DNSSEC, MTA-STS, TLS-RPT, BIMI), caches cleared every run; skipped when Python's
//!   checkdmarc is not installed.
//!
//! Run: `cargo bench -p veilpost-posture --bench check` (`RUNS=n` to change the 200 runs).

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use veilpost_dns::testserver::{TestDnsServer, Zone};
use veilpost_posture::{Checker, Lang, Options, Status};

#[allow(dead_code)]
#[path = "../tests/posture/servers.rs"]
mod servers;

const ZONES: &str = include_str!("../tests/posture/compare_zones.txt");
const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx1.good.test\r\nmax_age: 604800\r\n";

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    let p99 = ms[((ms.len() as f64 * 0.99) as usize).min(ms.len() - 1)];
    println!(
        "{name:10} median {median:7.2} ms   p99 {p99:7.2} ms   ({} runs)",
        ms.len()
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: keep that run short.
    let benching = std::env::args().any(|a| a == "--bench");
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if benching { 200 } else { 2 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ca = servers::Ca::new();
        let ip: IpAddr = "127.0.0.2".parse().expect("ip");
        let (smtp_port, mut smtp) = servers::listeners(&[ip]).await;
        let (https_port, mut https) = servers::listeners(&[ip]).await;
        servers::smtp(
            smtp.remove(0),
            Some(ca.leaf(&["mx1.good.test"], false).config),
        );
        servers::https(
            https.remove(0),
            ca.leaf(&["mta-sts.good.test"], false).config,
            POLICY.into(),
        );
        let dns = TestDnsServer::start(Zone::parse(ZONES).expect("zones"))
            .await
            .expect("dns");
        for (name, probe_smtp) in [("dns", false), ("full", true)] {
            let opts = || Options {
                lang: Lang::En,
                probe_smtp,
                smtp_port,
                https_port,
                extra_roots_pem: vec![ca.pem.clone()],
                only_extra_roots: true,
                connect_timeout: Duration::from_secs(3),
                ..Options::default()
            };
            let mut ms = Vec::with_capacity(runs);
            let mut setup = Vec::with_capacity(runs);
            for _ in 0..runs {
                let start = Instant::now();
                let checker = Checker::new(&dns.config(), opts()).expect("checker");
                let ready = Instant::now();
                let report = checker.check("good.test").await.expect("report");
                setup.push((ready - start).as_secs_f64() * 1000.0);
                ms.push(ready.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(report.get("spf-all").map(|c| c.status), Some(Status::Pass));
                if probe_smtp {
                    assert_eq!(
                        report.get("starttls-mx1.good.test").map(|c| c.status),
                        Some(Status::Pass)
                    );
                }
            }
            summary(name, ms);
            summary("  (set-up)", setup);
        }
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/posture/checkdmarc_verdicts.py"
        );
        match Command::new("python3")
            .arg(script)
            .arg("--time")
            .arg(runs.to_string())
            .arg(dns.addr().port().to_string())
            .arg("good.test")
            .output()
        {
            Ok(out) if out.status.success() => {
                let v: serde_json::Value =
                    serde_json::from_slice(&out.stdout).expect("checkdmarc timing");
                println!(
                    "checkdmarc median {} ms   p99 {} ms   ({} runs; slowest {})",
                    v["median_ms"], v["p99_ms"], v["runs"], v["slowest_ms"]
                );
            }
            _ => println!("checkdmarc: not installed, skipped"),
        }
    });
}
