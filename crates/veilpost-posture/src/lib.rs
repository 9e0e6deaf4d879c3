//! Domain posture: how well a mail domain is protected, and whether it can take sensitive
//! mail directly over authenticated TLS — with the exact records to publish when not.
//!
//! [`Checker::check`] runs every area in parallel (SPF, DMARC, DKIM, MX, DNSSEC, MTA-STS,
//! TLS-RPT, NTA 7516, and, when enabled, STARTTLS and DANE on every MX) under one deadline,
//! each DNS look-up under the resolver's own timeout. The result is a list of [`Check`]s with
//! stable ids (`spf-…`, `dmarc-…`, `dkim-…`, `mx-…`, `starttls-…`, `dane-…`, `dnssec-…`,
//! `mta-sts-…`, `tls-rpt-…`, `nta7516-…`), a status (pass, warn, fail, info), a detail and
//! advice, in Dutch or English.

mod dkim;
mod dmarc;
mod dns;
mod mx;
mod spf;
mod text;
pub mod tls;
mod transport;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::dnssec::TrustAnchors;
use veilpost_dns::DnsConfig;

pub use text::Lang;
pub use tls::ProbeError;
pub use transport::{
    NtaError, NtaRecord, PublishedError, StsPolicy, StsPolicyError, mx_matches, parse_nta,
    parse_sts_policy,
};

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Good.
    Pass,
    /// For information.
    Info,
    /// Works, but should be better.
    Warn,
    /// Broken or insecure.
    Fail,
}

impl Status {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Info => "info",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable id, starting with its area.
    pub id: String,
    /// Verdict.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do (for warn and fail), often the record to publish.
    pub advice: Option<String>,
}

impl Check {
    pub(crate) fn new(id: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status,
            detail: detail.into(),
            advice: None,
        }
    }

    pub(crate) fn advice(mut self, advice: impl Into<String>) -> Check {
        self.advice = Some(advice.into());
        self
    }
}

/// Can this domain receive sensitive mail directly (NTA 7516: authenticated TLS)?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureDelivery {
    /// Yes: every MX is protected by DANE or MTA-STS in enforce mode.
    pub possible: bool,
    /// Why (or why not), in the report's language.
    pub reason: String,
}

/// The whole check.
#[derive(Debug, Clone)]
pub struct Report {
    /// The domain checked.
    pub domain: String,
    /// All findings, grouped by area.
    pub checks: Vec<Check>,
    /// The NTA 7516 summary.
    pub secure_delivery: SecureDelivery,
    /// Time taken.
    pub elapsed: Duration,
}

/// Checks as a table a person reads at a glance: ✓ pass, ! warn, ✗ fail, i info, the
/// advice indented under what is not a pass, then the totals. `check-domain` and
/// `veilpost doctor` print it.
pub fn table(checks: &[Check], lang: Lang, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let width = checks
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(10)
        .min(48);
    let mut s = String::new();
    for c in checks {
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
    let count = |st: Status| checks.iter().filter(|c| c.status == st).count();
    let (pass, warn, fail) = (
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
    );
    let totals = match lang {
        Lang::Nl => format!("{pass} goed, {warn} waarschuwing(en), {fail} fout(en)"),
        Lang::En => format!("{pass} pass, {warn} warning(s), {fail} failure(s)"),
    };
    s.push_str(&format!("\n{totals}\n"));
    s
}

impl Report {
    /// The domain, the time taken, the [`table`] of checks and the NTA 7516 summary.
    pub fn to_text(&self, lang: Lang, color: bool) -> String {
        let took = if self.elapsed.as_secs() == 0 {
            format!("{} ms", self.elapsed.as_millis())
        } else {
            format!("{:.1} s", self.elapsed.as_secs_f64())
        };
        format!(
            "{} — {took}\n\n{}{}\n",
            self.domain,
            table(&self.checks, lang, color),
            self.secure_delivery.reason
        )
    }

    /// Any check failed?
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// A check by id.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// How to check.
#[derive(Clone)]
pub struct Options {
    /// Language of details and advice.
    pub lang: Lang,
    /// DKIM selectors to probe besides the common ones.
    pub dkim_selectors: Vec<String>,
    /// Probe STARTTLS on every MX (and DANE against the served certificate).
    pub probe_smtp: bool,
    /// The SMTP port (25; tests use another).
    pub smtp_port: u16,
    /// The HTTPS port for MTA-STS policies (443; tests use another).
    pub https_port: u16,
    /// Extra root certificates (PEM) trusted for STARTTLS and MTA-STS, besides the
    /// system's (tests trust their own CA).
    pub extra_roots_pem: Vec<String>,
    /// Trust only `extra_roots_pem`, not the system's roots (tests).
    pub only_extra_roots: bool,
    /// DNSSEC trust anchor (default: the root's).
    pub trust_anchor: Option<Arc<TrustAnchors>>,
    /// Deadline for the whole check.
    pub deadline: Duration,
    /// Time for one network connection (SMTP, HTTPS).
    pub connect_timeout: Duration,
    /// Where the advice sends DMARC aggregate reports (Veilpost's
    /// `reports.dmarc_address`); `None`: `dmarc-rua@` the checked domain.
    pub dmarc_report_address: Option<String>,
    /// Where the advice sends TLS reports (`reports.tlsrpt_address`); `None`: `tls-rpt@`
    /// the checked domain.
    pub tlsrpt_report_address: Option<String>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("lang", &self.lang)
            .field("probe_smtp", &self.probe_smtp)
            .field("smtp_port", &self.smtp_port)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lang: Lang::Nl,
            dkim_selectors: Vec::new(),
            probe_smtp: true,
            smtp_port: 25,
            https_port: 443,
            extra_roots_pem: Vec::new(),
            only_extra_roots: false,
            trust_anchor: None,
            deadline: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(8),
            dmarc_report_address: None,
            tlsrpt_report_address: None,
        }
    }
}

