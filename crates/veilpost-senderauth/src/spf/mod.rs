//! SPF, RFC 7208, evaluated here: a strict record parser (a syntax error is a permerror,
//! as the RFC's ABNF demands), macro expansion, the ten-look-up and two-void-look-up
//! limits, include/redirect recursion and explanations.
//!
//! DNS comes in through [`SpfResolver`], so the evaluator runs against hickory in
//! production, and the same parser serves the domain posture check's look-up counting.

pub mod macros;
pub mod record;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::result::AuthResult;
use macros::{MacroContext, expand, truncate_domain, uses_p};
use record::{Mechanism, Qualifier, Record};

/// At most this many DNS-querying terms per evaluation (§4.6.4).
pub const MAX_LOOKUPS: u32 = 10;
/// At most this many look-ups answering NXDOMAIN or nothing (§4.6.4).
pub const MAX_VOID_LOOKUPS: u32 = 2;
/// MX and PTR answers beyond this many are not considered (§4.6.4).
const MAX_NAMES: usize = 10;

pub use veilpost_dns::Answer;

/// The look-ups SPF makes.
pub trait SpfResolver: Sync + std::fmt::Debug {
    /// TXT records, each the concatenation of its strings.
    fn txt(&self, name: &str) -> impl Future<Output = Answer<Vec<String>>> + Send;
    /// A records.
    fn a(&self, name: &str) -> impl Future<Output = Answer<Vec<Ipv4Addr>>> + Send;
    /// AAAA records.
    fn aaaa(&self, name: &str) -> impl Future<Output = Answer<Vec<Ipv6Addr>>> + Send;
    /// MX exchanges, by preference.
    fn mx(&self, name: &str) -> impl Future<Output = Answer<Vec<String>>> + Send;
    /// PTR names of an address.
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Answer<Vec<String>>> + Send;
}

/// The outcome of `check_host()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfEvaluation {
    /// The result word.
    pub result: AuthResult,
    /// The domain's explanation, for a fail with `exp=`.
    pub explanation: Option<String>,
    /// Why, for none/temperror/permerror.
    pub detail: Option<String>,
    /// DNS-querying terms evaluated.
    pub lookups: u32,
    /// Void look-ups met.
    pub void_lookups: u32,
}

/// One evaluation's fixed inputs and counters.
#[derive(Debug)]
pub struct Evaluator<'a, R: SpfResolver> {
    dns: &'a R,
    ip: IpAddr,
    sender: String,
    helo: &'a str,
    receiver: &'a str,
    now: u64,
    lookups: AtomicU32,
    voids: AtomicU32,
}

/// An internal result with its reason.
#[derive(Debug, Clone)]
enum Eval {
    Result(AuthResult, Option<String>),
    Temp(String),
    Perm(String),
    None(String),
}

type BoxFuture<'f, T> = Pin<Box<dyn Future<Output = T> + Send + 'f>>;

impl<'a, R: SpfResolver> Evaluator<'a, R> {
    /// `check_host()` for `domain`: the MAIL FROM's domain, or the HELO name when
    /// checking the HELO identity. `sender` is the MAIL FROM address (or
    /// `postmaster@HELO`); `receiver` is our own host name (for `%{r}`).
    pub fn new(
        dns: &'a R,
        ip: IpAddr,
        sender: &str,
        helo: &'a str,
        receiver: &'a str,
        now: u64,
    ) -> Self {
        // An IPv4-mapped IPv6 client is an IPv4 client (§5).
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let sender = match sender.rsplit_once('@') {
            Some(("", d)) => format!("postmaster@{d}"),
            _ => sender.to_string(),
        };
        Evaluator {
            dns,
            ip,
            sender,
            helo,
            receiver,
            now,
            lookups: AtomicU32::new(0),
            voids: AtomicU32::new(0),
        }
    }

