//! Veilpost's DNS layer: one place that decides which servers every look-up goes to.
//!
//! Sender authentication (SPF, DKIM, DMARC), delivery (MX, DANE, MTA-STS) and the domain
//! posture check all resolve through a [hickory](https://docs.rs/hickory-resolver)
//! resolver built here from a [`DnsConfig`]: the system's resolvers by default, or the
//! servers given by `--dns HOST:PORT` / `dns.nameservers`. The resolver caches answers and
//! bounds every look-up by a timeout and a number of attempts, so a dead or slow server
//! yields an error (a `temperror` upstream), never a hang.
//!
//! With the `test-server` feature, `testserver` runs an authoritative server in process
//! on `127.0.0.1:0` that answers from zone fixtures, including the failures real DNS
//! produces (time-outs, SERVFAIL): tests never touch the internet.
//!
//! ```no_run
//! # async fn demo() -> Result<(), veilpost_dns::DnsError> {
//! let config = veilpost_dns::DnsConfig {
//!     nameservers: vec![veilpost_dns::parse_nameserver("127.0.0.1:5353")?],
//!     ..Default::default()
//! };
//! let resolver = veilpost_dns::resolver(&config)?;
//! let mx = resolver.mx_lookup("example.nl.").await;
//! # Ok(()) }
//! ```

mod answer;
pub mod dane;
pub mod der;
#[cfg(feature = "test-server")]
pub mod testserver;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::TrustAnchors;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

pub use answer::{Answer, MxAnswer, mx};
pub use hickory_resolver::TokioResolver;

/// Where and how to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Servers to ask, in order. Empty: the system's resolvers (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Time for one attempt at one server.
    pub timeout: Duration,
    /// Attempts per server before giving up.
    pub attempts: usize,
    /// Answers kept in the resolver's cache.
    pub cache_size: u64,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(4),
            attempts: 2,
            cache_size: 4096,
        }
    }
}

impl DnsConfig {
    /// The longest a single look-up can take before it fails.
    pub fn worst_case(&self) -> Duration {
        let servers = self.nameservers.len().max(1) as u32;
        self.timeout * (self.attempts.max(1) as u32) * servers
    }
}

/// Why a resolver could not be built, or a server address not understood.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// `--dns` / `dns.nameservers` is not `HOST:PORT` or an IP address.
    #[error("invalid name server {0:?}: expected HOST:PORT or an IP address")]
    BadNameserver(String),
    /// The system resolver configuration could not be read.
    #[error("cannot use the system DNS configuration: {0}")]
    System(String),
    /// hickory refused the configuration.
    #[error("cannot build DNS resolver: {0}")]
    Build(String),
}

/// A fully qualified DNS name from text, label by label: DNS labels may hold any octets
/// (SPF's suite uses `foo:bar/baz.example.com`), which the presentation-format parser
/// rejects. `None` for an empty label or one over 63 octets.
pub fn name_from_text(text: &str) -> Option<hickory_proto::rr::Name> {
    let t = text.trim_end_matches('.');
    if t.is_empty() || t.len() > 253 {
        return None;
    }
    let labels: Vec<&[u8]> = t.split('.').map(str::as_bytes).collect();
    if labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return None;
    }
    let mut name = hickory_proto::rr::Name::from_labels(labels).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// Parse `HOST:PORT`, `IP:PORT`, `[IPv6]:PORT` or a bare IP (port 53).
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, DnsError> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // A host name: resolved once, now, with the system resolver.
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| DnsError::BadNameserver(text.to_string()))
}

fn options(config: &DnsConfig) -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.timeout = config.timeout;
    opts.attempts = config.attempts.max(1);
    opts.cache_size = config.cache_size;
    // Mail names are fully qualified: never append a search domain.
    opts.ndots = 0;
    opts
}

fn name_servers(config: &DnsConfig) -> Vec<NameServerConfig> {
    config
        .nameservers
        .iter()
        .map(|addr| {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut ns.connections {
                connection.port = addr.port();
            }
            ns
        })
        .collect()
}

/// A caching resolver for `config`.
pub fn resolver(config: &DnsConfig) -> Result<TokioResolver, DnsError> {
    build(config, false, None)
}

/// A resolver that validates DNSSEC itself (for DANE and the posture check): each answer
/// carries its proof (see [`validated`]). It needs upstream servers that return DNSSEC
/// records. `trust_anchor` replaces the root key (tests use their own signed zone).
pub fn validating_resolver(
    config: &DnsConfig,
    trust_anchor: Option<Arc<TrustAnchors>>,
) -> Result<TokioResolver, DnsError> {
    build(config, true, trust_anchor)
}

