//! `/metrics` on its own listener: scraped after a known workload, every counter says what
//! happened; basic authentication when a password is set.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use veilpost_testkit::{Sink, self_signed};

use crate::{Gateway, PASSWORD, free_port, http_get, http_get_with, message, test_dir};

const BSN_BODY: &str = "Geachte collega,\n\nHierbij de verwijzing van patiënt J. de Vries, BSN 111222333, \
geboren 12-03-1961. Diagnose: diabetes mellitus type 2.\n\nMet vriendelijke groet,\nA. Jansen, huisarts";

/// The exposition's samples: `name{label="value",…}` (labels sorted) → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let key = match series.split_once('{') {
            None => series.to_string(),
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("closing brace");
                let mut pairs: Vec<&str> = labels.split(',').filter(|p| !p.is_empty()).collect();
                pairs.sort_unstable();
                format!("{name}{{{}}}", pairs.join(","))
            }
        };
        assert!(out.insert(key, value).is_none(), "duplicate series: {line}");
    }
    out
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// The sum over every series of `name` whose labels include `label`.
fn sum(samples: &BTreeMap<String, f64>, name: &str, label: &str) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && k.contains(label))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_equal_what_happened() {
    let dir = test_dir("metrics");
    let sink = Sink::start("127.0.0.1:0", Some(self_signed(&["sink.test"])), vec![]).await;
    let metrics_port = free_port();
    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "[delivery]\nmode = \"mx\"\n[delivery.routes]\n\"*\" = \"{}\"\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\nusername = \"prometheus\"\n",
            sink.addr
        ),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    // The password from the environment, as an operator would give it.
    let config = std::fs::read_to_string(&gw.config).expect("config");
    std::fs::write(
        &gw.config,
        config.replace(
            "username = \"prometheus\"",
            "username = \"prometheus\"\npassword = \"scrape-secret\"",
        ),
    )
    .expect("config");
    gw.start();

    let results = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            message("ann@praktijk.test", &["bob@partner.test"], "Planning", "De teamvergadering is donderdag."),
            message("ann@praktijk.test", &["carla@partner.test"], "Rooster", "Het rooster staat online."),
            message("ann@praktijk.test", &["dokter@ziekenhuis.test"], "Verwijzing", BSN_BODY),
        ],
    }));
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
    // Two clean messages, a notification and the sender's confirmation.
    let got = sink.wait_for(4, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 4, "{}", gw.log());

    // Without credentials, or with wrong ones: 401, and nothing of the exposition.
    let (code, body) = http_get(metrics_port, "/metrics").await;
    assert_eq!(code, 401, "{body}");
    assert!(!body.contains("veilpost_"), "{body}");
    let wrong = base64::engine::general_purpose::STANDARD.encode("prometheus:guess");
    let (code, _) = http_get_with(
        metrics_port,
        "/metrics",
        &format!("Authorization: Basic {wrong}\r\n"),
    )
    .await;
    assert_eq!(code, 401);

    let auth = base64::engine::general_purpose::STANDARD.encode("prometheus:scrape-secret");
    let header = format!("Authorization: Basic {auth}\r\n");
    // The delivery records are written just after the sink has the message: scrape until
    // the queue is empty.
    let start = std::time::Instant::now();
    let m = loop {
        let (code, body) = http_get_with(metrics_port, "/metrics", &header).await;
        assert_eq!(code, 200, "{body}");
        let m = samples(&body);
        if value(&m, "veilpost_queue_depth{state=\"queued\"}") == 0.0
            && sum(&m, "veilpost_deliveries_total", "result=\"delivered\"") >= 4.0
        {
            assert!(
                body.contains("# TYPE veilpost_accept_seconds histogram"),
                "{body}"
            );
            assert!(
                !body.contains("111222333") && !body.contains("Verwijzing"),
                "{body}"
            );
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "queue never emptied: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let expect = [
        (
            "veilpost_messages_accepted_total{listener=\"submission\"}",
            3.0,
        ),
        (
            "veilpost_accept_seconds_count{listener=\"submission\"}",
            3.0,
        ),
        (
            "veilpost_accept_seconds_bucket{le=\"+Inf\",listener=\"submission\"}",
            3.0,
        ),
        ("veilpost_scan_seconds_count", 3.0),
        ("veilpost_dlp_verdicts_total{verdict=\"clean\"}", 2.0),
        ("veilpost_dlp_verdicts_total{verdict=\"sensitive\"}", 1.0),
        // All from praktijk.test: the three submitted messages (signed while they are
        // scanned, before their routes are known: the sensitive one too), the portal
        // notification and the sender's confirmation.
        ("veilpost_dkim_signatures_total{result=\"signed\"}", 5.0),
        ("veilpost_recipients_total{route=\"plain\"}", 2.0),
        ("veilpost_recipients_total{route=\"portal\"}", 1.0),
        // Over the sink's STARTTLS, which nothing proves: opportunistic, all four.
        (
            "veilpost_deliveries_by_tls_total{tls=\"opportunistic\"}",
            4.0,
        ),
        ("veilpost_delivery_attempt_seconds_count", 4.0),
        ("veilpost_queue_depth{state=\"received\"}", 0.0),
        ("veilpost_queue_depth{state=\"held\"}", 0.0),
        ("veilpost_portal_lockouts_total", 0.0),
        ("veilpost_sms_failures_total", 0.0),
    ];
    for (key, want) in expect {
        assert_eq!(value(&m, key), want, "{key} in {m:#?}");
    }
    assert!(
        m.contains_key("veilpost_queue_depth{state=\"processing\"}"),
        "{m:#?}"
    );
    assert_eq!(
        sum(&m, "veilpost_deliveries_total", "result=\"delivered\""),
        4.0
    );
    assert_eq!(
        sum(&m, "veilpost_deliveries_total", "result=\"deferred\""),
        0.0
    );
    assert!(
        value(&m, "veilpost_dlp_findings_total{kind=\"bsn\"}") >= 1.0,
        "{m:#?}"
    );
    // Buckets only grow: a histogram, not a summary.
    let le = |b: &str| value(&m, &format!("veilpost_scan_seconds_bucket{{le=\"{b}\"}}"));
    assert!(
        le("0.001") <= le("0.1") && le("0.1") <= le("+Inf"),
        "{m:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
