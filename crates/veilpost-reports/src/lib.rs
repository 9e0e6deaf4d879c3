//! DMARC aggregate and TLS-RPT reports, from the bytes that arrive to the answer a
//! practice needs: who sends as our domain, and is `p=reject` safe?
//!
//! Pure: no I/O, no clock of its own (the caller passes "now").
//!
//! - [`read`] takes what arrived (a report mail, an `.xml`, `.xml.gz`, `.zip`, `.json`
//!   or `.json.gz` file, or a TLS-RPT HTTPS body) and returns every report in it,
//!   unpacked within [`Limits`] (no zip or gzip bomb, no entity expansion, no oversized
//!   XML), parsed by mail-auth's report module and normalised into [`DmarcReport`] rows or
//!   a [`TlsReport`].
//! - [`aside`] (and [`triage`], both at once) says why a parsed report is not counted (a domain we do not serve, a date
//!   range in the future or backwards); duplicates are the store's to find (by
//!   [`Report::key`]).
//! - [`summary::summarise`] turns per-source totals into the sources table and the
//!   `ready_for_reject` verdict.

pub mod dmarc;
pub mod summary;
pub mod tls;
mod unpack;
pub mod view;

pub use dmarc::{DkimAuth, DmarcReport, DmarcRow, SpfAuth};
pub use summary::{Alignment, Source, SourceTotals, Summary, summarise};
pub use tls::{TlsFailure, TlsPolicy, TlsReport};
pub use view::{
    DayPoint, DomainView, ReporterLine, RowFacts, SourceDetail, domain_view, trend_svg,
};

/// How much a report may take. Real reports are kilobytes; a large sender's daily
/// aggregate for a busy domain a few megabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// What arrives, as it arrives (a mail, a file, an HTTP body).
    pub max_input: usize,
    /// One report once unpacked (the XML or the JSON).
    pub max_report: usize,
    /// Files in one zip archive.
    pub max_zip_entries: usize,
    /// Containers inside containers (a zip in a mail is two).
    pub max_depth: usize,
    /// Reports in what arrives.
    pub max_reports: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_input: 16 * 1024 * 1024,
            max_report: 32 * 1024 * 1024,
            max_zip_entries: 16,
            max_depth: 3,
            max_reports: 16,
        }
    }
}

/// Why what arrived gave no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("a zip archive with more than {limit} files")]
    TooManyFiles { limit: usize },
    #[error("containers nested deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("XML with a document type or entity declarations (never in a report)")]
    Declarations,
    #[error("cannot unpack: {0}")]
    Unpack(String),
    #[error("not a DMARC aggregate report: {0}")]
    Dmarc(String),
    #[error("not a TLS report: {0}")]
    Tls(String),
    #[error("no report found")]
    NoReport,
}

/// One report, either kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Report {
    Dmarc(DmarcReport),
    Tlsrpt(TlsReport),
}

impl Report {
    /// What makes a report the same report when it comes twice: the reporter (as it
    /// names itself, case-insensitively) and its report id, plus the domain for DMARC
    /// (one reporter numbers its reports per domain).
    pub fn key(&self) -> String {
        match self {
            Report::Dmarc(r) => format!(
                "dmarc\n{}\n{}\n{}",
                r.reporter.trim().to_lowercase(),
                r.report_id.trim(),
                r.domain
            ),
            Report::Tlsrpt(r) => format!(
                "tlsrpt\n{}\n{}",
                r.organization.trim().to_lowercase(),
                r.report_id.trim()
            ),
        }
    }

    /// The period the report covers, Unix seconds.
    pub fn period(&self) -> (i64, i64) {
        match self {
            Report::Dmarc(r) => (r.begin, r.end),
            Report::Tlsrpt(r) => (r.begin, r.end),
        }
    }

    /// The domains the report is about (the policy's for DMARC, every policy domain for
    /// TLS-RPT), lower-case.
    pub fn domains(&self) -> Vec<String> {
        match self {
            Report::Dmarc(r) => vec![r.domain.clone()],
            Report::Tlsrpt(r) => {
                let mut d: Vec<String> = r.policies.iter().map(|p| p.domain.clone()).collect();
                d.sort();
                d.dedup();
                d
            }
        }
    }

