//! DMARC: policy records, policy discovery, alignment (RFC 7489), with `np=` for
//! non-existent subdomains and public-suffix domain policies (RFC 9091).
//!
//! The organisational domain comes from the Public Suffix List (the `psl` crate, compiled
//! in): `zorg.praktijkdelinde.nl` belongs to `praktijkdelinde.nl`.

use crate::result::{AuthResult, DkimOutcome, DmarcPolicy, SpfOutcome};

/// Alignment mode (`adkim=`, `aspf=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// Same organisational domain.
    Relaxed,
    /// Exactly the same domain.
    Strict,
}

/// A parsed `v=DMARC1` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `p=`; `None` when missing (the record then only counts with a valid `rua=`).
    pub p: Option<DmarcPolicy>,
    /// `sp=`: for subdomains of the policy domain (default `p`).
    pub sp: Option<DmarcPolicy>,
    /// `np=`: for non-existent subdomains (default `sp`).
    pub np: Option<DmarcPolicy>,
    /// `pct=`: the share of failing mail the policy applies to (default 100). RFC 9989
    /// removed the tag; receivers following it apply the whole policy.
    pub pct: u8,
    /// `pct=` was given.
    pub pct_given: bool,
    /// `t=y`: testing mode (RFC 9989), receivers apply one level less strict a policy.
    pub testing: bool,
    /// `adkim=`.
    pub adkim: Alignment,
    /// `aspf=`.
    pub aspf: Alignment,
    /// `rua=` addresses.
    pub rua: Vec<String>,
    /// `ruf=` addresses.
    pub ruf: Vec<String>,
    /// `psd=y`: a public-suffix domain's record.
    pub psd: Option<bool>,
}

/// Why a record is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not a DMARC record at all (`v=DMARC1` is not first).
    #[error("not a DMARC record")]
    NotDmarc,
    /// A DMARC record with a syntax error.
    #[error("invalid DMARC record: {0}")]
    Invalid(String),
}

fn policy(value: &str) -> Option<DmarcPolicy> {
    match value.to_ascii_lowercase().as_str() {
        "none" => Some(DmarcPolicy::None),
        "quarantine" => Some(DmarcPolicy::Quarantine),
        "reject" => Some(DmarcPolicy::Reject),
        _ => None,
    }
}

impl Record {
    /// Parse a TXT record's text strictly: any malformed tag makes the record invalid.
    pub fn parse(text: &str) -> Result<Record, RecordError> {
        let (record, problems) = Record::parse_lenient(text)?;
        match problems.into_iter().next() {
            Some(first) => Err(RecordError::Invalid(first)),
            None => Ok(record),
        }
    }

    /// Parse a TXT record's text as RFC 7489 §6.3 and RFC 9989 §4.7 ask of receivers:
    /// malformed tags are ignored (their defaults apply) and listed. Only a record that
    /// does not start with `v=DMARC1` is an error.
    pub fn parse_lenient(text: &str) -> Result<(Record, Vec<String>), RecordError> {
        let mut tags = text.split(';').map(str::trim).filter(|t| !t.is_empty());
        let first = tags.next().ok_or(RecordError::NotDmarc)?;
        let (k, v) = first.split_once('=').ok_or(RecordError::NotDmarc)?;
        if !k.trim().eq_ignore_ascii_case("v") || v.trim() != "DMARC1" {
            return Err(RecordError::NotDmarc);
        }
        let mut record = Record {
            p: None,
            sp: None,
            np: None,
            pct: 100,
            pct_given: false,
            testing: false,
            adkim: Alignment::Relaxed,
            aspf: Alignment::Relaxed,
            rua: Vec::new(),
            ruf: Vec::new(),
            psd: None,
        };
        let mut problems = Vec::new();
        for tag in tags {
            let Some((k, v)) = tag.split_once('=') else {
                problems.push(format!("tag without a value: {tag:?}"));
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
                problems.push(format!("bad tag name {k:?}"));
                continue;
            }
            let bad = match k.as_str() {
                "p" => policy(v).map(|p| record.p = Some(p)).is_none(),
                "sp" => policy(v).map(|p| record.sp = Some(p)).is_none(),
                "np" => policy(v).map(|p| record.np = Some(p)).is_none(),
                "pct" => match v.parse::<u8>().ok().filter(|p| *p <= 100) {
                    Some(p) => {
                        record.pct = p;
                        record.pct_given = true;
                        false
                    }
                    None => true,
                },
                "t" => match v.to_ascii_lowercase().as_str() {
                    "y" => {
                        record.testing = true;
                        false
                    }
                    "n" => false,
                    _ => true,
                },
                "adkim" | "aspf" => {
                    let a = match v.to_ascii_lowercase().as_str() {
                        "r" => Some(Alignment::Relaxed),
                        "s" => Some(Alignment::Strict),
                        _ => None,
                    };
                    match a {
                        Some(a) if k == "adkim" => record.adkim = a,
                        Some(a) => record.aspf = a,
                        None => {}
                    }
                    a.is_none()
                }
                "rua" | "ruf" => {
                    let list: Vec<String> = v
                        .split(',')
                        .map(|u| u.trim().to_string())
                        .filter(|u| !u.is_empty())
                        .collect();
                    if k == "rua" {
                        record.rua = list;
                    } else {
                        record.ruf = list;
                    }
                    false
                }
                "psd" => match v.to_ascii_lowercase().as_str() {
                    "y" => {
                        record.psd = Some(true);
                        false
                    }
                    "n" => {
                        record.psd = Some(false);
                        false
                    }
                    "u" => false,
                    _ => true,
                },
                // Known tags with no bearing on evaluation, and unknown tags (ignored, as
                // RFC 7489 §6.3 asks).
                _ => false,
            };
            if bad {
                problems.push(format!("{k}={v}"));
            }
        }
        Ok((record, problems))
    }

