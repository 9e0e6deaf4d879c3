//! An authoritative DNS server in process, for tests: zones from fixtures, on
//! `127.0.0.1:0` over UDP and TCP, with the failures real DNS produces.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use veilpost_dns::testserver::{TestDnsServer, Zone};
//!
//! let zone = Zone::parse(
//!     "example.nl.  TXT  \"v=spf1 -all\"\n\
//!      slow.example.nl.  TIMEOUT\n",
//! )
//! .expect("zone");
//! let server = TestDnsServer::start(zone).await?;
//! let resolver = veilpost_dns::resolver(&server.config()).expect("resolver");
//! let txt = resolver.txt_lookup("example.nl.").await.expect("answer");
//! assert_eq!(txt.answers().len(), 1);
//! # Ok(()) }
//! ```
//!
//! Zone fixture lines are `NAME TYPE DATA`: `A`, `AAAA`, `MX PREF HOST`, `TXT "..." ...`
//! (one record; several quoted strings are concatenated, long strings are split into
//! 255-byte pieces), `SPF` (served as TXT when the name has no TXT, as the openspf suite
//! drivers do), `PTR`, `CNAME`, `NS`, `TLSA USAGE SELECTOR MATCHING HEX`, and two behaviours for the types a name has no data
//! for: `TIMEOUT` (never answer) and `SERVFAIL`. `#` starts a comment.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::DnsConfig;

const TTL: u32 = 300;

/// What a name does when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Timeout,
    ServFail,
}

/// DNS data to serve.
#[derive(Debug, Default, Clone)]
pub struct Zone {
    records: HashMap<(LowerName, RecordType), Vec<Record>>,
    /// Legacy SPF (type 99) data, served as TXT where a name has none.
    spf: HashMap<LowerName, Vec<String>>,
    names: HashSet<LowerName>,
    behaviours: HashMap<LowerName, Behaviour>,
    /// Names whose SPF data must not be served as TXT.
    no_txt: HashSet<LowerName>,
}

/// A zone fixture line that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("zone line {line}: {error}")]
pub struct ZoneError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    #[source]
    pub error: RecordError,
}

/// A fixture record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("bad name {0:?}")]
    Name(String),
    #[error("bad {field} {value:?}")]
    Field { field: &'static str, value: String },
    #[error("{rtype} needs {shape}: {data:?}")]
    Shape {
        rtype: &'static str,
        shape: &'static str,
        data: String,
    },
    #[error("unterminated string in {0:?}")]
    Unterminated(String),
    #[error("unexpected {found:?} in {data:?}")]
    Unexpected { found: char, data: String },
    #[error("missing record type in {0:?}")]
    NoType(String),
    #[error("unsupported record type {0}")]
    Unsupported(String),
}

fn name(text: &str) -> Result<Name, RecordError> {
    if text == "." {
        return Ok(Name::root());
    }
    crate::name_from_text(text).ok_or_else(|| RecordError::Name(text.to_string()))
}

impl Zone {
    /// An empty zone.
    pub fn new() -> Zone {
        Zone::default()
    }

    fn insert(&mut self, owner: Name, data: RData) {
        let key = LowerName::new(&owner);
        self.mark(&owner);
        self.records
            .entry((key, data.record_type()))
            .or_default()
            .push(Record::from_rdata(owner, TTL, data));
    }

    /// The name and its ancestors exist (empty non-terminals answer NODATA, not NXDOMAIN).
    fn mark(&mut self, owner: &Name) {
        let mut n = owner.clone();
        loop {
            self.names.insert(LowerName::new(&n));
            if n.is_root() {
                break;
            }
            n = n.base_name();
        }
    }

    /// Add a TXT record made of `strings` (each split into 255-byte pieces).
    pub fn txt(&mut self, owner: &str, strings: &[&str]) -> Result<&mut Self, RecordError> {
        let mut pieces = Vec::new();
        for s in strings {
            let bytes = s.as_bytes();
            if bytes.is_empty() {
                pieces.push(Box::<[u8]>::from(&[][..]));
            }
            for chunk in bytes.chunks(255) {
                pieces.push(Box::<[u8]>::from(chunk));
            }
        }
        let data = RData::TXT(TXT::from_bytes(pieces.iter().map(|p| &p[..]).collect()));
        self.insert(name(owner)?, data);
        Ok(self)
    }