    /// `dmarc` or `tlsrpt`.
    pub fn kind(&self) -> &'static str {
        match self {
            Report::Dmarc(_) => "dmarc",
            Report::Tlsrpt(_) => "tlsrpt",
        }
    }
}

/// Every report in `input`: a report mail (RFC 5322 with the report attached), or a
/// report file (XML, JSON, gzip or zip of either), recognised by content, not by name.
pub fn read(input: &[u8], limits: &Limits) -> Result<Vec<Report>, Error> {
    if input.len() > limits.max_input {
        return Err(Error::TooLarge {
            limit: limits.max_input,
        });
    }
    unpack::reports(input, limits)
}

/// Why a parsed report is kept aside rather than counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aside {
    /// About a domain the organisation does not serve.
    NotOurDomain,
    /// Its period starts in the future or ends well after now.
    FutureDates,
    /// Its period ends before it begins.
    BackwardDates,
    /// The same report (reporter and id) was counted already.
    Duplicate,
    /// The mail it came in does not pass DMARC (a DMARC report) or has no DKIM signature
    /// aligned with its sender (a TLS report).
    Unauthenticated,
}

impl Aside {
    /// The reason as stored and shown (`not_our_domain`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Aside::NotOurDomain => "not_our_domain",
            Aside::FutureDates => "future_dates",
            Aside::BackwardDates => "backward_dates",
            Aside::Duplicate => "duplicate",
            Aside::Unauthenticated => "unauthenticated",
        }
    }
}

/// How far past now a period may end: reporters close the day in their own time zone
/// and clocks drift.
pub const FUTURE_SLACK: i64 = 24 * 3600;

/// What vouches for the reports: the mail they came in (its DMARC result, and whether a
/// DKIM signature aligned with its From passed), or the operator (a file imported by
/// hand) or the transport (RFC 8460's HTTPS, which has no signature to check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vouched {
    pub dmarc_pass: bool,
    pub aligned_dkim: bool,
}

impl Vouched {
    /// Imported by the operator, or posted over HTTPS.
    pub const TRUSTED: Vouched = Vouched {
        dmarc_pass: true,
        aligned_dkim: true,
    };
}

/// Whether `report` is counted or set aside, and why: `served` are the organisation's
/// domains (a report about one of them or a subdomain is ours; an organisation that names
/// none, a trial, takes reports about any), `now` Unix seconds, `vouched` what the report
/// came with: a DMARC report counts only from mail that passes DMARC, a TLS report only
/// from mail with an aligned DKIM signature (RFC 8460 §5.3).
pub fn aside(report: &Report, served: &[String], now: i64, vouched: Vouched) -> Option<Aside> {
    let ours = |d: &str| served.is_empty() || served.iter().any(|s| within(d, s));
    let domains = report.domains();
    if domains.is_empty() || !domains.iter().all(|d| !d.is_empty() && ours(d)) {
        return Some(Aside::NotOurDomain);
    }
    let authentic = match report {
        Report::Dmarc(_) => vouched.dmarc_pass,
        Report::Tlsrpt(_) => vouched.aligned_dkim,
    };
    if !authentic {
        return Some(Aside::Unauthenticated);
    }
    let (begin, end) = report.period();
    if end < begin {
        return Some(Aside::BackwardDates);
    }
    if begin > now || end > now + FUTURE_SLACK {
        return Some(Aside::FutureDates);
    }
    None
}

/// What becomes of one report, or of an input that gave none.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// To be counted (unless the store has it already).
    Count(Report),
    /// Kept aside with the reason.
    Aside(Report, Aside),
    /// The input gave no report: kept aside as `unreadable` with the error.
    Unreadable(Error),
}

