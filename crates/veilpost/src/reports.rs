//! DMARC aggregate and TLS-RPT reports at the edges (issue 19): what the pure crate
//! decided ([`veilpost_reports::triage`]) recorded in the store, for the report
//! addresses on the MX listener, the TLS-RPT HTTPS endpoint and `veilpost report import`;
//! and `veilpost report summary`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use veilpost_reports::{Limits, Outcome, Summary, Taken, Vouched};
use veilpost_store::Store;

use crate::config::{Config, load};
use crate::lang::Lang;
use crate::senderauth::Format;
use veilpost_text::reports::aside_reason;

/// Reports of one input (a mail to a report address, an HTTPS body), decided and
/// recorded.
pub async fn take_one(
    store: &Store,
    config: &Config,
    via: &str,
    origin: &str,
    raw: &[u8],
    vouched: Vouched,
) -> Result<Vec<Outcome>> {
    // Unpacking and parsing take CPU (a report may be megabytes): off the async workers.
    let (input, served, now) = (
        raw.to_vec(),
        config.organisation.domains.clone(),
        store.now(),
    );
    let steps = tokio::task::spawn_blocking(move || {
        veilpost_reports::triage(&input, &Limits::default(), &served, now, vouched)
    })
    .await?;
    Ok(store
        .record_reports(
            via,
            &[Taken {
                origin: origin.to_string(),
                raw,
                steps,
            }],
        )
        .await?)
}

/// Every file under `paths` (directories walked, in name order).
fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(p) = todo.pop() {
        let meta = std::fs::metadata(&p).with_context(|| p.display().to_string())?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .with_context(|| p.display().to_string())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            todo.extend(entries.into_iter().rev());
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// Reports read and decided at a time, then counted in one transaction.
const IMPORT_BATCH: usize = 2048;

/// `veilpost report import PATH...`: reports saved from a mailbox (.eml, .xml, .xml.gz,
/// .zip, .json, .json.gz), counted once each. Exit status 0 when every file was read,
/// 1 when one gave no report (kept aside as unreadable).
pub fn import(config: Option<&Path>, paths: &[PathBuf], format: Format, lang: Lang) -> Result<u8> {
    let config = load(config)?;
    let files = files(paths)?;
    let limits = Limits::default();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let outcomes = crate::serve::runtime()?.block_on(async {
        let store = config.open_store().await?;
        let now = store.now();
        let served = &config.organisation.domains;
        let mut outcomes = Vec::with_capacity(files.len());
        for batch in files.chunks(IMPORT_BATCH) {
            let read: Vec<(String, Vec<u8>)> = batch
                .iter()
                .map(|p| {
                    let raw = read_capped(p, limits.max_input)?;
                    Ok((p.display().to_string(), raw))
                })
                .collect::<Result<_>>()?;
            let steps = parallel(&read, jobs, |raw| {
                veilpost_reports::triage(raw, &limits, served, now, Vouched::TRUSTED)
            });
            let taken: Vec<Taken> = read
                .iter()
                .zip(steps)
                .map(|((origin, raw), steps)| Taken {
                    origin: origin.clone(),
                    raw,
                    steps,
                })
                .collect();
            outcomes.extend(store.record_reports("import", &taken).await?);
        }
        anyhow::Ok(outcomes)
    })?;
    let unreadable = outcomes.iter().any(|o| o.reason == "unreadable");
    print_outcomes(&outcomes, format, lang)?;
    Ok(u8::from(unreadable))
}

/// A file, refused when larger than `limit` (its first `limit + 1` bytes read, no more).
fn read_capped(path: &Path, limit: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut buf = Vec::new();
    f.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| path.display().to_string())?;
    // Too large: handed on as it is, the reader refuses it with the limit's error.
    Ok(buf)
}