/// Why the checker could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad DNS configuration.
    #[error(transparent)]
    Dns(#[from] veilpost_dns::DnsError),
    /// Not a domain name.
    #[error("{0:?} is not a domain name")]
    Domain(String),
    /// Bad extra root certificates.
    #[error("invalid root certificate: {0}")]
    Roots(String),
}

/// Checks domains. Build once; checking takes `&self`.
pub struct Checker {
    dns: dns::Dns,
    opts: Options,
    tls: tls::Prober,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").finish_non_exhaustive()
    }
}

impl Checker {
    /// A checker resolving through `config`.
    pub fn new(config: &DnsConfig, opts: Options) -> Result<Checker, Error> {
        let plain = veilpost_dns::resolver(config)?;
        let validating = veilpost_dns::validating_resolver(config, opts.trust_anchor.clone())?;
        let tls = tls::Prober::new(&opts)?;
        Ok(Checker {
            dns: dns::Dns { plain, validating },
            opts,
            tls,
        })
    }

    /// The MTA-STS policy `domain` publishes now (TXT id, policy fetched over HTTPS with
    /// PKIX); `Ok(None)` when it publishes none. For delivery.
    pub async fn mta_sts_policy(
        &self,
        domain: &str,
    ) -> Result<Option<(String, transport::StsPolicy)>, transport::PublishedError> {
        transport::current_sts_policy(&self.dns, &self.tls, domain).await
    }

    /// The NTA 7516 announcement of `domain` valid this month, if any. For delivery.
    pub async fn nta7516(
        &self,
        domain: &str,
    ) -> Result<Option<transport::NtaRecord>, transport::PublishedError> {
        transport::current_nta(&self.dns, domain).await
    }

    /// Check `domain`.
    pub async fn check(&self, domain: &str) -> Result<Report, Error> {
        let start = Instant::now();
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if veilpost_dns::name_from_text(&domain).is_none() || !domain.contains('.') {
            return Err(Error::Domain(domain));
        }
        let lang = self.opts.lang;
        // Each area has the whole deadline; one that runs out (an MX whose port 25 is
        // filtered, say) is reported as such and the others still count.
        let deadline = self.opts.deadline;
        let late = |area: &str| {
            Check::new(
                format!("{area}-deadline"),
                Status::Fail,
                text::deadline(lang, deadline),
            )
        };
        let bounded = |f| tokio::time::timeout(deadline, f);
        let dmarc_rua = dmarc::report_address(&domain, self.opts.dmarc_report_address.as_deref());
        let (spf, dmarc, dkim, mx, policies) = tokio::join!(
            bounded(Box::pin(spf::check(&self.dns, &domain, lang))
                as std::pin::Pin<
                    Box<dyn Future<Output = Vec<Check>> + Send + '_>,
                >),
            bounded(Box::pin(dmarc::check(&self.dns, &domain, &dmarc_rua, lang))),
            bounded(Box::pin(dkim::check(
                &self.dns,
                &domain,
                &self.opts.dkim_selectors,
                lang
            ))),
            // These two bound their parts themselves; this is a safety net.
            tokio::time::timeout(
                deadline + Duration::from_secs(1),
                mx::check(&self.dns, &self.tls, &self.opts, &domain)
            ),
            tokio::time::timeout(
                deadline + Duration::from_secs(1),
                transport::check(&self.dns, &self.tls, &self.opts, &domain)
            ),
        );
        let mut checks = Vec::new();
        for (area, result) in [("spf", spf), ("dmarc", dmarc), ("dkim", dkim)] {
            checks.extend(result.unwrap_or_else(|_| vec![late(area)]));
        }
        let mx_facts = match mx {
            Ok((c, facts)) => {
                checks.extend(c);
                facts
            }
            Err(_) => {
                checks.push(late("mx"));
                mx::Facts::default()
            }
        };
        let policy_facts = match policies {
            Ok((c, facts)) => {
                checks.extend(c);
                facts
            }
            // transport::check bounds each of its parts itself.
            Err(_) => transport::Facts::default(),
        };
        let secure_delivery = transport::secure_delivery(&mx_facts, &policy_facts, lang);
        checks.push(Check::new(
            "nta7516-summary",
            if secure_delivery.possible {
                Status::Pass
            } else {
                Status::Info
            },
            secure_delivery.reason.clone(),
        ));
        Ok(Report {
            domain,
            checks,
            secure_delivery,
            elapsed: start.elapsed(),
        })
    }
}

/// What the areas' grading tables share.
#[cfg(test)]
pub(crate) mod graded {
    use crate::{Check, Status};

    /// Each check's id and status, in order.
    pub(crate) fn verdicts(checks: &[Check]) -> Vec<(String, Status)> {
        checks.iter().map(|c| (c.id.clone(), c.status)).collect()
    }

    /// The status of the check `id`, if there is one.
    pub(crate) fn status_of(checks: &[Check], id: &str) -> Option<Status> {
        checks.iter().find(|c| c.id == id).map(|c| c.status)
    }
}