/// Read `input` and decide each report in it (see [`read`] and [`aside`]).
pub fn triage(
    input: &[u8],
    limits: &Limits,
    served: &[String],
    now: i64,
    vouched: Vouched,
) -> Vec<Step> {
    match read(input, limits) {
        Ok(reports) => reports
            .into_iter()
            .map(|r| match aside(&r, served, now, vouched) {
                Some(why) => Step::Aside(r, why),
                None => Step::Count(r),
            })
            .collect(),
        Err(e) => vec![Step::Unreadable(e)],
    }
}

/// What became of one report (or of an input that gave none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// The file, the sender or the client it came from.
    pub origin: String,
    /// `counted`, `duplicate` or `aside`.
    pub status: &'static str,
    /// Why it was set aside (`not_our_domain`, `future_dates`, `backward_dates`,
    /// `unauthenticated`, `unreadable`); empty otherwise.
    pub reason: String,
    /// The error of an unreadable input.
    pub detail: String,
    /// `dmarc`, `tlsrpt`, or empty when unreadable.
    pub kind: &'static str,
    pub reporter: String,
    pub report_id: String,
    pub domain: String,
    /// DMARC records, or TLS policies.
    pub rows: usize,
    /// DMARC messages, or TLS sessions.
    pub messages: u64,
}

impl Outcome {
    /// An outcome of `status` (and `reason`) for `report` from `origin`.
    pub fn of(
        origin: &str,
        status: &'static str,
        reason: &str,
        report: Option<&Report>,
    ) -> Outcome {
        let (reporter, report_id, rows, messages) = match report {
            Some(Report::Dmarc(r)) => (
                r.reporter.clone(),
                r.report_id.clone(),
                r.rows.len(),
                r.rows.iter().map(|x| u64::from(x.count)).sum(),
            ),
            Some(Report::Tlsrpt(r)) => (
                r.organization.clone(),
                r.report_id.clone(),
                r.policies.len(),
                r.policies.iter().map(|p| p.successes + p.failures).sum(),
            ),
            None => Default::default(),
        };
        Outcome {
            origin: origin.to_string(),
            status,
            reason: reason.to_string(),
            detail: String::new(),
            kind: report.map_or("", Report::kind),
            reporter,
            report_id,
            domain: report.map(|r| r.domains().join(" ")).unwrap_or_default(),
            rows,
            messages,
        }
    }
}

/// One input's steps, with where it came from and the input itself (kept when set
/// aside).
#[derive(Debug)]
pub struct Taken<'a> {
    pub origin: String,
    pub raw: &'a [u8],
    pub steps: Vec<Step>,
}

pub use veilpost_policy::domain::normalize_domain;
/// A domain as compared: the project's one spelling (trimmed, no trailing dot, IDNA's
/// ASCII form, lower case).
pub(crate) use veilpost_policy::domain::{normalize_domain as domain, within};

#[cfg(test)]
mod tests {
    use super::*;

    fn dmarc(domain: &str, begin: i64, end: i64) -> Report {
        Report::Dmarc(DmarcReport {
            domain: domain.into(),
            begin,
            end,
            ..DmarcReport::default()
        })
    }

    #[test]
    fn aside_reasons_table() {
        let served = vec!["praktijk.nl".to_string(), "Zorg.example.".to_string()];
        let now = 1_800_000_000;
        let day = 86_400;
        let cases: &[(Report, Option<Aside>)] = &[
            (dmarc("praktijk.nl", now - day, now), None),
            (dmarc("mail.praktijk.nl", now - day, now), None),
            (dmarc("zorg.example", now - day, now), None),
            // A suffix without the dot is another domain.
            (
                dmarc("nepraktijk.nl", now - day, now),
                Some(Aside::NotOurDomain),
            ),
            (
                dmarc("example.com", now - day, now),
                Some(Aside::NotOurDomain),
            ),
            (dmarc("", now - day, now), Some(Aside::NotOurDomain)),
            (
                dmarc("praktijk.nl", now, now - day),
                Some(Aside::BackwardDates),
            ),
            (
                dmarc("praktijk.nl", now + 60, now + day),
                Some(Aside::FutureDates),
            ),
            // A day that closes later in the reporter's time zone is fine.
            (dmarc("praktijk.nl", now - 3600, now + 12 * 3600), None),
            (
                dmarc("praktijk.nl", now - day, now + 2 * day),
                Some(Aside::FutureDates),
            ),
        ];
        for (report, want) in cases {
            assert_eq!(
                aside(report, &served, now, Vouched::TRUSTED),
                *want,
                "{report:?}"
            );
        }
    }