    /// Add an A or AAAA record.
    pub fn ip(&mut self, owner: &str, ip: IpAddr) -> Result<&mut Self, RecordError> {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        self.insert(name(owner)?, data);
        Ok(self)
    }

    /// Add an MX record.
    pub fn mx(
        &mut self,
        owner: &str,
        preference: u16,
        host: &str,
    ) -> Result<&mut Self, RecordError> {
        self.insert(name(owner)?, RData::MX(MX::new(preference, name(host)?)));
        Ok(self)
    }

    /// `owner` exists but has no TXT record, even if it has legacy SPF data (the openspf
    /// suite's `TXT: NONE`).
    pub fn no_txt(&mut self, owner: &str) -> Result<&mut Self, RecordError> {
        let n = name(owner)?;
        self.mark(&n);
        self.no_txt.insert(LowerName::new(&n));
        Ok(self)
    }

    /// Make `owner` time out (no answer at all).
    pub fn timeout(&mut self, owner: &str) -> Result<&mut Self, RecordError> {
        let n = name(owner)?;
        self.behaviours
            .insert(LowerName::new(&n), Behaviour::Timeout);
        Ok(self)
    }

    /// Make `owner` answer SERVFAIL.
    pub fn servfail(&mut self, owner: &str) -> Result<&mut Self, RecordError> {
        let n = name(owner)?;
        self.behaviours
            .insert(LowerName::new(&n), Behaviour::ServFail);
        Ok(self)
    }

