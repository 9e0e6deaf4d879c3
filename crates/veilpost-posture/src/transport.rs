//! Domain-level policies: DNSSEC on the mail domain, MTA-STS (record and HTTPS policy),
//! TLS-RPT, the NTA 7516 announcement, and the summary: can the domain receive sensitive
//! mail directly over authenticated TLS?

use hickory_proto::rr::RecordType;
use veilpost_dns::{Proof, ValidatedError};
use veilpost_senderauth::spf::Answer;

use crate::dns::Dns;
use crate::mx;
use crate::text::{Lang, dns_error, say};
use crate::tls::{ProbeError, Prober};
use crate::{Check, Options, SecureDelivery, Status};

/// RFC 8461 §3.3: policies are at most 64 KiB.
const MAX_POLICY: usize = 64 * 1024;

/// What the summary needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    /// A valid MTA-STS policy: its mode and MX patterns.
    pub(crate) mta_sts: Option<(String, Vec<String>)>,
}

/// A parsed MTA-STS policy file (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicy {
    pub mode: String,
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// What is wrong with an MTA-STS policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsPolicyError {
    LineWithoutColon(String),
    BadMaxAge(String),
    NoVersion,
    NoMode,
    UnknownMode(String),
    NoMaxAge,
    MaxAgeTooLarge(u64),
    NoMx,
}

impl std::fmt::Display for StsPolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StsPolicyError::LineWithoutColon(line) => write!(f, "line without ':': {line:?}"),
            StsPolicyError::BadMaxAge(v) => write!(f, "bad max_age {v:?}"),
            StsPolicyError::NoVersion => f.write_str("version: STSv1 missing"),
            StsPolicyError::NoMode => f.write_str("mode missing"),
            StsPolicyError::UnknownMode(m) => write!(f, "unknown mode {m:?}"),
            StsPolicyError::NoMaxAge => f.write_str("max_age missing"),
            StsPolicyError::MaxAgeTooLarge(n) => {
                write!(f, "max_age {n} above the maximum 31557600")
            }
            StsPolicyError::NoMx => f.write_str("no mx: lines"),
        }
    }
}

impl std::error::Error for StsPolicyError {}

/// What is wrong with an NTA 7516 record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtaError {
    NotNta,
    BadDate { tag: &'static str, value: String },
    NoMx,
}

impl std::fmt::Display for NtaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NtaError::NotNta => f.write_str("not an NTA 7516 record"),
            NtaError::BadDate { tag, value } => write!(f, "bad {tag} {value:?}"),
            NtaError::NoMx => f.write_str("no ntamx="),
        }
    }
}

impl std::error::Error for NtaError {}

/// Why what a domain publishes for delivery (its MTA-STS policy, its NTA 7516
/// announcement) could not be read.
#[derive(Debug)]
pub enum PublishedError {
    /// A DNS look-up failed (temporarily).
    Dns(String),
    SeveralStsRecords,
    NoStsId,
    NoPolicyHost(String),
    Fetch(ProbeError),
    Http(u16),
    Policy(StsPolicyError),
}

impl std::fmt::Display for PublishedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishedError::Dns(e) => f.write_str(e),
            PublishedError::SeveralStsRecords => f.write_str("several MTA-STS records"),
            PublishedError::NoStsId => f.write_str("MTA-STS record without a valid id"),
            PublishedError::NoPolicyHost(host) => write!(f, "{host} does not exist"),
            PublishedError::Fetch(e) => e.fmt(f),
            PublishedError::Http(status) => write!(f, "policy fetch returned HTTP {status}"),
            PublishedError::Policy(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PublishedError {}

/// Parse an MTA-STS policy file.
pub fn parse_sts_policy(text: &str) -> Result<StsPolicy, StsPolicyError> {
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| StsPolicyError::LineWithoutColon(line.to_string()))?;
        let v = v.trim();
        match k.trim() {
            "version" => version = Some(v.to_string()),
            "mode" => mode = Some(v.to_string()),
            "max_age" => {
                max_age = Some(
                    v.parse::<u64>()
                        .map_err(|_| StsPolicyError::BadMaxAge(v.to_string()))?,
                );
            }
            "mx" => mx.push(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err(StsPolicyError::NoVersion);
    }
    let mode = mode.ok_or(StsPolicyError::NoMode)?;
    if !matches!(mode.as_str(), "enforce" | "testing" | "none") {
        return Err(StsPolicyError::UnknownMode(mode));
    }
    let max_age = max_age.ok_or(StsPolicyError::NoMaxAge)?;
    if max_age > 31_557_600 {
        return Err(StsPolicyError::MaxAgeTooLarge(max_age));
    }
    if mode != "none" && mx.is_empty() {
        return Err(StsPolicyError::NoMx);
    }
    Ok(StsPolicy { mode, mx, max_age })
}

/// Does MX host `host` match policy pattern `pattern` (`*.` matches one leftmost label)?
/// Does an MTA-STS `mx:` pattern (`mx.example.nl`, `*.example.nl`) cover `host`?
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.trim_end_matches('.'), host.trim_end_matches('.'));
    match p.strip_prefix("*.") {
        Some(rest) => h
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail.eq_ignore_ascii_case(rest)),
        None => p.eq_ignore_ascii_case(h),
    }
}

