//! What the gateway counts for Prometheus, and the exposition served on `metrics.listen`.
//!
//! Every metric is described in [`install`] (the one list of names). Counts only: no
//! address, subject or finding text is ever a label. Labels have a fixed set of values
//! (routes, results, TLS proofs, verdicts, finding kinds — including the organisation's own
//! identifier names from the configuration).
//!
//! Recorded elsewhere, with the same names: `veilpost_sms_failures_total` and
//! `veilpost_clamd_failures_total` (veilpost-adapters), `veilpost_portal_logins_total`,
//! `veilpost_portal_lockouts_total` and `veilpost_portal_view_seconds` (veilpost-web).

use std::time::Duration;

use anyhow::{Context, Result};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use veilpost_store::{Route, Store};

/// Histogram buckets for every `*_seconds` metric: a millisecond to half a minute.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Install the Prometheus recorder for this process and describe every metric. Until this
/// runs (no `metrics.listen`), recording costs nothing.
pub fn install() -> Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .context("metric buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    describe_gauge!(
        "veilpost_queue_depth",
        "Work waiting, by state: messages received, processing, held; recipients queued"
    );
    describe_counter!(
        "veilpost_messages_accepted_total",
        "Messages acknowledged with 250, by listener (submission, inbound)"
    );
    describe_histogram!(
        "veilpost_accept_seconds",
        Unit::Seconds,
        "From the end of DATA to the 250: checks, spool, fsync and commit"
    );
    describe_histogram!(
        "veilpost_scan_seconds",
        Unit::Seconds,
        "DLP scan of one outgoing message, attachments included"
    );
    describe_counter!(
        "veilpost_dlp_verdicts_total",
        "DLP verdicts of processed messages (sensitive, clean)"
    );
    describe_counter!(
        "veilpost_dlp_findings_total",
        "DLP findings by kind (counts only, never the text)"
    );
    describe_counter!(
        "veilpost_dkim_signatures_total",
        "DKIM signatures made for the organisation's domains, by result (signed, failed)"
    );
    describe_counter!(
        "veilpost_recipients_total",
        "Recipients of processed messages by route (plain, tls, portal, block, internal-link, encrypted-attachment)"
    );
    describe_counter!(
        "veilpost_deliveries_total",
        "Delivery attempts by route and result (delivered, deferred, failed)"
    );
    describe_counter!(
        "veilpost_deliveries_by_tls_total",
        "Deliveries made, by what their TLS rested on (dane, mta_sts, nta7516, pkix, opportunistic, none)"
    );
    describe_histogram!(
        "veilpost_delivery_attempt_seconds",
        Unit::Seconds,
        "One delivery attempt: look-ups, connection, TLS and transaction"
    );
    describe_counter!(
        "veilpost_inbound_verdicts_total",
        "Inbound messages by the verdict's action (accept, tag, quarantine, reject)"
    );
    describe_counter!(
        "veilpost_portal_logins_total",
        "Portal logins by result (ok, failed)"
    );
    describe_counter!(
        "veilpost_portal_lockouts_total",
        "Portal logins locked after too many wrong codes"
    );
    describe_histogram!(
        "veilpost_portal_view_seconds",
        Unit::Seconds,
        "The portal's message page: decrypt, render, audit"
    );
    describe_counter!(
        "veilpost_sms_failures_total",
        "Text messages (codes, ZIP passwords) that did not go out"
    );
    describe_counter!(
        "veilpost_clamd_failures_total",
        "Virus scans that gave no verdict (clamd unreachable, slow or refusing)"
    );
    // Known from the start, so a dashboard shows 0 rather than nothing.
    for name in [
        "veilpost_portal_lockouts_total",
        "veilpost_sms_failures_total",
        "veilpost_clamd_failures_total",
    ] {
        counter!(name).increment(0);
    }
    Ok(handle)
}

/// The exposition: the queue's depth read from the store at each scrape, then everything
/// recorded.
#[derive(Debug, Clone)]
pub struct Exposition {
    pub handle: PrometheusHandle,
    pub store: Store,
}

impl veilpost_web::metrics::Exposition for Exposition {
    fn render(&self) -> veilpost_web::BoxFuture<'_, String> {
        Box::pin(async move {
            match self.store.queue_depth().await {
                Ok(depth) => {
                    for (state, n) in depth {
                        gauge!("veilpost_queue_depth", "state" => state).set(n as f64);
                    }
                }
                Err(e) => tracing::warn!("metrics: queue depth: {e}"),
            }
            self.handle.run_upkeep();
            self.handle.render()
        })
    }
}

/// A message acknowledged on `listener` (`submission`, `inbound`) after `elapsed`.
pub fn accepted(listener: &'static str, elapsed: Duration) {
    counter!("veilpost_messages_accepted_total", "listener" => listener).increment(1);
    histogram!("veilpost_accept_seconds", "listener" => listener).record(elapsed.as_secs_f64());
}

/// An outgoing message scanned in `elapsed`, with its verdict and findings.
pub fn scanned(report: &veilpost_dlp::Report, elapsed: Duration) {
    histogram!("veilpost_scan_seconds").record(elapsed.as_secs_f64());
    counter!("veilpost_dlp_verdicts_total", "verdict" => report.verdict.as_str()).increment(1);
    for f in &report.findings {
        counter!("veilpost_dlp_findings_total", "kind" => f.kind_name().to_string()).increment(1);
    }
}

/// A DKIM signature made (`true`) or failed for one of the organisation's domains.
pub fn dkim_signature(signed: bool) {
    let result = if signed { "signed" } else { "failed" };
    counter!("veilpost_dkim_signatures_total", "result" => result).increment(1);
}

/// The routes the policy chose for a processed message's recipients.
pub fn routed(routes: impl Iterator<Item = Route>) {
    for route in routes {
        counter!("veilpost_recipients_total", "route" => route.as_str()).increment(1);
    }
}

/// One delivery attempt for a recipient on `route`: made (with what its TLS rested on) or
/// not (`deferred`, `failed`).
pub fn delivery_attempt(
    route: Route,
    result: Result<&'static str, &'static str>,
    elapsed: Duration,
) {
    histogram!("veilpost_delivery_attempt_seconds").record(elapsed.as_secs_f64());
    let word = match result {
        Ok(tls) => {
            counter!("veilpost_deliveries_by_tls_total", "tls" => tls).increment(1);
            "delivered"
        }
        Err(word) => word,
    };
    counter!("veilpost_deliveries_total", "route" => route.as_str(), "result" => word).increment(1);
}

/// The inbound verdict's action for a message.
pub fn inbound(action: veilpost_verdict::Action) {
    counter!("veilpost_inbound_verdicts_total", "action" => action.as_str()).increment(1);
}

/// Serve `/metrics` on `metrics.listen` when it is set.
pub async fn listen(
    config: &crate::config::Config,
    store: &Store,
) -> Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>> {
    if config.metrics.listen.is_empty() {
        return Ok(None);
    }
    let addr: std::net::SocketAddr = config.metrics.listen.parse()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?;
    let exposition = Exposition {
        handle: install()?,
        store: store.clone(),
    };
    let auth = veilpost_web::metrics::ScrapeAuth {
        username: config.metrics.username.clone(),
        password: config.metrics.password.clone(),
    };
    Ok(Some(tokio::spawn(veilpost_web::metrics::serve(
        listener,
        std::sync::Arc::new(exposition),
        auth,
    ))))
}