    /// Add a record from its type and presentation data (see the module docs).
    pub fn record(
        &mut self,
        owner: &str,
        rtype: &str,
        data: &str,
    ) -> Result<&mut Self, RecordError> {
        match rtype.to_ascii_uppercase().as_str() {
            "A" | "AAAA" => {
                let ip = IpAddr::from_str(data.trim()).map_err(|_| RecordError::Field {
                    field: "IP address",
                    value: data.to_string(),
                })?;
                self.ip(owner, ip)
            }
            "MX" => {
                let (pref, host) =
                    data.trim().split_once(char::is_whitespace).ok_or_else(|| {
                        RecordError::Shape {
                            rtype: "MX",
                            shape: "PREF HOST",
                            data: data.to_string(),
                        }
                    })?;
                let pref = pref.parse().map_err(|_| RecordError::Field {
                    field: "MX preference",
                    value: pref.to_string(),
                })?;
                self.mx(owner, pref, host.trim())
            }
            "TXT" => {
                let strings = quoted_strings(data)?;
                let refs: Vec<&str> = strings.iter().map(String::as_str).collect();
                self.txt(owner, &refs)
            }
            "SPF" => {
                let strings = quoted_strings(data)?;
                let n = name(owner)?;
                self.mark(&n);
                self.spf
                    .entry(LowerName::new(&n))
                    .or_default()
                    .push(strings.concat());
                Ok(self)
            }
            "PTR" => {
                self.insert(name(owner)?, RData::PTR(PTR(name(data.trim())?)));
                Ok(self)
            }
            "CNAME" => {
                self.insert(name(owner)?, RData::CNAME(CNAME(name(data.trim())?)));
                Ok(self)
            }
            "NS" => {
                self.insert(name(owner)?, RData::NS(NS(name(data.trim())?)));
                Ok(self)
            }
            "TLSA" => {
                let f: Vec<&str> = data.split_whitespace().collect();
                let [usage, selector, matching, hex @ ..] = f.as_slice() else {
                    return Err(RecordError::Shape {
                        rtype: "TLSA",
                        shape: "USAGE SELECTOR MATCHING HEX",
                        data: data.to_string(),
                    });
                };
                let num = |v: &str| {
                    v.parse::<u8>().map_err(|_| RecordError::Field {
                        field: "TLSA field",
                        value: v.to_string(),
                    })
                };
                let hex: String = hex.concat();
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| RecordError::Field {
                        field: "TLSA hex",
                        value: hex.clone(),
                    })?;
                let tlsa = hickory_proto::rr::rdata::TLSA::new(
                    num(usage)?.into(),
                    num(selector)?.into(),
                    num(matching)?.into(),
                    bytes,
                );
                self.insert(name(owner)?, RData::TLSA(tlsa));
                Ok(self)
            }
            "TIMEOUT" => self.timeout(owner),
            "SERVFAIL" => self.servfail(owner),
            other => Err(RecordError::Unsupported(other.to_string())),
        }
    }

    /// Parse a zone fixture (see the module docs).
    pub fn parse(text: &str) -> Result<Zone, ZoneError> {
        let mut zone = Zone::new();
        for (i, raw) in text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            let err = |error: RecordError| ZoneError { line: i + 1, error };
            let mut parts = line.splitn(3, char::is_whitespace);
            let owner = parts.next().unwrap_or_default();
            let rest = parts.collect::<Vec<_>>().join(" ");
            let rest = rest.trim_start();
            let (rtype, data) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if rtype.is_empty() {
                return Err(err(RecordError::NoType(line.to_string())));
            }
            zone.record(owner, rtype, data.trim()).map_err(err)?;
        }
        Ok(zone)
    }

    /// The answer to one question.
    fn answer(&self, qname: &LowerName, qtype: RecordType) -> Answer {
        // A behaviour applies to the types the name has no data for (the openspf suite's
        // `TXT: ...` next to `TIMEOUT`: TXT answers, the rest times out).
        let has_data = self.records.contains_key(&(qname.clone(), qtype))
            || (qtype == RecordType::TXT
                && self.spf.contains_key(qname)
                && !self.no_txt.contains(qname));
        if !has_data && let Some(b) = self.behaviours.get(qname) {
            return match b {
                Behaviour::Timeout => Answer::Silence,
                Behaviour::ServFail => Answer::Code(ResponseCode::ServFail),
            };
        }
        let mut records = Vec::new();
        let mut current = qname.clone();
        // Follow CNAMEs inside the zone, a few steps at most.
        for _ in 0..8 {
            if qtype != RecordType::CNAME
                && let Some(cname) = self.records.get(&(current.clone(), RecordType::CNAME))
            {
                records.extend(cname.iter().cloned());
                if let Some(RData::CNAME(target)) = cname.first().map(|r| &r.data) {
                    current = LowerName::new(&target.0);
                    continue;
                }
            }
            break;
        }
        if let Some(found) = self.records.get(&(current.clone(), qtype)) {
            records.extend(found.iter().cloned());
        } else if qtype == RecordType::TXT
            && !self.no_txt.contains(&current)
            && let Some(spf) = self.spf.get(&current)
        {
            for value in spf {
                // A record with no strings is not valid on the wire: one empty string.
                let mut pieces: Vec<&[u8]> = value.as_bytes().chunks(255).collect();
                if pieces.is_empty() {
                    pieces.push(b"");
                }
                let data = RData::TXT(TXT::from_bytes(pieces));
                records.push(Record::from_rdata(Name::from(current.clone()), TTL, data));
            }
        }
        if records.is_empty() && !self.names.contains(qname) {
            return Answer::Code(ResponseCode::NXDomain);
        }
        Answer::Records(records)
    }
}

enum Answer {
    Silence,
    Code(ResponseCode),
    Records(Vec<Record>),
}

