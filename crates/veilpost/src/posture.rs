//! `veilpost check-domain`.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use veilpost_dns::DnsConfig;
use veilpost_posture::{Checker, Options, Report, Status};

use crate::auth::Format;
use crate::lang::Lang;

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
}

/// Run the check; returns the exit code (1 when a check fails).
pub fn run(dns: &DnsConfig, domain: &str, args: &Args, format: Format, lang: Lang) -> Result<u8> {
    let mut extra = Vec::new();
    for f in &args.ca_files {
        extra.push(
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        );
    }
    let opts = Options {
        lang: match lang {
            Lang::Nl => veilpost_posture::Lang::Nl,
            Lang::En => veilpost_posture::Lang::En,
        },
        dkim_selectors: args.dkim_selectors.clone(),
        probe_smtp: args.probe_smtp,
        smtp_port: args.smtp_port,
        https_port: args.https_port,
        extra_roots_pem: extra,
        only_extra_roots: args.ca_only,
        deadline: Duration::from_secs(args.timeout.max(1)),
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
        Format::Text => write!(
            out,
            "{}",
            report_text(&report, lang, io::stdout().is_terminal())
        )?,
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

/// A table a person reads at a glance: ✓ pass, ! warn, ✗ fail, i info; advice indented.
pub fn report_text(r: &Report, lang: Lang, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let width = r
        .checks
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(10)
        .min(40);
    let mut s = format!("{} — {:.1} s\n\n", r.domain, r.elapsed.as_secs_f64());
    for c in &r.checks {
        let mark = match c.status {
            Status::Pass => paint("32", "✓"),
            Status::Warn => paint("33", "!"),
            Status::Fail => paint("31;1", "✗"),
            Status::Info => paint("36", "i"),
        };
        s.push_str(&format!("{mark} {:<width$}  {}\n", c.id, c.detail));
        if let Some(a) = &c.advice
            && c.status != Status::Pass
        {
            s.push_str(&format!("  {:<width$}  → {}\n", "", a));
        }
    }
    let (pass, warn, fail) = r
        .checks
        .iter()
        .fold((0, 0, 0), |(p, w, f), c| match c.status {
            Status::Pass => (p + 1, w, f),
            Status::Warn => (p, w + 1, f),
            Status::Fail => (p, w, f + 1),
            Status::Info => (p, w, f),
        });
    let totals = match lang {
        Lang::Nl => format!("{pass} goed, {warn} waarschuwing(en), {fail} fout(en)"),
        Lang::En => format!("{pass} pass, {warn} warning(s), {fail} failure(s)"),
    };
    s.push_str(&format!("\n{totals}\n{}\n", r.secure_delivery.reason));
    s
}