    /// A usable `rua=` (a `mailto:` or `https:` URI) is present.
    pub fn has_valid_rua(&self) -> bool {
        self.rua.iter().any(|u| {
            let u = u.to_ascii_lowercase();
            (u.starts_with("mailto:") && u.contains('@')) || u.starts_with("https://")
        })
    }
}

/// The organisational domain of `domain`, by the Public Suffix List.
pub fn organizational_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).map(str::to_string).unwrap_or(d)
}

/// The public suffix of `domain` (`nl`, `co.uk`, `gov`).
pub fn public_suffix(domain: &str) -> Option<String> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::suffix_str(&d).map(str::to_string)
}

/// Do `a` and `b` align under `mode`?
pub fn aligned(a: &str, b: &str, mode: Alignment) -> bool {
    let a = a.trim_end_matches('.').to_ascii_lowercase();
    let b = b.trim_end_matches('.').to_ascii_lowercase();
    match mode {
        Alignment::Strict => a == b,
        Alignment::Relaxed => a == b || organizational_domain(&a) == organizational_domain(&b),
    }
}

/// The outcome of looking up `_dmarc.NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Exactly one DMARC record.
    Found(Record),
    /// No DMARC record (or several, which counts as none).
    Absent,
    /// Records that are DMARC but broken.
    Broken(String),
    /// DNS failed.
    TempError(String),
}

/// Turn the TXT strings at `_dmarc.NAME` into a [`Lookup`]: records not starting with
/// `v=DMARC1` are discarded; none or several left means no policy (RFC 7489 §6.6.3); one
/// with a syntax error is broken.
pub fn select(txts: &[String]) -> Lookup {
    let mut dmarc: Vec<Result<Record, RecordError>> = txts
        .iter()
        .map(|t| Record::parse(t))
        .filter(|r| !matches!(r, Err(RecordError::NotDmarc)))
        .collect();
    if dmarc.len() != 1 {
        return Lookup::Absent;
    }
    match dmarc.remove(0) {
        Ok(record) => Lookup::Found(record),
        Err(RecordError::Invalid(why)) => Lookup::Broken(why),
        Err(RecordError::NotDmarc) => Lookup::Absent,
    }
}

/// Where a policy came from, relative to the From domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The From domain's own record.
    Exact,
    /// The organisational domain's (or a public suffix's) record, for a subdomain.
    Ancestor,
}

/// Pick the policy that applies: `p`, `sp` or `np`.
pub(crate) fn applicable(record: &Record, source: Source, exists: bool) -> DmarcPolicy {
    let p = record.p.unwrap_or(DmarcPolicy::None);
    match source {
        Source::Exact => p,
        Source::Ancestor if !exists => record.np.or(record.sp).unwrap_or(p),
        Source::Ancestor => record.sp.unwrap_or(p),
    }
}

/// An aligned DKIM pass for `from` under `mode`?
pub(crate) fn dkim_aligned(dkim: &[DkimOutcome], from: &str, mode: Alignment) -> bool {
    dkim.iter()
        .any(|d| d.result == AuthResult::Pass && aligned(&d.domain, from, mode))
}