fn strip_comment(line: &str) -> &str {
    let mut in_quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '#' if !in_quote => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `"a" "b"` -> `["a", "b"]`; an unquoted value is one string. `\"` and `\\` escape.
fn quoted_strings(data: &str) -> Result<Vec<String>, RecordError> {
    let data = data.trim();
    if !data.starts_with('"') {
        return Ok(vec![data.to_string()]);
    }
    let mut out = Vec::new();
    let mut chars = data.chars();
    loop {
        match chars.next() {
            None => break,
            Some(c) if c.is_whitespace() => continue,
            Some('"') => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(RecordError::Unterminated(data.to_string())),
                        Some('"') => break,
                        Some('\\') => s.push(chars.next().unwrap_or('\\')),
                        Some(c) => s.push(c),
                    }
                }
                out.push(s);
            }
            Some(c) => {
                return Err(RecordError::Unexpected {
                    found: c,
                    data: data.to_string(),
                });
            }
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct Handler(Arc<Zone>);

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let metadata = Metadata::response_from_request(&request.metadata);
        let fallback = |code: ResponseCode| {
            let mut m = metadata;
            m.response_code = code;
            ResponseInfo::from(Header {
                metadata: m,
                counts: HeaderCounts::default(),
            })
        };
        let Ok(info) = request.request_info() else {
            let response = MessageResponseBuilder::from_message_request(request)
                .error_msg(&request.metadata, ResponseCode::FormErr);
            return response_handle
                .send_response(response)
                .await
                .unwrap_or_else(|_| fallback(ResponseCode::FormErr));
        };
        let qname = info.query.name().clone();
        let qtype = info.query.query_type();
        match self.0.answer(&qname, qtype) {
            Answer::Silence => fallback(ResponseCode::ServFail),
            Answer::Code(code) => {
                let response = MessageResponseBuilder::from_message_request(request)
                    .error_msg(&request.metadata, code);
                response_handle
                    .send_response(response)
                    .await
                    .unwrap_or_else(|_| fallback(code))
            }
            Answer::Records(records) => {
                let mut m = metadata;
                m.authoritative = true;
                m.response_code = ResponseCode::NoError;
                let response = MessageResponseBuilder::from_message_request(request).build(
                    m,
                    records.iter(),
                    std::iter::empty(),
                    std::iter::empty(),
                    std::iter::empty(),
                );
                response_handle
                    .send_response(response)
                    .await
                    .unwrap_or_else(|_| fallback(ResponseCode::ServFail))
            }
        }
    }
}

/// A running test server. Dropping it stops it.
#[derive(Debug)]
pub struct TestDnsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestDnsServer {
    /// Serve `zone` on an ephemeral port of 127.0.0.1 (the same port for UDP and TCP).
    pub async fn start(zone: Zone) -> std::io::Result<TestDnsServer> {
        // Find a port free for both protocols.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            let addr = udp.local_addr()?;
            match TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp),
                Err(_) => continue,
            }
        };
        let addr = udp.local_addr()?;
        let mut server = Server::new(Handler(Arc::new(zone)));
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Ok(TestDnsServer { addr, task })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A resolver configuration that asks only this server, with a short timeout (the
    /// zone's `TIMEOUT` names then fail within a second).
    pub fn config(&self) -> DnsConfig {
        DnsConfig {
            nameservers: vec![self.addr],
            timeout: Duration::from_millis(500),
            attempts: 1,
            cache_size: 1024,
        }
    }
}

impl Drop for TestDnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A DNSSEC-signed zone served in process, with the trust anchor that validates it: the
/// real thing for tests of validating look-ups (DANE, the posture check), no internet.
pub struct SignedTestDnsServer {
    server: TestDnsServer,
    anchor: Arc<hickory_proto::dnssec::TrustAnchors>,
}