    /// Evaluate the policy of `domain`.
    pub async fn check_host(&self, domain: &str) -> SpfEvaluation {
        let eval = self
            .check(domain.trim_end_matches('.').to_string(), 0)
            .await;
        let (result, explanation, detail) = match eval {
            Eval::Result(r, exp) => (r, exp, None),
            Eval::Temp(why) => (AuthResult::TempError, None, Some(why)),
            Eval::Perm(why) => (AuthResult::PermError, None, Some(why)),
            Eval::None(why) => (AuthResult::None, None, Some(why)),
        };
        SpfEvaluation {
            result,
            explanation,
            detail,
            lookups: self.lookups.load(Ordering::Relaxed),
            void_lookups: self.voids.load(Ordering::Relaxed),
        }
    }

    fn check(&self, domain: String, depth: u8) -> BoxFuture<'_, Eval> {
        Box::pin(async move {
            if depth > 20 {
                return Eval::Perm("include/redirect loop".into());
            }
            if let Err(why) = valid_domain(&domain) {
                return Eval::None(why.to_string());
            }
            let txts = match self.dns.txt(&domain).await {
                Answer::Records(t) => t,
                Answer::Empty => return Eval::None(format!("no SPF record for {domain}")),
                Answer::TempError(why) => return Eval::Temp(why),
            };
            let spf: Vec<&String> = txts.iter().filter(|t| record::is_spf1(t)).collect();
            let text = match spf.as_slice() {
                [] => return Eval::None(format!("no SPF record for {domain}")),
                [one] => one.as_str(),
                _ => return Eval::Perm(format!("{domain} publishes more than one SPF record")),
            };
            let rec = match record::parse(text) {
                Ok(r) => r,
                Err(e) => return Eval::Perm(format!("{domain}: {e}")),
            };
            self.evaluate(&domain, &rec, depth).await
        })
    }

    async fn evaluate(&self, domain: &str, rec: &Record, depth: u8) -> Eval {
        for d in &rec.directives {
            if d.mechanism.queries_dns() && !self.count_lookup() {
                return Eval::Perm(format!("more than {MAX_LOOKUPS} DNS look-ups"));
            }
            let matched = match self.matches(domain, &d.mechanism, depth).await {
                Ok(m) => m,
                Err(e) => return e,
            };
            if matched {
                let result = match d.qualifier {
                    Qualifier::Pass => AuthResult::Pass,
                    Qualifier::Fail => AuthResult::Fail,
                    Qualifier::SoftFail => AuthResult::SoftFail,
                    Qualifier::Neutral => AuthResult::Neutral,
                };
                let exp = if result == AuthResult::Fail {
                    self.explanation(domain, rec).await
                } else {
                    None
                };
                return Eval::Result(result, exp);
            }
        }
        if let Some(spec) = &rec.redirect {
            if !self.count_lookup() {
                return Eval::Perm(format!("more than {MAX_LOOKUPS} DNS look-ups"));
            }
            let target = match self.target(spec, domain).await {
                Ok(t) => t,
                Err(e) => return e,
            };
            return match self.check(target.clone(), depth + 1).await {
                Eval::None(_) => {
                    Eval::Perm(format!("redirect to {target}, which has no SPF record"))
                }
                other => other,
            };
        }
        Eval::Result(AuthResult::Neutral, None)
    }

    fn count_lookup(&self) -> bool {
        self.lookups.fetch_add(1, Ordering::Relaxed) < MAX_LOOKUPS
    }

    fn void(&self) -> Result<(), Eval> {
        if self.voids.fetch_add(1, Ordering::Relaxed) >= MAX_VOID_LOOKUPS {
            Err(Eval::Perm(format!(
                "more than {MAX_VOID_LOOKUPS} void DNS look-ups"
            )))
        } else {
            Ok(())
        }
    }

    fn ctx<'c>(&'c self, domain: &'c str, validated: Option<&'c str>) -> MacroContext<'c> {
        MacroContext {
            sender: &self.sender,
            domain,
            ip: self.ip,
            helo: self.helo,
            validated,
            receiver: self.receiver,
            now: self.now,
        }
    }

    /// Expand a domain-spec for the current `domain`.
    async fn target(&self, spec: &str, domain: &str) -> Result<String, Eval> {
        let validated = if uses_p(spec) {
            Some(self.validated_name(domain).await)
        } else {
            None
        };
        let expanded = expand(spec, &self.ctx(domain, validated.as_deref()), false)
            .map_err(|e| Eval::Perm(e.0))?;
        Ok(truncate_domain(expanded).trim_end_matches('.').to_string())
    }

    /// `%{p}`: a PTR name of the client that resolves back to it, preferring `domain`.
    async fn validated_name(&self, domain: &str) -> String {
        let names = self.validated_names().await;
        let domain = domain.to_ascii_lowercase();
        names
            .iter()
            .find(|n| **n == domain)
            .or_else(|| names.iter().find(|n| n.ends_with(&format!(".{domain}"))))
            .or(names.first())
            .cloned()
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// PTR names of the client confirmed by a forward look-up (§5.5), lower-cased.
    async fn validated_names(&self) -> Vec<String> {
        let Answer::Records(names) = self.dns.ptr(self.ip).await else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in names.into_iter().take(MAX_NAMES) {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if self.has_address(&name, 128, 128).await == Ok(true) {
                out.push(name);
            }
        }
        out
    }

    /// Does `name` have an address of the client's family within the prefix lengths?
    async fn has_address(&self, name: &str, v4: u8, v6: u8) -> Result<bool, Answer<()>> {
        match self.ip {
            IpAddr::V4(ip) => match self.dns.a(name).await {
                Answer::Records(addrs) => Ok(addrs.iter().any(|a| in_prefix4(ip, *a, v4))),
                Answer::Empty => Err(Answer::Empty),
                Answer::TempError(why) => Err(Answer::TempError(why)),
            },
            IpAddr::V6(ip) => match self.dns.aaaa(name).await {
                Answer::Records(addrs) => Ok(addrs.iter().any(|a| in_prefix6(ip, *a, v6))),
                Answer::Empty => Err(Answer::Empty),
                Answer::TempError(why) => Err(Answer::TempError(why)),
            },
        }
    }

    async fn matches(&self, domain: &str, m: &Mechanism, depth: u8) -> Result<bool, Eval> {
        match m {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(net, len) => Ok(match self.ip {
                IpAddr::V4(ip) => in_prefix4(ip, *net, *len),
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6(net, len) => Ok(match self.ip {
                IpAddr::V6(ip) => in_prefix6(ip, *net, *len),
                IpAddr::V4(_) => false,
            }),
            Mechanism::Include(spec) => {
                let target = self.target(spec, domain).await?;
                match self.check(target.clone(), depth + 1).await {
                    Eval::Result(AuthResult::Pass, _) => Ok(true),
                    Eval::Result(_, _) => Ok(false),
                    Eval::Temp(why) => Err(Eval::Temp(why)),
                    Eval::Perm(why) => Err(Eval::Perm(why)),
                    Eval::None(_) => Err(Eval::Perm(format!("include:{target} has no SPF record"))),
                }
            }
            Mechanism::A {
                domain: spec,
                v4,
                v6,
            } => {
                let target = match spec {
                    Some(s) => self.target(s, domain).await?,
                    None => domain.to_string(),
                };
                match self.has_address(&target, *v4, *v6).await {
                    Ok(m) => Ok(m),
                    Err(Answer::TempError(why)) => Err(Eval::Temp(why)),
                    Err(_) => self.void().map(|()| false),
                }
            }
            Mechanism::Mx {
                domain: spec,
                v4,
                v6,
            } => {
                let target = match spec {
                    Some(s) => self.target(s, domain).await?,
                    None => domain.to_string(),
                };
                let hosts = match self.dns.mx(&target).await {
                    Answer::Records(h) => h,
                    Answer::Empty => return self.void().map(|()| false),
                    Answer::TempError(why) => return Err(Eval::Temp(why)),
                };
                if hosts.len() > MAX_NAMES {
                    return Err(Eval::Perm(format!(
                        "{target} has more than {MAX_NAMES} MX records"
                    )));
                }
                for host in hosts {
                    match self.has_address(host.trim_end_matches('.'), *v4, *v6).await {
                        Ok(true) => return Ok(true),
                        Err(Answer::TempError(why)) => return Err(Eval::Temp(why)),
                        _ => {}
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(spec) => {
                let target = match spec {
                    Some(s) => self.target(s, domain).await?,
                    None => domain.to_string(),
                }
                .to_ascii_lowercase();
                if let Answer::Empty = self.dns.ptr(self.ip).await {
                    self.void()?;
                    return Ok(false);
                }
                let names = self.validated_names().await;
                Ok(names
                    .iter()
                    .any(|n| *n == target || n.ends_with(&format!(".{target}"))))
            }
            Mechanism::Exists(spec) => {
                let target = self.target(spec, domain).await?;
                match self.dns.a(&target).await {
                    Answer::Records(a) => Ok(!a.is_empty()),
                    Answer::Empty => self.void().map(|()| false),
                    Answer::TempError(why) => Err(Eval::Temp(why)),
                }
            }
        }
    }

    /// The `exp=` text for a fail; problems with it are ignored (§6.2).
    async fn explanation(&self, domain: &str, rec: &Record) -> Option<String> {
        let spec = rec.exp.as_ref()?;
        let target = self.target(spec, domain).await.ok()?;
        let Answer::Records(txts) = self.dns.txt(&target).await else {
            return None;
        };
        let [text] = txts.as_slice() else {
            return None;
        };
        let validated = if uses_p(text) {
            Some(self.validated_name(domain).await)
        } else {
            None
        };
        let expanded = expand(text, &self.ctx(domain, validated.as_deref()), true).ok()?;
        Some(expanded.chars().filter(|c| !c.is_control()).collect())
    }
}

/// Why a name is not a domain SPF can be evaluated for (§4.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum DomainError {
    #[error("{0:?} is not a fully qualified domain")]
    NotQualified(String),
    #[error("{0:?} is longer than 253 characters")]
    TooLong(String),
    #[error("{0:?} has an empty or over-long label")]
    BadLabel(String),
    #[error("{0:?} is not a domain name")]
    NotADomain(String),
}

/// §4.3: a domain must be a multi-label name with labels of 1 to 63 octets.
fn valid_domain(domain: &str) -> Result<(), DomainError> {
    let d = domain.trim_end_matches('.');
    let labels: Vec<&str> = d.split('.').collect();
    if d.is_empty() || labels.len() < 2 {
        return Err(DomainError::NotQualified(domain.to_string()));
    }
    if d.len() > 253 {
        return Err(DomainError::TooLong(domain.to_string()));
    }
    for label in labels {
        if label.is_empty() || label.len() > 63 {
            return Err(DomainError::BadLabel(domain.to_string()));
        }
        if label
            .bytes()
            .any(|b| b <= b' ' || b == 0x7F || b == b'[' || b == b']')
        {
            return Err(DomainError::NotADomain(domain.to_string()));
        }
    }
    Ok(())
}

fn in_prefix4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_prefix6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    };
    u128::from(ip) & mask == u128::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().expect("ip");
        assert!(in_prefix4(ip("192.0.2.7"), ip("192.0.2.0"), 24));
        assert!(!in_prefix4(ip("192.0.3.7"), ip("192.0.2.0"), 24));
        assert!(in_prefix4(ip("10.0.0.1"), ip("192.0.2.0"), 0));
        let ip6 = |s: &str| s.parse::<Ipv6Addr>().expect("ip");
        assert!(in_prefix6(ip6("2001:db8::1"), ip6("2001:db8::"), 32));
        assert!(!in_prefix6(ip6("2001:db9::1"), ip6("2001:db8::"), 32));
    }

    #[test]
    fn domains() {
        assert!(valid_domain("example.com").is_ok());
        assert_eq!(
            valid_domain("A2345678"),
            Err(DomainError::NotQualified("A2345678".into()))
        );
        assert!(valid_domain("[1.2.3.5]").is_err());
        assert!(valid_domain("a...example.com").is_err());
        assert!(valid_domain(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(valid_domain(&format!("{}.com", "a".repeat(63))).is_ok());
    }
}

/// [`SpfResolver`] over a hickory resolver.
#[derive(Debug, Clone, Copy)]
pub struct HickorySpf<'a>(pub &'a veilpost_dns::TokioResolver);

/// A name hickory can be asked about; `None` for names DNS cannot hold (an empty or
/// over-long label after macro expansion): those are void look-ups.
fn query_name(name: &str) -> Option<mail_auth::hickory_resolver::proto::rr::Name> {
    veilpost_dns::name_from_text(name)
}

/// A name's labels joined by dots, without presentation escapes.
fn label_text(name: &mail_auth::hickory_resolver::proto::rr::Name) -> String {
    name.iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

fn classify<T>(
    result: Result<
        mail_auth::hickory_resolver::lookup::Lookup,
        mail_auth::hickory_resolver::net::NetError,
    >,
    pick: impl Fn(&mail_auth::hickory_resolver::proto::rr::RData) -> Option<T>,
) -> Answer<Vec<T>> {
    match result {
        Ok(lookup) => {
            let found: Vec<T> = lookup
                .answers()
                .iter()
                .filter_map(|r| pick(&r.data))
                .collect();
            if found.is_empty() {
                Answer::Empty
            } else {
                Answer::Records(found)
            }
        }
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Answer::Empty,
        Err(e) => Answer::TempError(e.to_string()),
    }
}

impl SpfResolver for HickorySpf<'_> {
    async fn txt(&self, name: &str) -> Answer<Vec<String>> {
        use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
        let Some(q) = query_name(name) else {
            return Answer::Empty;
        };
        classify(self.0.lookup(q, RecordType::TXT).await, |d| match d {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
    }

    async fn a(&self, name: &str) -> Answer<Vec<Ipv4Addr>> {
        use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
        let Some(q) = query_name(name) else {
            return Answer::Empty;
        };
        classify(self.0.lookup(q, RecordType::A).await, |d| match d {
            RData::A(a) => Some(a.0),
            _ => None,
        })
    }

    async fn aaaa(&self, name: &str) -> Answer<Vec<Ipv6Addr>> {
        use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
        let Some(q) = query_name(name) else {
            return Answer::Empty;
        };
        classify(self.0.lookup(q, RecordType::AAAA).await, |d| match d {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
    }

    async fn mx(&self, name: &str) -> Answer<Vec<String>> {
        use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
        let Some(q) = query_name(name) else {
            return Answer::Empty;
        };
        match classify(self.0.lookup(q, RecordType::MX).await, |d| match d {
            RData::MX(mx) => Some((mx.preference, label_text(&mx.exchange))),
            _ => None,
        }) {
            Answer::Records(mut v) => {
                v.sort_by_key(|(p, _)| *p);
                Answer::Records(v.into_iter().map(|(_, h)| h).collect())
            }
            Answer::Empty => Answer::Empty,
            Answer::TempError(e) => Answer::TempError(e),
        }
    }

    async fn ptr(&self, ip: IpAddr) -> Answer<Vec<String>> {
        use mail_auth::hickory_resolver::proto::rr::RData;
        match self.0.reverse_lookup(ip).await {
            Ok(lookup) => {
                let names: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::PTR(p) => Some(label_text(&p.0)),
                        _ => None,
                    })
                    .collect();
                if names.is_empty() {
                    Answer::Empty
                } else {
                    Answer::Records(names)
                }
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Answer::Empty,
            Err(e) => Answer::TempError(e.to_string()),
        }
    }
}