/// The tags of a `k=v; k=v` record, names lower-cased.
fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// The TXT records at `name` that start with `prefix`; the look-up's error text when it
/// failed temporarily.
async fn records_with_prefix(
    dns: &Dns,
    name: &str,
    prefix: &str,
) -> Result<Vec<String>, PublishedError> {
    match dns.txt(name).await {
        Answer::Records(t) => Ok(t
            .into_iter()
            .filter(|r| {
                r.trim_start()
                    .to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
            })
            .collect()),
        Answer::Empty => Ok(Vec::new()),
        Answer::TempError(e) => Err(PublishedError::Dns(e)),
    }
}

pub(crate) async fn check(
    dns: &Dns,
    prober: &Prober,
    opts: &Options,
    domain: &str,
) -> (Vec<Check>, Facts) {
    let lang = opts.lang;
    let bounded = |f| tokio::time::timeout(opts.deadline, f);
    let late = |area: &str| {
        vec![Check::new(
            format!("{area}-deadline"),
            Status::Fail,
            crate::text::deadline(lang, opts.deadline),
        )]
    };
    let (dnssec, sts, rpt, nta) = tokio::join!(
        bounded(Box::pin(dnssec(dns, domain, lang))
            as std::pin::Pin<
                Box<dyn Future<Output = Vec<Check>> + Send + '_>,
            >),
        tokio::time::timeout(opts.deadline, mta_sts(dns, prober, domain, lang)),
        bounded(Box::pin(tls_rpt(
            dns,
            domain,
            opts.tlsrpt_report_address.as_deref(),
            lang
        ))),
        bounded(Box::pin(nta7516(dns, domain, lang))),
    );
    let mut out = dnssec.unwrap_or_else(|_| late("dnssec"));
    let facts = match sts {
        Ok((sts_checks, facts)) => {
            out.extend(sts_checks);
            facts
        }
        Err(_) => {
            out.extend(late("mta-sts"));
            Facts::default()
        }
    };
    out.extend(rpt.unwrap_or_else(|_| late("tls-rpt")));
    out.extend(nta.unwrap_or_else(|_| late("nta7516")));
    (out, facts)
}

async fn dnssec(dns: &Dns, domain: &str, lang: Lang) -> Vec<Check> {
    let mut last = None;
    for rtype in [
        RecordType::SOA,
        RecordType::MX,
        RecordType::A,
        RecordType::TXT,
    ] {
        match dns.proof(domain, rtype).await {
            Ok(Proof::Secure) => {
                return vec![Check::new(
                    "dnssec-domain",
                    Status::Pass,
                    say!(
                        lang,
                        "{} is met DNSSEC ondertekend en gevalideerd.",
                        "{} is DNSSEC-signed and validates.",
                        domain
                    ),
                )];
            }
            Ok(p) => {
                last = Some(Ok(p));
                break;
            }
            Err(ValidatedError::NoRecords) => continue,
            Err(e) => {
                last = Some(Err(e));
                break;
            }
        }
    }
    let why = crate::text::dnssec_reason(lang, &last.unwrap_or(Err(ValidatedError::NoRecords)));
    vec![Check::new("dnssec-domain", Status::Fail, say!(lang, "{} is niet met DNSSEC beveiligd: {}.", "{} is not protected by DNSSEC: {}.", domain, why))
        .advice(say!(lang, "Zet DNSSEC aan bij uw DNS-leverancier en laat de DS-record bij het .nl-register publiceren.", "Enable DNSSEC at your DNS provider and have the DS record published at the registry."))]
}

