//! `veilpost check-domain`.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use veilpost_dns::DnsConfig;
use veilpost_posture::{Checker, Options, Report};

use crate::lang::Lang;
use crate::senderauth::Format;

/// Options of `check-domain` beyond the domain.
#[derive(Debug, Clone)]
pub struct Args {
    pub dkim_selectors: Vec<String>,
    pub probe_smtp: bool,
    pub smtp_port: u16,
    pub https_port: u16,
    pub ca_files: Vec<PathBuf>,
    pub ca_only: bool,
    pub timeout: u64,
    /// Where the advice points DMARC and TLS reports (`None`: the defaults).
    pub report_addresses: (Option<String>, Option<String>),
}

/// Run the check; returns the exit code (1 when a check fails).
pub fn run(dns: &DnsConfig, domain: &str, args: &Args, format: Format, lang: Lang) -> Result<u8> {
    let extra = crate::gateway::read_ca_files(&args.ca_files)?;
    let opts = Options {
        lang,
        dkim_selectors: args.dkim_selectors.clone(),
        probe_smtp: args.probe_smtp,
        smtp_port: args.smtp_port,
        https_port: args.https_port,
        extra_roots_pem: extra,
        only_extra_roots: args.ca_only,
        deadline: Duration::from_secs(args.timeout.max(1)),
        dmarc_report_address: args.report_addresses.0.clone(),
        tlsrpt_report_address: args.report_addresses.1.clone(),
        ..Options::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = rt.block_on(async {
        let checker = Checker::new(dns, opts)?;
        checker.check(domain).await
    })?;
    let mut out = io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", report_json(&report))?,
        Format::Text => write!(out, "{}", report.to_text(lang, io::stdout().is_terminal()))?,
    }
    Ok(u8::from(report.has_failures()))
}

fn report_json(r: &Report) -> serde_json::Value {
    json!({
        "domain": r.domain,
        "checks": r.checks.iter().map(|c| json!({
            "id": c.id,
            "status": c.status.as_str(),
            "detail": c.detail,
            "advice": c.advice,
        })).collect::<Vec<_>>(),
        "secure_delivery": {
            "possible": r.secure_delivery.possible,
            "reason": r.secure_delivery.reason,
        },
        "elapsed_ms": r.elapsed.as_millis() as u64,
    })
}