/// `f` over `inputs` on `jobs` threads, results in input order.
fn parallel<T: Send>(
    inputs: &[(String, Vec<u8>)],
    jobs: usize,
    f: impl Fn(&[u8]) -> T + Sync,
) -> Vec<T> {
    let chunk = inputs.len().div_ceil(jobs.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(|(_, raw)| f(raw)).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn print_outcomes(outcomes: &[Outcome], format: Format, lang: Lang) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let n = |status: &str| outcomes.iter().filter(|o| o.status == status).count();
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::json!({
                "counted": n("counted"),
                "duplicate": n("duplicate"),
                "aside": n("aside"),
                "reports": outcomes,
            })
        )?,
        Format::Text => {
            let nl = lang == Lang::Nl;
            for o in outcomes {
                let what = match (o.kind, nl) {
                    ("dmarc", true) => "DMARC-rapport",
                    ("dmarc", false) => "DMARC report",
                    ("tlsrpt", true) => "TLS-rapport",
                    ("tlsrpt", false) => "TLS report",
                    (_, true) => "geen rapport",
                    (_, false) => "no report",
                };
                let status = match (o.status, nl) {
                    ("counted", true) => "geteld".to_string(),
                    ("counted", false) => "counted".to_string(),
                    ("duplicate", true) => "al eerder geteld".to_string(),
                    ("duplicate", false) => "counted before".to_string(),
                    (_, true) => format!("apart gezet: {}", aside_reason(lang, &o.reason)),
                    (_, false) => format!("set aside: {}", aside_reason(lang, &o.reason)),
                };
                let detail = if o.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", o.detail)
                };
                if o.kind.is_empty() {
                    writeln!(out, "{}: {what}, {status}{detail}", o.origin)?;
                } else {
                    writeln!(
                        out,
                        "{}: {what} {} {} ({}), {} {}, {status}",
                        o.origin,
                        o.reporter,
                        o.report_id,
                        o.domain,
                        o.messages,
                        match (o.kind, nl) {
                            ("dmarc", true) => "berichten",
                            ("dmarc", false) => "messages",
                            (_, true) => "sessies",
                            (_, false) => "sessions",
                        },
                    )?;
                }
            }
            if nl {
                writeln!(
                    out,
                    "{} geteld, {} al eerder geteld, {} apart gezet",
                    n("counted"),
                    n("duplicate"),
                    n("aside")
                )?;
            } else {
                writeln!(
                    out,
                    "{} counted, {} counted before, {} set aside",
                    n("counted"),
                    n("duplicate"),
                    n("aside")
                )?;
            }
        }
    }
    Ok(())
}

/// `--since DATE` as Unix seconds: a day (YYYY-MM-DD) from its start (UTC), or a moment
/// in RFC 3339 (`2026-11-01T12:00:00Z`).
pub fn since(date: Option<&str>) -> Result<i64> {
    let Some(date) = date.map(str::trim) else {
        return Ok(i64::MIN);
    };
    if let Some(day) = veilpost_store::users_parse_date(date) {
        return Ok(day.midnight().assume_utc().unix_timestamp());
    }
    time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .with_context(|| format!("--since {date}: not a date (YYYY-MM-DD)"))
}

/// `veilpost report summary DOMAIN [--since DATE]`: who sends as the domain, and is
/// `p=reject` safe?
pub fn summary(
    config: Option<&Path>,
    domain: &str,
    since_date: Option<&str>,
    format: Format,
    lang: Lang,
) -> Result<u8> {
    let config = load(config)?;
    let since = since(since_date)?;
    let s = crate::serve::runtime()?.block_on(async {
        let store = config.open_store().await?;
        Ok::<_, anyhow::Error>(store.dmarc_summary(domain, since).await?)
    })?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(&s)?)?,
        Format::Text => write!(out, "{}", summary_text(&s, since_date, lang))?,
    }
    Ok(0)
}