/// What the DNS and the policy host say about a domain's MTA-STS: gathered once, graded
/// by [`grade_mta_sts`] (pure).
struct StsFound {
    /// The `_mta-sts` TXT records starting `v=STSv1`, or why the look-up failed.
    records: Result<Vec<String>, PublishedError>,
    /// The domain's MX hosts (the set the policy must cover).
    mx_hosts: Vec<String>,
    /// The policy fetch, made only for exactly one record with a valid id.
    fetch: Option<StsFetch>,
    /// A new policy id to advise (today's date).
    fresh_id: String,
}

/// Fetching `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`.
enum StsFetch {
    /// `mta-sts.DOMAIN` has no address.
    NoAddress,
    Failed(ProbeError),
    /// The HTTP status, content type and body.
    Answered(u16, String, Vec<u8>),
}

/// An `id=` of 1 to 32 letters and digits (RFC 8461 §3.1).
fn sts_record_id_ok(record: &str) -> bool {
    tags(record).iter().any(|(k, v)| {
        k == "id" && !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

async fn mta_sts(dns: &Dns, prober: &Prober, domain: &str, lang: Lang) -> (Vec<Check>, Facts) {
    let found = gather_mta_sts(dns, prober, domain).await;
    grade_mta_sts(domain, &found, lang)
}

async fn gather_mta_sts(dns: &Dns, prober: &Prober, domain: &str) -> StsFound {
    let mut found = StsFound {
        records: records_with_prefix(dns, &format!("_mta-sts.{domain}"), "v=STSv1").await,
        mx_hosts: Vec::new(),
        fetch: None,
        fresh_id: fresh_sts_id(),
    };
    let Ok(records) = &found.records else {
        return found;
    };
    found.mx_hosts = match dns.mx(domain).await {
        Answer::Records(m) => m
            .into_iter()
            .map(|(_, h)| h)
            .filter(|h| !h.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    if let [one] = records.as_slice()
        && sts_record_id_ok(one)
    {
        let host = format!("mta-sts.{domain}");
        found.fetch = Some(match dns.addresses(&host).await {
            Answer::Records(a) => match prober
                .https_get(&host, a[0], "/.well-known/mta-sts.txt", MAX_POLICY)
                .await
            {
                Ok((status, content_type, body)) => StsFetch::Answered(status, content_type, body),
                Err(e) => StsFetch::Failed(e),
            },
            _ => StsFetch::NoAddress,
        });
    }
    found
}

/// The verdicts on what [`gather_mta_sts`] found, and the policy delivery may rely on.
fn grade_mta_sts(domain: &str, found: &StsFound, lang: Lang) -> (Vec<Check>, Facts) {
    let mut out = Vec::new();
    let name = format!("_mta-sts.{domain}");
    let records = match &found.records {
        Ok(r) => r,
        Err(e) => {
            out.push(Check::new(
                "mta-sts-record",
                Status::Warn,
                dns_error(lang, &name, &e.to_string()),
            ));
            return (out, Facts::default());
        }
    };
    let mx_lines = if found.mx_hosts.is_empty() {
        say!(lang, "uw `mx:`-regels", "your `mx:` lines")
    } else {
        found
            .mx_hosts
            .iter()
            .map(|h| format!("`mx: {h}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let advice = say!(
        lang,
        "Publiceer `{}. TXT \"v=STSv1; id={}\"` en https://mta-sts.{}/.well-known/mta-sts.txt met `version: STSv1`, `mode: enforce`, {} en `max_age: 604800` — of gebruik DANE.",
        "Publish `{}. TXT \"v=STSv1; id={}\"` and https://mta-sts.{}/.well-known/mta-sts.txt with `version: STSv1`, `mode: enforce`, {} and `max_age: 604800` — or use DANE.",
        name,
        found.fresh_id,
        domain,
        mx_lines
    );
    let record_check = match records.as_slice() {
        [] => Check::new(
            "mta-sts-record",
            Status::Info,
            say!(lang, "Geen MTA-STS-record.", "No MTA-STS record."),
        ),
        [one] if !sts_record_id_ok(one) => Check::new(
            "mta-sts-record",
            Status::Fail,
            say!(
                lang,
                "MTA-STS-record zonder geldig id= (1 tot 32 letters/cijfers): {}",
                "MTA-STS record without a valid id= (1 to 32 letters/digits): {}",
                one
            ),
        ),
        [one] => Check::new("mta-sts-record", Status::Pass, one.clone()),
        many => Check::new(
            "mta-sts-record",
            Status::Fail,
            say!(
                lang,
                "{} MTA-STS-records; er mag er één zijn.",
                "{} MTA-STS records; there must be one.",
                many.len()
            ),
        ),
    };
    let Some(fetch) = &found.fetch else {
        out.push(record_check.advice(advice));
        return (out, Facts::default());
    };
    out.push(record_check);
    let policy = match policy_fetched(domain, fetch, lang, &mut out) {
        Ok(p) => p,
        Err(check) => {
            out.push(check.advice(advice));
            return (out, Facts::default());
        }
    };
    let (check, facts) = grade_policy(domain, &name, &policy, found, lang);
    out.push(if check.status != Status::Pass && check.advice.is_none() {
        check.advice(advice)
    } else {
        check
    });
    (out, facts)
}

/// The policy from the fetch, or the failing check (a content-type warning goes to `out`).
fn policy_fetched(
    domain: &str,
    fetch: &StsFetch,
    lang: Lang,
    out: &mut Vec<Check>,
) -> Result<StsPolicy, Check> {
    let host = format!("mta-sts.{domain}");
    let fail = |detail| Check::new("mta-sts-policy", Status::Fail, detail);
    match fetch {
        StsFetch::NoAddress => Err(fail(say!(
            lang,
            "{} bestaat niet in DNS: het beleid is niet op te halen.",
            "{} does not exist in DNS: the policy cannot be fetched.",
            host
        ))),
        StsFetch::Failed(e) => Err(fail(say!(
            lang,
            "Beleid niet op te halen van https://{}/.well-known/mta-sts.txt: {}.",
            "Cannot fetch the policy from https://{}/.well-known/mta-sts.txt: {}.",
            host,
            e
        ))),
        StsFetch::Answered(status, _, _) if *status != 200 => Err(fail(say!(
            lang,
            "Het beleid gaf HTTP {} (redirects worden niet gevolgd, RFC 8461).",
            "The policy returned HTTP {} (redirects are not followed, RFC 8461).",
            status
        ))),
        StsFetch::Answered(_, content_type, body) => {
            if !content_type.starts_with("text/plain") {
                out.push(Check::new(
                    "mta-sts-content-type",
                    Status::Warn,
                    say!(
                        lang,
                        "Content-Type is {:?}; RFC 8461 vraagt text/plain.",
                        "Content-Type is {:?}; RFC 8461 asks for text/plain.",
                        content_type
                    ),
                ));
            }
            parse_sts_policy(&String::from_utf8_lossy(body)).map_err(|e| {
                fail(say!(
                    lang,
                    "Ongeldig MTA-STS-beleid: {}.",
                    "Invalid MTA-STS policy: {}.",
                    e
                ))
            })
        }
    }
}

/// A fetched policy against the MX set: mode, coverage, max_age.
fn grade_policy(
    domain: &str,
    name: &str,
    policy: &StsPolicy,
    found: &StsFound,
    lang: Lang,
) -> (Check, Facts) {
    let mut facts = Facts::default();
    let mut status = match policy.mode.as_str() {
        "enforce" => Status::Pass,
        _ => Status::Warn,
    };
    let mut detail = format!(
        "mode: {}, max_age: {}, mx: {}",
        policy.mode,
        policy.max_age,
        policy.mx.join(", ")
    );
    // The MX set must match the policy, or senders in enforce mode refuse to deliver.
    let uncovered: Vec<&str> = found
        .mx_hosts
        .iter()
        .filter(|h| !policy.mx.iter().any(|p| mx_matches(p, h)))
        .map(|h| h.as_str())
        .collect();
    if !uncovered.is_empty() {
        status = Status::Fail;
        detail.push_str(&say!(
            lang,
            "; MX niet in het beleid: {}",
            "; MX not in the policy: {}",
            uncovered.join(", ")
        ));
    }
    if policy.max_age < 86_400 {
        status = status.max(Status::Warn);
        detail.push_str(&say!(
            lang,
            "; max_age korter dan een dag",
            "; max_age shorter than a day"
        ));
    }
    let mut check = Check::new("mta-sts-policy", status, detail);
    if status == Status::Warn && policy.mode != "enforce" && uncovered.is_empty() {
        check = check.advice(say!(
            lang,
            "Zet `mode: enforce` in https://mta-sts.{}/.well-known/mta-sts.txt zodra de TLS-rapporten geen fouten meer tonen, en verander dan het id in {} (bijvoorbeeld id={}).",
            "Set `mode: enforce` in https://mta-sts.{}/.well-known/mta-sts.txt once the TLS reports show no failures, then change the id in {} (for example id={}).",
            domain,
            name,
            found.fresh_id
        ));
    } else if status == Status::Pass {
        facts.mta_sts = Some((policy.mode.clone(), policy.mx.clone()));
    }
    if policy.mode == "enforce" && uncovered.is_empty() {
        facts.mta_sts = Some((policy.mode.clone(), policy.mx.clone()));
    }
    (check, facts)
}

async fn tls_rpt(dns: &Dns, domain: &str, rua: Option<&str>, lang: Lang) -> Vec<Check> {
    let name = format!("_smtp._tls.{domain}");
    // Where Veilpost reads TLS reports: `reports.tlsrpt_address`, else `tls-rpt@` the
    // domain (RFC 8460 asks no authorisation of another domain).
    let rua = match rua.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => a.to_ascii_lowercase(),
        None => format!("tls-rpt@{domain}"),
    };
    let advice = say!(
        lang,
        "Publiceer `{}. TXT \"v=TLSRPTv1; rua=mailto:{}\"`: daar leest Veilpost de rapporten.",
        "Publish `{}. TXT \"v=TLSRPTv1; rua=mailto:{}\"`: Veilpost reads the reports there.",
        name,
        rua
    );
    match records_with_prefix(dns, &name, "v=TLSRPTv1").await {
        Err(e) => vec![Check::new("tls-rpt-record", Status::Warn, dns_error(lang, &name, &e.to_string()))],
        Ok(r) if r.is_empty() => vec![Check::new("tls-rpt-record", Status::Info, say!(lang, "Geen TLS-RPT-record: u hoort niet wanneer verzenders geen beveiligde verbinding krijgen.", "No TLS-RPT record: you do not hear when senders fail to get a secure connection.")).advice(advice)],
        Ok(r) if r.len() > 1 => vec![Check::new("tls-rpt-record", Status::Fail, say!(lang, "{} TLS-RPT-records; er mag er één zijn.", "{} TLS-RPT records; there must be one.", r.len())).advice(advice)],
        Ok(r) => {
            let t = tags(&r[0]);
            let version_ok = t.first().is_some_and(|(k, v)| k == "v" && v == "TLSRPTv1");
            let rua: Vec<&str> = t.iter().filter(|(k, _)| k == "rua").flat_map(|(_, v)| v.split(',')).map(str::trim).collect();
            let rua_ok = !rua.is_empty()
                && rua.iter().all(|u| {
                    let l = u.to_ascii_lowercase();
                    (l.starts_with("mailto:") && l.contains('@')) || l.starts_with("https://")
                });
            if version_ok && rua_ok {
                vec![Check::new("tls-rpt-record", Status::Pass, r[0].clone())]
            } else {
                vec![Check::new("tls-rpt-record", Status::Fail, say!(lang, "Ongeldig TLS-RPT-record (v=TLSRPTv1 eerst, rua= met mailto: of https:): {}", "Invalid TLS-RPT record (v=TLSRPTv1 first, rua= with mailto: or https:): {}", r[0])).advice(advice)]
            }
        }
    }
}

/// An NTA 7516 announcement: provider, period and the NTA MX hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtaRecord {
    pub provider: Option<String>,
    /// (year, month) the announcement starts and ends.
    pub start: Option<(u32, u32)>,
    pub end: Option<(u32, u32)>,
    /// `ntamx` entries: (preference, host), or hosts.
    pub mx: Vec<String>,
}

/// `YYYY-MM`, `YYYYMM` or `YYYY-MM-DD`.
fn year_month(v: &str) -> Option<(u32, u32)> {
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return None;
    }
    let y = digits[..4].parse().ok()?;
    let m = digits[4..6].parse().ok()?;
    (1..=12).contains(&m).then_some((y, m))
}

/// Both syntaxes seen in the wild: `;`-separated tags, or tags separated by spaces.
impl NtaRecord {
    /// Inside its announced period this month?
    pub fn current(&self) -> bool {
        let now = current_year_month();
        self.end.is_none_or(|e| e >= now) && self.start.is_none_or(|s| s <= now)
    }

    /// The NTA MX hosts, lowest preference first.
    pub fn hosts(&self) -> Vec<String> {
        let mut v: Vec<(u32, String)> = self
            .mx
            .iter()
            .map(|m| match m.split_once(' ') {
                Some((p, h)) => (p.parse().unwrap_or(u32::MAX), h.to_string()),
                None => (0, m.clone()),
            })
            .map(|(p, h)| (p, h.trim_end_matches('.').to_ascii_lowercase()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, h)| h).collect()
    }
}

/// The MTA-STS policy `domain` publishes now: the TXT record's id and the fetched
/// policy; `Ok(None)` without a record.
pub(crate) async fn current_sts_policy(
    dns: &Dns,
    prober: &Prober,
    domain: &str,
) -> Result<Option<(String, StsPolicy)>, PublishedError> {
    let records = records_with_prefix(dns, &format!("_mta-sts.{domain}"), "v=STSv1").await?;
    let [record] = records.as_slice() else {
        return if records.is_empty() {
            Ok(None)
        } else {
            Err(PublishedError::SeveralStsRecords)
        };
    };
    let id = tags(record)
        .into_iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or(PublishedError::NoStsId)?;
    let host = format!("mta-sts.{domain}");
    let ip = match dns.addresses(&host).await {
        Answer::Records(a) => a[0],
        Answer::Empty => return Err(PublishedError::NoPolicyHost(host)),
        Answer::TempError(e) => return Err(PublishedError::Dns(e)),
    };
    let (status, _, body) = prober
        .https_get(&host, ip, "/.well-known/mta-sts.txt", MAX_POLICY)
        .await
        .map_err(PublishedError::Fetch)?;
    if status != 200 {
        return Err(PublishedError::Http(status));
    }
    let policy =
        parse_sts_policy(&String::from_utf8_lossy(&body)).map_err(PublishedError::Policy)?;
    Ok(Some((id, policy)))
}

/// The current NTA 7516 announcement of `domain`, if any.
pub(crate) async fn current_nta(
    dns: &Dns,
    domain: &str,
) -> Result<Option<NtaRecord>, PublishedError> {
    let records = records_with_prefix(dns, domain, "v=NTA7516-1").await?;
    Ok(records
        .iter()
        .filter_map(|r| parse_nta(r).ok())
        .find(NtaRecord::current))
}

/// Parse a `v=NTA7516-1` record (both published syntaxes).
pub fn parse_nta(record: &str) -> Result<NtaRecord, NtaError> {
    let first = record.trim_start();
    if !first.to_ascii_lowercase().starts_with("v=nta7516-1") {
        return Err(NtaError::NotNta);
    }
    let parts: Vec<&str> = if record.contains(';') {
        record.split(';').collect()
    } else {
        record.split_whitespace().collect()
    };
    let mut rec = NtaRecord {
        provider: None,
        start: None,
        end: None,
        mx: Vec::new(),
    };
    let mut pending_mx: Option<String> = None;
    for part in parts {
        let part = part.trim();
        let Some((k, v)) = part.split_once('=') else {
            // Space-separated syntax: `ntamx=10 mx.host` splits into two parts.
            if let Some(prio) = pending_mx.take() {
                rec.mx.push(format!("{prio} {part}"));
            }
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "startdate" => {
                rec.start = Some(year_month(v).ok_or_else(|| NtaError::BadDate {
                    tag: "startdate",
                    value: v.to_string(),
                })?);
            }
            "enddate" => {
                rec.end = Some(year_month(v).ok_or_else(|| NtaError::BadDate {
                    tag: "enddate",
                    value: v.to_string(),
                })?);
            }
            "provider" => rec.provider = Some(v.to_string()),
            "ntamx" => {
                if v.contains(char::is_whitespace) {
                    rec.mx
                        .push(v.split_whitespace().collect::<Vec<_>>().join(" "));
                } else if v.chars().all(|c| c.is_ascii_digit()) {
                    pending_mx = Some(v.to_string());
                } else {
                    rec.mx.push(v.to_string());
                }
            }
            _ => {}
        }
    }
    if rec.mx.is_empty() {
        return Err(NtaError::NoMx);
    }
    Ok(rec)
}

fn current_year_month() -> (u32, u32) {
    let (y, m, _) = today();
    (y, m)
}

/// Today's (year, month, day), UTC.
fn today() -> (u32, u32, u32) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_from_days((secs / 86_400) as i64)
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as u32, m as u32, d as u32)
}

/// A fresh MTA-STS policy id: today's date and a counter.
fn fresh_sts_id() -> String {
    let (y, m, d) = today();
    format!("{y:04}{m:02}{d:02}01")
}

async fn nta7516(dns: &Dns, domain: &str, lang: Lang) -> Vec<Check> {
    match records_with_prefix(dns, domain, "v=NTA7516-1").await {
        Err(e) => vec![Check::new(
            "nta7516-record",
            Status::Warn,
            dns_error(lang, domain, &e.to_string()),
        )],
        Ok(r) if r.is_empty() => vec![Check::new(
            "nta7516-record",
            Status::Info,
            say!(
                lang,
                "Geen NTA 7516-record: het domein kondigt geen veilige-mailontvangst via een NTA 7516-leverancier aan.",
                "No NTA 7516 record: the domain announces no secure-mail reception through an NTA 7516 provider."
            ),
        )],
        Ok(r) => r
            .iter()
            .map(|rec| match parse_nta(rec) {
                Ok(n) => {
                    let now = current_year_month();
                    let expired = n.end.is_some_and(|e| e < now);
                    let not_yet = n.start.is_some_and(|s| s > now);
                    let detail = say!(
                        lang,
                        "Leverancier {}, NTA-MX {}{}",
                        "Provider {}, NTA MX {}{}",
                        n.provider.clone().unwrap_or_else(|| "?".into()),
                        n.mx.join(", "),
                        match (n.start, n.end) {
                            (Some(s), Some(e)) =>
                                format!(", {:04}-{:02} – {:04}-{:02}", s.0, s.1, e.0, e.1),
                            _ => String::new(),
                        }
                    );
                    if expired || not_yet {
                        Check::new(
                            "nta7516-record",
                            Status::Warn,
                            say!(
                                lang,
                                "{} — buiten de geldigheidsperiode.",
                                "{} — outside its validity period.",
                                detail
                            ),
                        )
                    } else {
                        Check::new("nta7516-record", Status::Pass, detail)
                    }
                }
                Err(e) => Check::new(
                    "nta7516-record",
                    Status::Fail,
                    say!(
                        lang,
                        "Ongeldig NTA 7516-record ({}): {}",
                        "Invalid NTA 7516 record ({}): {}",
                        e,
                        rec
                    ),
                ),
            })
            .collect(),
    }
}

pub(crate) fn secure_delivery(mx: &mx::Facts, policy: &Facts, lang: Lang) -> SecureDelivery {
    if mx.null_mx || mx.hosts.is_empty() {
        return SecureDelivery {
            possible: false,
            reason: say!(
                lang,
                "Nee: het domein ontvangt geen mail (of heeft geen MX).",
                "No: the domain receives no mail (or has no MX)."
            ),
        };
    }
    let mut why_not = Vec::new();
    for h in &mx.hosts {
        let by_sts = policy.mta_sts.as_ref().is_some_and(|(mode, patterns)| {
            mode == "enforce" && patterns.iter().any(|p| mx_matches(p, &h.name)) && h.pkix_tls
        });
        if !(h.dane || by_sts) {
            why_not.push(h.name.clone());
        }
    }
    if why_not.is_empty() {
        let how = if mx.hosts.iter().all(|h| h.dane) {
            "DANE"
        } else {
            "DANE/MTA-STS (enforce)"
        };
        SecureDelivery {
            possible: true,
            reason: say!(
                lang,
                "Ja: elke MX is beschermd met {}; gevoelige mail kan direct over geauthenticeerde TLS.",
                "Yes: every MX is protected by {}; sensitive mail can go directly over authenticated TLS.",
                how
            ),
        }
    } else {
        SecureDelivery {
            possible: false,
            reason: say!(
                lang,
                "Nee: {} heeft geen geldige DANE en valt niet onder MTA-STS in enforce-modus met een geldig certificaat; gevoelige mail gaat via het portaal.",
                "No: {} has no valid DANE and is not covered by MTA-STS in enforce mode with a valid certificate; sensitive mail goes through the portal.",
                why_not.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx.zorg.test\nmax_age: 604800\n";

    fn found(records: Result<&[&str], &str>, fetch: Option<StsFetch>) -> StsFound {
        StsFound {
            records: records
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .map_err(|e| PublishedError::Dns(e.to_string())),
            mx_hosts: vec!["mx.zorg.test".into()],
            fetch,
            fresh_id: "2026120201".into(),
        }
    }

    fn answered(content_type: &str, body: &str) -> Option<StsFetch> {
        Some(StsFetch::Answered(
            200,
            content_type.into(),
            body.as_bytes().to_vec(),
        ))
    }

    use crate::graded::status_of;

    #[test]
    fn mta_sts_grading_table() {
        use Status::{Fail, Info, Pass, Warn};
        let one: &[&str] = &["v=STSv1; id=2026010101"];
        let testing = POLICY.replace("enforce", "testing");
        let other_mx = POLICY.replace("mx.zorg.test", "mx.elders.test");
        let short = POLICY.replace("604800", "3600");
        for (f, id, want, relied_on) in [
            (found(Err("timeout"), None), "mta-sts-record", Warn, false),
            (found(Ok(&[]), None), "mta-sts-record", Info, false),
            (
                found(Ok(&["v=STSv1; id=no-dashes!"]), None),
                "mta-sts-record",
                Fail,
                false,
            ),
            (
                found(Ok(&["v=STSv1; id=1", "v=STSv1; id=2"]), None),
                "mta-sts-record",
                Fail,
                false,
            ),
            (
                found(Ok(one), Some(StsFetch::NoAddress)),
                "mta-sts-policy",
                Fail,
                false,
            ),
            (
                found(Ok(one), Some(StsFetch::Failed(ProbeError::Closed))),
                "mta-sts-policy",
                Fail,
                false,
            ),
            (
                found(
                    Ok(one),
                    Some(StsFetch::Answered(301, String::new(), Vec::new())),
                ),
                "mta-sts-policy",
                Fail,
                false,
            ),
            (
                found(Ok(one), answered("text/plain", "mode: enforce")),
                "mta-sts-policy",
                Fail,
                false,
            ),
            (
                found(Ok(one), answered("text/plain", POLICY)),
                "mta-sts-policy",
                Pass,
                true,
            ),
            (
                found(Ok(one), answered("text/plain", POLICY)),
                "mta-sts-record",
                Pass,
                true,
            ),
            (
                found(Ok(one), answered("text/html", POLICY)),
                "mta-sts-content-type",
                Warn,
                true,
            ),
            (
                found(Ok(one), answered("text/plain", &testing)),
                "mta-sts-policy",
                Warn,
                false,
            ),
            (
                found(Ok(one), answered("text/plain", &other_mx)),
                "mta-sts-policy",
                Fail,
                false,
            ),
            (
                found(Ok(one), answered("text/plain", &short)),
                "mta-sts-policy",
                Warn,
                true,
            ),
        ] {
            let (checks, facts) = grade_mta_sts("zorg.test", &f, Lang::En);
            assert_eq!(status_of(&checks, id), Some(want), "{id}: {checks:?}");
            assert_eq!(facts.mta_sts.is_some(), relied_on, "{id}: {checks:?}");
            // Whatever is not a pass says what to do.
            for c in &checks {
                if matches!(c.status, Fail) || c.id == "mta-sts-policy" && c.status == Warn {
                    assert!(c.advice.is_some(), "{c:?}");
                }
            }
        }
        let (checks, _) = grade_mta_sts("zorg.test", &found(Ok(&[]), None), Lang::En);
        assert!(
            checks[0]
                .advice
                .as_deref()
                .is_some_and(|a| a.contains("id=2026120201") && a.contains("`mx: mx.zorg.test`")),
            "{checks:?}"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(super::civil_from_days(20_783), (2026, 11, 26));
        assert_eq!(super::civil_from_days(20_820), (2027, 1, 2));
    }

    #[test]
    fn sts_policies() {
        let p = parse_sts_policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.nl\r\nmx: *.backup.example.nl\r\nmax_age: 604800\r\n").expect("valid");
        assert_eq!(p.mode, "enforce");
        assert_eq!(p.mx.len(), 2);
        assert!(parse_sts_policy("mode: enforce\nmx: a\nmax_age: 1").is_err());
        assert!(parse_sts_policy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1").is_err());
        assert!(parse_sts_policy("version: STSv1\nmode: enforce\nmax_age: 1").is_err());
        assert!(mx_matches("*.example.nl", "mx1.example.nl"));
        assert!(!mx_matches("*.example.nl", "a.b.example.nl"));
        assert!(!mx_matches("*.example.nl", "example.nl"));
        assert!(mx_matches("mail.example.nl.", "MAIL.example.nl"));
    }

    #[test]
    fn nta_records_in_both_syntaxes() {
        let a = parse_nta("v=NTA7516-1;startdate=2022-01;enddate=2032-12;provider=Zorgmail;ntamx=10 mx.zorgmail.nl").expect("semicolons");
        assert_eq!(a.provider.as_deref(), Some("Zorgmail"));
        assert_eq!(a.start, Some((2022, 1)));
        assert_eq!(a.mx, ["10 mx.zorgmail.nl"]);
        let b = parse_nta("v=NTA7516-1 startdate=202201 enddate=203212 provider=Zivver ntamx=10 mx1.zivver.com ntamx=20 mx2.zivver.com").expect("spaces");
        assert_eq!(b.mx, ["10 mx1.zivver.com", "20 mx2.zivver.com"]);
        assert_eq!(b.end, Some((2032, 12)));
        assert!(parse_nta("v=NTA7516-1;provider=x").is_err());
        assert!(parse_nta("v=spf1 -all").is_err());
        let (y, m) = current_year_month();
        assert!(y >= 2026 && (1..=12).contains(&m));
    }
}