/// How an answer was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Signed and validated up to a trust anchor.
    Secure,
    /// Provably unsigned (no DS on the way down).
    Insecure,
    /// Signed but failing validation: treat as an attack, never as "no data".
    Bogus,
    /// Could not be determined.
    Indeterminate,
}

/// A validated look-up: the records and the weakest proof among them.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Answer records (without RRSIGs).
    pub records: Vec<hickory_proto::rr::Record>,
    /// The weakest proof among the answers.
    pub proof: Proof,
}

/// Why a validated look-up has no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatedError {
    /// NXDOMAIN or NODATA.
    #[error("no such record")]
    NoRecords,
    /// Validation failed (bogus answer or bogus denial).
    #[error("DNSSEC validation failed: {0}")]
    Bogus(String),
    /// DNS failed (time-out, SERVFAIL).
    #[error("DNS error: {0}")]
    Failed(String),
}

/// Look `name`/`rtype` up with a [`validating_resolver`].
pub async fn validated(
    resolver: &TokioResolver,
    name: &str,
    rtype: hickory_proto::rr::RecordType,
) -> Result<Validated, ValidatedError> {
    use hickory_proto::dnssec::Proof as P;
    let q =
        name_from_text(name).ok_or_else(|| ValidatedError::Failed(format!("bad name {name:?}")))?;
    match resolver.lookup(q, rtype).await {
        Ok(lookup) => {
            let records: Vec<_> = lookup
                .answers()
                .iter()
                .filter(|r| {
                    r.record_type() == rtype
                        || r.record_type() == hickory_proto::rr::RecordType::CNAME
                })
                .cloned()
                .collect();
            let rank = |p: P| match p {
                P::Bogus => 0,
                P::Indeterminate => 1,
                P::Insecure => 2,
                P::Secure => 3,
            };
            let weakest = records
                .iter()
                .map(|r| r.proof)
                .min_by_key(|p| rank(*p))
                .unwrap_or(P::Indeterminate);
            let proof = match weakest {
                P::Secure => Proof::Secure,
                P::Insecure => Proof::Insecure,
                P::Bogus => Proof::Bogus,
                P::Indeterminate => Proof::Indeterminate,
            };
            if records.is_empty() {
                return Err(ValidatedError::NoRecords);
            }
            Ok(Validated { records, proof })
        }
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Err(ValidatedError::NoRecords),
        Err(e) => {
            let text = e.to_string();
            if text.to_ascii_lowercase().contains("dnssec")
                || text.to_ascii_lowercase().contains("bogus")
            {
                Err(ValidatedError::Bogus(text))
            } else {
                Err(ValidatedError::Failed(text))
            }
        }
    }
}

fn build(
    config: &DnsConfig,
    validate: bool,
    trust_anchor: Option<Arc<TrustAnchors>>,
) -> Result<TokioResolver, DnsError> {
    let mut opts = options(config);
    opts.validate = validate;
    let resolver_config = if config.nameservers.is_empty() {
        let (system, system_opts) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| DnsError::System(e.to_string()))?;
        opts.edns0 = system_opts.edns0;
        system
    } else {
        ResolverConfig::from_name_servers(name_servers(config))
    };
    let mut builder =
        TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
            .with_options(opts);
    if let Some(anchor) = trust_anchor {
        builder = builder.with_trust_anchor(anchor);
    }
    builder.build().map_err(|e| DnsError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_forms() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").ok(),
            "127.0.0.1:5353".parse().ok()
        );
        assert_eq!(parse_nameserver("9.9.9.9").ok(), "9.9.9.9:53".parse().ok());
        assert_eq!(parse_nameserver("[::1]:53").ok(), "[::1]:53".parse().ok());
        assert_eq!(parse_nameserver("::1").ok(), "[::1]:53".parse().ok());
        assert!(parse_nameserver("not a server").is_err());
    }

    #[test]
    fn worst_case_bounds_a_lookup() {
        let config = DnsConfig {
            nameservers: vec!["127.0.0.1:53".parse().expect("addr"); 2],
            timeout: Duration::from_secs(1),
            attempts: 3,
            cache_size: 0,
        };
        assert_eq!(config.worst_case(), Duration::from_secs(6));
    }
}