/// The summary for people: the sources table and the verdict.
pub fn summary_text(s: &Summary, since: Option<&str>, lang: Lang) -> String {
    use std::fmt::Write as _;
    let nl = lang == Lang::Nl;
    let mut t = String::new();
    let period = match (since, nl) {
        (Some(d), true) => format!(" sinds {d}"),
        (Some(d), false) => format!(" since {d}"),
        (None, _) => String::new(),
    };
    let _ = if nl {
        writeln!(
            t,
            "{}: {} berichten in de DMARC-rapporten{period}",
            s.domain, s.messages
        )
    } else {
        writeln!(
            t,
            "{}: {} messages in the DMARC reports{period}",
            s.domain, s.messages
        )
    };
    if !s.sources.is_empty() {
        let head = if nl {
            [
                "bron (IP)",
                "berichten",
                "SPF",
                "DKIM",
                "DMARC",
                "uitlijning",
            ]
        } else {
            [
                "source (IP)",
                "messages",
                "SPF",
                "DKIM",
                "DMARC",
                "alignment",
            ]
        };
        let _ = writeln!(
            t,
            "{:<39} {:>9} {:>9} {:>9} {:>6} {}",
            head[0], head[1], head[2], head[3], head[4], head[5]
        );
        for src in &s.sources {
            let alignment = match (src.alignment, nl) {
                (veilpost_reports::Alignment::Full, true) => "volledig",
                (veilpost_reports::Alignment::Partial, true) => "gedeeltelijk",
                (veilpost_reports::Alignment::None, true) => "geen",
                (a, false) => a.as_str(),
            };
            let _ = writeln!(
                t,
                "{:<39} {:>9} {:>9} {:>9} {:>5.0}% {alignment}",
                if src.ip.is_empty() { "?" } else { &src.ip },
                src.count,
                src.spf_aligned,
                src.dkim_aligned,
                src.pass_rate() * 100.0,
            );
        }
    }
    let _ = match (s.ready_for_reject, s.messages == 0, nl) {
        (true, _, true) => writeln!(
            t,
            "Klaar voor p=reject: ja. Elke bron met 1 % of meer van de berichten slaagt voor DMARC."
        ),
        (true, _, false) => writeln!(
            t,
            "Ready for p=reject: yes. Every source with 1 % or more of the messages passes DMARC."
        ),
        (false, true, true) => writeln!(
            t,
            "Klaar voor p=reject: dat is nog niet te zeggen, er zijn geen rapporten over deze periode."
        ),
        (false, true, false) => writeln!(
            t,
            "Ready for p=reject: cannot tell yet, there are no reports for this period."
        ),
        (false, false, true) => writeln!(
            t,
            "Klaar voor p=reject: nee. Mail van deze bronnen zou geweigerd worden: {}",
            s.blocking_sources.join(", ")
        ),
        (false, false, false) => writeln!(
            t,
            "Ready for p=reject: no. Mail from these sources would be refused: {}",
            s.blocking_sources.join(", ")
        ),
    };
    t
}

/// Remove reports older than `reports.retention_days`; how many went.
pub async fn purge(store: &Store, config: &Config) -> Result<u64> {
    let keep = i64::from(config.reports.retention_days) * 86_400;
    Ok(store.purge_auth_reports(store.now() - keep).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_day_or_a_moment_table() {
        assert_eq!(since(None).ok(), Some(i64::MIN));
        assert_eq!(since(Some("2026-11-01")).ok(), Some(1_793_491_200));
        assert_eq!(since(Some(" 2026-11-01 ")).ok(), Some(1_793_491_200));
        assert_eq!(
            since(Some("2026-11-01T12:00:00Z")).ok(),
            Some(1_793_534_400)
        );
        assert_eq!(
            since(Some("2026-11-01T13:00:00+01:00")).ok(),
            Some(1_793_534_400)
        );
        for bad in ["", "yesterday", "2026-13-01", "01-11-2026"] {
            assert!(since(Some(bad)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn reports_are_kept_for_the_configured_days() {
        let dir = std::env::temp_dir().join(format!("veilpost-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = 1_800_000_000;
        let store = Store::open_with_clock(&dir, veilpost_store::Clock::from_fn(move || now))
            .await
            .expect("store");
        let report = |id: &str, days_ago: i64| {
            veilpost_reports::Report::Dmarc(veilpost_reports::DmarcReport {
                reporter: "google.com".into(),
                report_id: id.into(),
                domain: "praktijk.nl".into(),
                begin: now - days_ago * 86_400 - 86_399,
                end: now - days_ago * 86_400,
                ..Default::default()
            })
        };
        let (recent, old) = (report("recent", 10), report("old", 40));
        store
            .add_auth_reports(&[(&recent, "import"), (&old, "import")])
            .await
            .expect("add");
        let mut config = Config::default();
        config.reports.retention_days = 30;
        assert_eq!(purge(&store, &config).await.expect("purge"), 1);
        config.reports.retention_days = 5;
        assert_eq!(purge(&store, &config).await.expect("purge"), 1);
        assert_eq!(purge(&store, &config).await.expect("purge"), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
