//! Answers as their callers need to tell them apart, and the MX look-up every part of
//! Veilpost shares (delivery, the posture check).

use hickory_proto::rr::{RData, RecordType};

use crate::TokioResolver;

/// A DNS answer: records, none (NXDOMAIN, or no records of the type: a "void" look-up in
/// SPF's words), or a temporary failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// Records.
    Records(T),
    /// NXDOMAIN, or a name without records of the type.
    Empty,
    /// Time-out, SERVFAIL and the like.
    TempError(String),
}

impl<T> Answer<T> {
    /// Convert the records, keeping `Empty` and `TempError`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Answer<U> {
        match self {
            Answer::Records(v) => Answer::Records(f(v)),
            Answer::Empty => Answer::Empty,
            Answer::TempError(e) => Answer::TempError(e),
        }
    }
}

/// The MX set of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// Preference and host (lower case, no trailing dot), lowest preference first. A null
    /// MX (RFC 7505) is one record with an empty host.
    Records(Vec<(u16, String)>),
    /// The domain exists but has no MX records (implicit MX, RFC 5321 §5.1).
    NoRecords,
    /// The domain does not exist (NXDOMAIN), or the name is not a domain name.
    NoDomain,
    /// Time-out, SERVFAIL and the like.
    TempError(String),
}

impl MxAnswer {
    /// A null MX: the domain says it takes no mail.
    pub fn is_null(&self) -> bool {
        matches!(self, MxAnswer::Records(r) if r.len() == 1 && r[0].1.is_empty())
    }
}

/// The MX records of `domain`, through `resolver`.
pub async fn mx(resolver: &TokioResolver, domain: &str) -> MxAnswer {
    let Some(name) = crate::name_from_text(domain) else {
        return MxAnswer::NoDomain;
    };
    match resolver.lookup(name, RecordType::MX).await {
        Ok(lookup) => {
            let mut records: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(m) => Some((
                        m.preference,
                        m.exchange
                            .to_ascii()
                            .trim_end_matches('.')
                            .to_ascii_lowercase(),
                    )),
                    _ => None,
                })
                .collect();
            records.sort();
            if records.is_empty() {
                MxAnswer::NoRecords
            } else {
                MxAnswer::Records(records)
            }
        }
        Err(e) if e.is_nx_domain() => MxAnswer::NoDomain,
        Err(e) if e.is_no_records_found() => MxAnswer::NoRecords,
        Err(e) => MxAnswer::TempError(e.to_string()),
    }
}