    #[test]
    fn a_tls_report_is_ours_only_when_every_policy_domain_is() {
        let tls = |domains: &[&str]| {
            Report::Tlsrpt(TlsReport {
                begin: 0,
                end: 10,
                policies: domains
                    .iter()
                    .map(|d| TlsPolicy {
                        domain: d.to_string(),
                        ..TlsPolicy::default()
                    })
                    .collect(),
                ..TlsReport::default()
            })
        };
        let served = vec!["praktijk.nl".to_string()];
        assert_eq!(
            aside(&tls(&["praktijk.nl"]), &served, 100, Vouched::TRUSTED),
            None
        );
        assert_eq!(
            aside(
                &tls(&["praktijk.nl", "other.example"]),
                &served,
                100,
                Vouched::TRUSTED
            ),
            Some(Aside::NotOurDomain)
        );
        assert_eq!(
            aside(&tls(&[]), &served, 100, Vouched::TRUSTED),
            Some(Aside::NotOurDomain)
        );
    }

    #[test]
    fn what_the_mail_vouches_for_table() {
        let served = vec!["praktijk.nl".to_string()];
        let d = dmarc("praktijk.nl", 0, 10);
        let t = Report::Tlsrpt(TlsReport {
            begin: 0,
            end: 10,
            policies: vec![TlsPolicy {
                domain: "praktijk.nl".into(),
                ..TlsPolicy::default()
            }],
            ..TlsReport::default()
        });
        let v = |dmarc_pass, aligned_dkim| Vouched {
            dmarc_pass,
            aligned_dkim,
        };
        let cases = [
            (&d, v(true, false), None),
            (&d, v(false, true), Some(Aside::Unauthenticated)),
            (&t, v(false, true), None),
            (&t, v(true, false), Some(Aside::Unauthenticated)),
        ];
        for (report, vouched, want) in cases {
            assert_eq!(aside(report, &served, 100, vouched), want, "{vouched:?}");
        }
        // No domains named (a trial): any domain is ours, an empty one never.
        assert_eq!(aside(&d, &[], 100, Vouched::TRUSTED), None);
        assert_eq!(
            aside(&dmarc("", 0, 10), &[], 100, Vouched::TRUSTED),
            Some(Aside::NotOurDomain)
        );
    }

    #[test]
    fn triage_reads_and_decides() {
        let xml = "<feedback><report_metadata><org_name>r</org_name><report_id>1</report_id>\
            <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
            <policy_published><domain>other.example</domain></policy_published></feedback>";
        let served = vec!["praktijk.nl".to_string()];
        let steps = triage(
            xml.as_bytes(),
            &Limits::default(),
            &served,
            100,
            Vouched::TRUSTED,
        );
        assert!(matches!(&steps[..], [Step::Aside(_, Aside::NotOurDomain)]));
        let steps = triage(b"junk", &Limits::default(), &served, 100, Vouched::TRUSTED);
        assert_eq!(steps, [Step::Unreadable(Error::NoReport)]);
    }

    #[test]
    fn the_key_ignores_case_of_the_reporter_only() {
        let a = Report::Dmarc(DmarcReport {
            reporter: "Google.com".into(),
            report_id: "ABC".into(),
            domain: "praktijk.nl".into(),
            ..DmarcReport::default()
        });
        let b = Report::Dmarc(DmarcReport {
            reporter: "google.com ".into(),
            report_id: "ABC".into(),
            domain: "praktijk.nl".into(),
            ..DmarcReport::default()
        });
        let c = Report::Dmarc(DmarcReport {
            reporter: "google.com".into(),
            report_id: "abc".into(),
            domain: "praktijk.nl".into(),
            ..DmarcReport::default()
        });
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
    }
}