/// An aligned SPF pass for `from` under `mode`? Only the MAIL FROM identity counts
/// (RFC 7489 §3.1.2), or HELO when MAIL FROM was null (§4.1 note).
pub(crate) fn spf_aligned(spf: &SpfOutcome, from: &str, mode: Alignment) -> bool {
    spf.result == AuthResult::Pass && aligned(&spf.domain, from, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let r = Record::parse(
            "v=DMARC1; p=reject; sp=none; pct=50; adkim=s; rua=mailto:a@b.nl,mailto:c@d.nl",
        )
        .expect("valid");
        assert_eq!(r.p, Some(DmarcPolicy::Reject));
        assert_eq!(r.sp, Some(DmarcPolicy::None));
        assert_eq!(r.pct, 50);
        assert_eq!(r.adkim, Alignment::Strict);
        assert_eq!(r.rua.len(), 2);
        assert!(r.has_valid_rua());
        assert_eq!(Record::parse("v=spf1 -all"), Err(RecordError::NotDmarc));
        assert_eq!(
            Record::parse("p=reject; v=DMARC1"),
            Err(RecordError::NotDmarc)
        );
        assert!(matches!(
            Record::parse("v=DMARC1; p=none; reject"),
            Err(RecordError::Invalid(_))
        ));
        assert!(matches!(
            Record::parse("v=DMARC1; p=maybe"),
            Err(RecordError::Invalid(_))
        ));
        assert!(matches!(
            Record::parse("v=DMARC1; p=none; pct=101"),
            Err(RecordError::Invalid(_))
        ));
        // Unknown tags are ignored; a missing p is allowed (and handled by the caller).
        assert_eq!(
            Record::parse("v=DMARC1; sp=quarantine; xyz=1")
                .expect("ok")
                .p,
            None
        );
    }

    #[test]
    fn lenient_parsing_keeps_what_is_valid() {
        let (r, problems) = Record::parse_lenient(
            "v=DMARC1; p=reject; pct=200; adkim=x; reject; t=y; rua=mailto:d@x.nl",
        )
        .expect("dmarc");
        assert_eq!(r.p, Some(DmarcPolicy::Reject));
        assert_eq!((r.pct, r.pct_given), (100, false));
        assert_eq!(r.adkim, Alignment::Relaxed);
        assert!(r.testing);
        assert_eq!(r.rua, vec!["mailto:d@x.nl".to_string()]);
        assert_eq!(
            problems,
            vec![
                "pct=200".to_string(),
                "adkim=x".to_string(),
                "tag without a value: \"reject\"".to_string()
            ]
        );
        let (r, problems) = Record::parse_lenient("v=DMARC1; p=sometimes; pct=40").expect("dmarc");
        assert_eq!((r.p, r.pct, r.pct_given), (None, 40, true));
        assert_eq!(problems, vec!["p=sometimes".to_string()]);
        assert_eq!(
            Record::parse_lenient("v=DMARC2; p=reject"),
            Err(RecordError::NotDmarc)
        );
    }

    #[test]
    fn selection() {
        let s = |v: &[&str]| select(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert!(matches!(s(&["v=DMARC1; p=none"]), Lookup::Found(_)));
        assert_eq!(
            s(&["v=DMARC1; p=none", "v=DMARC1; p=reject"]),
            Lookup::Absent
        );
        assert_eq!(s(&["something else"]), Lookup::Absent);
        assert!(matches!(
            s(&["v=DMARC1; p=none; reject"]),
            Lookup::Broken(_)
        ));
    }

    #[test]
    fn organizational_domains_and_alignment() {
        assert_eq!(
            organizational_domain("mail.zorg.praktijkdelinde.nl"),
            "praktijkdelinde.nl"
        );
        assert_eq!(organizational_domain("example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(public_suffix("example.gov").as_deref(), Some("gov"));
        assert!(aligned("mail.example.nl", "example.nl", Alignment::Relaxed));
        assert!(!aligned("mail.example.nl", "example.nl", Alignment::Strict));
        assert!(!aligned("example.co.uk", "other.co.uk", Alignment::Relaxed));
    }

    #[test]
    fn applicable_policy() {
        let r = Record::parse("v=DMARC1; p=reject; sp=quarantine; np=none").expect("ok");
        assert_eq!(applicable(&r, Source::Exact, true), DmarcPolicy::Reject);
        assert_eq!(
            applicable(&r, Source::Ancestor, true),
            DmarcPolicy::Quarantine
        );
        assert_eq!(applicable(&r, Source::Ancestor, false), DmarcPolicy::None);
        let r = Record::parse("v=DMARC1; p=reject").expect("ok");
        assert_eq!(applicable(&r, Source::Ancestor, false), DmarcPolicy::Reject);
    }
}