impl std::fmt::Debug for SignedTestDnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedTestDnsServer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl SignedTestDnsServer {
    /// Serve `records` (`(name, type, data)` as in zone fixtures; A, AAAA, MX, TXT, CNAME,
    /// NS) as one signed root zone (a fresh ECDSA P-256 key, NSEC denial), so validation
    /// needs no delegation chain: the key is the trust anchor.
    pub async fn start(records: &[(&str, &str, &str)]) -> std::io::Result<Self> {
        use hickory_proto::dnssec::crypto::EcdsaSigningKey;
        use hickory_proto::dnssec::rdata::DNSKEY;
        use hickory_proto::dnssec::{Algorithm, DnssecSigner, SigningKey as _, TrustAnchors};
        use hickory_proto::rr::rdata::SOA;
        use hickory_server::dnssec::NxProofKind;
        use hickory_server::store::in_memory::InMemoryZoneHandler;
        use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

        let err = std::io::Error::other::<RecordError>;
        let origin = Name::root();
        let mut handler =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
                origin.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                Some(NxProofKind::Nsec),
            );
        let ns = name("ns.root-servers.test").map_err(err)?;
        let soa = SOA::new(
            ns.clone(),
            name("hostmaster.root-servers.test").map_err(err)?,
            1,
            3600,
            600,
            86400,
            300,
        );
        handler.upsert_mut(Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)), 1);
        handler.upsert_mut(
            Record::from_rdata(origin.clone(), TTL, RData::NS(NS(ns))),
            1,
        );
        let mut zone = Zone::new();
        for (owner, rtype, data) in records {
            zone.record(owner, rtype, data).map_err(err)?;
        }
        for set in zone.records.values() {
            for record in set {
                handler.upsert_mut(record.clone(), 1);
            }
        }
        let algorithm = Algorithm::ECDSAP256SHA256;
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(algorithm).map_err(std::io::Error::other)?;
        let key = EcdsaSigningKey::from_pkcs8(&pkcs8, algorithm).map_err(std::io::Error::other)?;
        let public = key.to_public_key().map_err(std::io::Error::other)?;
        let mut anchor = TrustAnchors::empty();
        anchor.insert(&public);
        let dnskey = DNSKEY::new(true, true, false, public);
        let signer = DnssecSigner::new(
            dnskey,
            Box::new(key),
            origin.clone(),
            Duration::from_secs(86_400),
        );
        handler
            .add_zone_signing_key_mut(signer)
            .map_err(std::io::Error::other)?;
        handler.secure_zone_mut().map_err(std::io::Error::other)?;
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);

        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            let addr = udp.local_addr()?;
            if let Ok(tcp) = TcpListener::bind(addr).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr()?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Ok(SignedTestDnsServer {
            server: TestDnsServer { addr, task },
            anchor: Arc::new(anchor),
        })
    }

    /// The resolver configuration for this server.
    pub fn config(&self) -> DnsConfig {
        self.server.config()
    }

    /// The trust anchor (the zone's key) a validating resolver needs.
    pub fn trust_anchor(&self) -> Arc<hickory_proto::dnssec::TrustAnchors> {
        self.anchor.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::net::NetError;

    /// A bad fixture line says which line and what, as a typed error.
    #[test]
    fn bad_lines_are_typed_errors() {
        for (text, want) in [
            (
                "a.nl. A 300.1.1.1",
                RecordError::Field {
                    field: "IP address",
                    value: "300.1.1.1".into(),
                },
            ),
            (
                "a.nl. MX mx.a.nl.",
                RecordError::Shape {
                    rtype: "MX",
                    shape: "PREF HOST",
                    data: "mx.a.nl.".into(),
                },
            ),
            (
                "a.nl. TXT \"open",
                RecordError::Unterminated("\"open".into()),
            ),
            ("a.nl. HINFO x", RecordError::Unsupported("HINFO".into())),
            ("a.nl.", RecordError::NoType("a.nl.".into())),
        ] {
            let e = Zone::parse(&format!("\n{text}\n")).expect_err(text);
            assert_eq!((e.line, e.error), (2, want), "{text}");
        }
    }

    const ZONE: &str = r#"
        # A small zone with every supported kind of record.
        example.nl.        A      192.0.2.1
        example.nl.        AAAA   2001:db8::1
        example.nl.        MX     10 mx.example.nl.
        example.nl.        TXT    "v=spf1 " "ip4:192.0.2.0/24 -all"
        legacy.example.nl. SPF    "v=spf1 -all"
        www.example.nl.    CNAME  example.nl.
        1.2.0.192.in-addr.arpa. PTR example.nl.
        x._domainkey.example.nl. TXT "v=DKIM1; p=abc # not a comment"
        slow.example.nl.   TIMEOUT
        broken.example.nl. SERVFAIL
    "#;

    async fn server() -> (TestDnsServer, crate::TokioResolver) {
        let zone = Zone::parse(ZONE).expect("zone parses");
        let server = TestDnsServer::start(zone).await.expect("server starts");
        let resolver = crate::resolver(&server.config()).expect("resolver");
        (server, resolver)
    }

    fn txt_strings(lookup: &hickory_resolver::lookup::Lookup) -> Vec<String> {
        lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn answers_records() {
        let (_server, r) = server().await;
        let txt = r.txt_lookup("example.nl.").await.expect("txt");
        assert_eq!(txt_strings(&txt), ["v=spf1 ip4:192.0.2.0/24 -all"]);
        let spf = r
            .txt_lookup("legacy.example.nl.")
            .await
            .expect("spf as txt");
        assert_eq!(txt_strings(&spf), ["v=spf1 -all"]);
        let mx = r.mx_lookup("example.nl.").await.expect("mx");
        assert_eq!(mx.answers().len(), 1);
        let ips = r.lookup_ip("www.example.nl.").await.expect("cname to a");
        assert!(ips.iter().any(|ip| ip == IpAddr::from([192, 0, 2, 1])));
        let ptr = r
            .reverse_lookup(IpAddr::from([192, 0, 2, 1]))
            .await
            .expect("ptr");
        assert_eq!(ptr.answers().len(), 1);
        let key = r
            .txt_lookup("x._domainkey.example.nl.")
            .await
            .expect("dkim");
        assert_eq!(txt_strings(&key), ["v=DKIM1; p=abc # not a comment"]);
    }

    #[tokio::test]
    async fn negative_answers() {
        let (_server, r) = server().await;
        let nx = r
            .txt_lookup("nothere.example.nl.")
            .await
            .expect_err("nxdomain");
        assert!(nx.is_nx_domain(), "{nx:?}");
        // The name exists, the type does not: NODATA, not NXDOMAIN.
        let nodata = r.txt_lookup("www2.example.nl.").await.expect_err("nx");
        assert!(nodata.is_nx_domain());
        let nodata = r.mx_lookup("legacy.example.nl.").await.expect_err("nodata");
        assert!(
            nodata.is_no_records_found() && !nodata.is_nx_domain(),
            "{nodata:?}"
        );
    }

    #[tokio::test]
    async fn failures_are_errors_within_the_timeout() {
        let (_server, r) = server().await;
        let start = std::time::Instant::now();
        let slow: NetError = r.txt_lookup("slow.example.nl.").await.expect_err("timeout");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert!(!slow.is_nx_domain(), "{slow:?}");
        let broken = r
            .txt_lookup("broken.example.nl.")
            .await
            .expect_err("servfail");
        assert!(
            !broken.is_nx_domain() && !broken.is_no_records_found(),
            "{broken:?}"
        );
    }

    #[tokio::test]
    async fn a_64_kilobyte_txt_record_comes_over_tcp() {
        let big = "x".repeat(60_000);
        let mut zone = Zone::new();
        zone.txt("big.example.nl.", &[&big]).expect("txt");
        let server = TestDnsServer::start(zone).await.expect("server");
        let r = crate::resolver(&server.config()).expect("resolver");
        let txt = r.txt_lookup("big.example.nl.").await.expect("big txt");
        assert_eq!(txt_strings(&txt)[0].len(), 60_000);
    }

    #[tokio::test]
    async fn signed_zone_validates_with_its_anchor_only() {
        use crate::{Proof, ValidatedError, validated, validating_resolver};
        use hickory_proto::rr::RecordType;
        let server = SignedTestDnsServer::start(&[
            ("signed.test", "MX", "10 mx.signed.test."),
            ("mx.signed.test", "A", "192.0.2.25"),
            ("signed.test", "TXT", "\"v=spf1 mx -all\""),
        ])
        .await
        .expect("signed server");
        let r =
            validating_resolver(&server.config(), Some(server.trust_anchor())).expect("resolver");
        let mx = validated(&r, "signed.test", RecordType::MX)
            .await
            .expect("mx");
        assert_eq!(mx.proof, Proof::Secure, "{mx:?}");
        let a = validated(&r, "mx.signed.test", RecordType::A)
            .await
            .expect("a");
        assert_eq!(a.proof, Proof::Secure);
        let none = validated(&r, "nothere.signed.test", RecordType::A).await;
        assert_eq!(none.expect_err("nx"), ValidatedError::NoRecords);
        // Another zone's key: the same answers no longer validate.
        let other = SignedTestDnsServer::start(&[]).await.expect("other");
        let wrong =
            validating_resolver(&server.config(), Some(other.trust_anchor())).expect("resolver");
        match validated(&wrong, "signed.test", RecordType::MX).await {
            Ok(v) => assert_ne!(v.proof, Proof::Secure, "{v:?}"),
            Err(e) => assert!(
                matches!(e, ValidatedError::Bogus(_) | ValidatedError::Failed(_)),
                "{e:?}"
            ),
        }
    }

    #[test]
    fn fixture_errors_name_the_line() {
        let err = Zone::parse("ok.nl. A 192.0.2.1\nbad.nl. A not-an-ip\n").expect_err("bad");
        assert_eq!(err.line, 2);
        assert!(Zone::parse("x.nl. TXT \"open").is_err());
        assert!(Zone::parse("x.nl. WKS foo").is_err());
    }
}
