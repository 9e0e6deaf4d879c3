//! Network probes: STARTTLS on an MX (negotiated version, suite, key exchange, the
//! certificate chain and whether it validates), whether the server still accepts TLS 1.0,
//! 1.1 or weak TLS 1.2 suites (by a raw ClientHello, since rustls cannot speak them), and
//! an HTTPS GET for MTA-STS policies.
//!
//! Certificate problems are recorded, not fatal, so one connection tells both "is STARTTLS
//! offered" and "is the certificate right"; signatures in the handshake are still checked.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::{Error, Options};

/// What a STARTTLS probe saw.
#[derive(Debug, Clone, Default)]
pub struct SmtpProbe {
    /// Could not talk SMTP at all (connection refused, no greeting, time-out).
    pub error: Option<String>,
    /// STARTTLS was advertised.
    pub starttls: bool,
    /// The TLS handshake failed (no common version or suite, reset).
    pub tls_error: Option<String>,
    /// Negotiated protocol (`TLS 1.3`, `TLS 1.2`).
    pub version: Option<String>,
    /// Negotiated cipher suite.
    pub suite: Option<String>,
    /// Negotiated key-exchange group.
    pub kx_group: Option<String>,
    /// The certificate chain, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// Why the chain does not validate for the host name (`None`: it validates).
    pub cert_error: Option<String>,
    /// Legacy versions or weak suites the server accepted (`TLS 1.0`, `TLS 1.1`, suites).
    pub legacy: Vec<String>,
}

/// Probes with one set of trusted roots.
#[derive(Clone)]
pub struct Prober {
    base: Arc<dyn ServerCertVerifier>,
    provider: Arc<CryptoProvider>,
    smtp_port: u16,
    https_port: u16,
    timeout: Duration,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober").finish_non_exhaustive()
    }
}

/// Why a probe (SMTP STARTTLS, an HTTPS fetch) could not finish. The text is what the
/// report shows.
#[derive(Debug)]
pub enum ProbeError {
    /// No answer within the time-out (seconds).
    Timeout(u64),
    Connect {
        target: String,
        source: std::io::Error,
    },
    Read(std::io::Error),
    Write(std::io::Error),
    Closed,
    ReplyTooLong,
    NotSmtp(String),
    /// A step answered with an unexpected code (`greeting`, `EHLO`, `STARTTLS`).
    Refused {
        step: &'static str,
        code: u16,
    },
    /// Bytes after the STARTTLS reply: a command injection risk.
    DataAfterStarttls,
    Tls(rustls::Error),
    /// The TLS handshake failed; in words people know.
    Handshake(String),
    NotAServerName(String),
    /// The HTTP answer could not be read (`what` says how).
    Http(&'static str),
    BodyTooLarge {
        max: usize,
        truncated: bool,
    },
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Timeout(s) => write!(f, "no answer within {s} s"),
            ProbeError::Connect { target, source } => {
                write!(f, "cannot connect to {target}: {source}")
            }
            ProbeError::Read(e) => write!(f, "read error: {e}"),
            ProbeError::Write(e) => e.fmt(f),
            ProbeError::Closed => f.write_str("connection closed"),
            ProbeError::ReplyTooLong => f.write_str("reply too long"),
            ProbeError::NotSmtp(line) => write!(f, "not an SMTP reply: {line:?}"),
            ProbeError::Refused {
                step: "greeting",
                code,
            } => write!(f, "greeting {code}"),
            ProbeError::Refused { step, code } => write!(f, "{step} answered {code}"),
            ProbeError::DataAfterStarttls => {
                f.write_str("data after STARTTLS reply (command injection risk)")
            }
            ProbeError::Tls(e) => e.fmt(f),
            ProbeError::Handshake(why) => f.write_str(why),
            ProbeError::NotAServerName(host) => {
                write!(f, "{host} is not a valid TLS server name")
            }
            ProbeError::Http(what) => f.write_str(what),
            ProbeError::BodyTooLarge { max, truncated } => {
                write!(f, "body larger than {max} bytes")?;
                if *truncated {
                    f.write_str(" or truncated")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ProbeError {}

#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    result: Mutex<Option<Result<(), rustls::Error>>>,
    chain: Mutex<Vec<Vec<u8>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let r = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        if let Ok(mut c) = self.chain.lock() {
            *c = chain;
        }
        if let Ok(mut slot) = self.result.lock() {
            *slot = Some(r.map(|_| ()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A certificate error in words people know.
fn describe(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "certificate expired".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "certificate not yet valid".into()
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => "certificate not valid for this host name".into(),
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "certificate not issued by a trusted authority".into()
        }
        rustls::Error::InvalidCertificate(C::Revoked) => "certificate revoked".into(),
        other => other.to_string(),
    }
}

async fn timed<T>(
    d: Duration,
    f: impl Future<Output = Result<T, ProbeError>>,
) -> Result<T, ProbeError> {
    tokio::time::timeout(d, f)
        .await
        .unwrap_or_else(|_| Err(ProbeError::Timeout(d.as_secs())))
}

/// Read one (possibly multi-line) SMTP reply: (code, lines).
async fn reply<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> Result<(u16, Vec<String>), ProbeError> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).await.map_err(ProbeError::Read)?;
        if n == 0 {
            return Err(ProbeError::Closed);
        }
        if line.len() > 4096 || lines.len() > 100 {
            return Err(ProbeError::ReplyTooLong);
        }
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| ProbeError::NotSmtp(line.trim_end().to_string()))?;
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").trim_end().to_string());
        if last {
            return Ok((code, lines));
        }
    }
}

/// Greeting, EHLO, STARTTLS: the plain stream, ready for a ClientHello. `Ok(None)` when
/// STARTTLS is not offered.
async fn starttls(addr: SocketAddr) -> Result<Option<TcpStream>, ProbeError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ProbeError::Connect {
            target: addr.to_string(),
            source,
        })?;
    let mut r = BufReader::new(stream);
    let (code, _) = reply(&mut r).await?;
    if code != 220 {
        return Err(ProbeError::Refused {
            step: "greeting",
            code,
        });
    }
    r.get_mut()
        .write_all(b"EHLO posture.veilpost.invalid\r\n")
        .await
        .map_err(ProbeError::Write)?;
    let (code, lines) = reply(&mut r).await?;
    if code != 250 {
        return Err(ProbeError::Refused { step: "EHLO", code });
    }
    if !lines.iter().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("STARTTLS"))
    }) {
        let _ = r.get_mut().write_all(b"QUIT\r\n").await;
        return Ok(None);
    }
    r.get_mut()
        .write_all(b"STARTTLS\r\n")
        .await
        .map_err(ProbeError::Write)?;
    let (code, _) = reply(&mut r).await?;
    if code != 220 {
        return Err(ProbeError::Refused {
            step: "STARTTLS",
            code,
        });
    }
    if !r.buffer().is_empty() {
        return Err(ProbeError::DataAfterStarttls);
    }
    Ok(Some(r.into_inner()))
}

impl Prober {
    pub(crate) fn new(opts: &Options) -> Result<Prober, Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut extra: Vec<CertificateDer<'static>> = Vec::new();
        for pem in &opts.extra_roots_pem {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                extra.push(cert.map_err(|e| Error::Roots(e.to_string()))?);
            }
        }
        let base: Arc<dyn ServerCertVerifier> = if opts.only_extra_roots {
            let mut roots = RootCertStore::empty();
            for c in extra {
                roots.add(c).map_err(|e| Error::Roots(e.to_string()))?;
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| Error::Roots(e.to_string()))?
        } else {
            Arc::new(
                rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                    .map_err(|e| Error::Roots(e.to_string()))?,
            )
        };
        Ok(Prober {
            base,
            provider,
            smtp_port: opts.smtp_port,
            https_port: opts.https_port,
            timeout: opts.connect_timeout,
        })
    }

    fn config(&self, recorder: Arc<Recording>) -> Result<ClientConfig, ProbeError> {
        let mut c = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(ProbeError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(recorder)
            .with_no_client_auth();
        c.enable_sni = true;
        Ok(c)
    }

    /// Probe STARTTLS on `host` at `ip`.
    pub async fn smtp(&self, host: &str, ip: IpAddr) -> SmtpProbe {
        let addr = SocketAddr::new(ip, self.smtp_port);
        let mut probe = SmtpProbe::default();
        let stream = match timed(self.timeout, starttls(addr)).await {
            Ok(Some(s)) => s,
            Ok(None) => return probe,
            Err(e) => {
                probe.error = Some(e.to_string());
                return probe;
            }
        };
        probe.starttls = true;
        let recorder = Arc::new(Recording {
            inner: self.base.clone(),
            result: Mutex::new(None),
            chain: Mutex::new(Vec::new()),
        });
        let config = match self.config(recorder.clone()) {
            Ok(c) => c,
            Err(e) => {
                probe.tls_error = Some(e.to_string());
                return probe;
            }
        };
        let Ok(name) = ServerName::try_from(host.to_string()) else {
            probe.tls_error = Some(ProbeError::NotAServerName(host.to_string()).to_string());
            return probe;
        };
        let handshake = TlsConnector::from(Arc::new(config)).connect(name, stream);
        match tokio::time::timeout(self.timeout, handshake).await {
            Ok(Ok(mut tls)) => {
                let (_, conn) = tls.get_ref();
                probe.version = conn.protocol_version().map(|v| match v {
                    rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_string(),
                    rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_string(),
                    other => format!("{other:?}"),
                });
                probe.suite = conn
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()));
                probe.kx_group = conn
                    .negotiated_key_exchange_group()
                    .map(|g| format!("{:?}", g.name()));
                let _ = tls.write_all(b"QUIT\r\n").await;
                let _ = tls.shutdown().await;
            }
            Ok(Err(e)) => probe.tls_error = Some(e.to_string()),
            Err(_) => probe.tls_error = Some("TLS handshake timed out".into()),
        }
        probe.chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
        probe.cert_error = recorder
            .result
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .and_then(Result::err)
            .map(|e| describe(&e));
        // What else the server accepts, each on a fresh connection, all at once.
        let mut probes = tokio::task::JoinSet::new();
        for (i, (_, version, suites)) in LEGACY_PROBES.iter().enumerate() {
            let hello = client_hello(*version, suites, host);
            let timeout = self.timeout;
            probes.spawn(async move {
                let accepted = timed(timeout, async {
                    let Some(mut s) = starttls(addr).await? else {
                        return Ok(None);
                    };
                    server_hello(&mut s, &hello).await
                })
                .await;
                (i, accepted)
            });
        }
        let mut accepted: Vec<(usize, u16)> = Vec::new();
        while let Some(joined) = probes.join_next().await {
            if let Ok((i, Ok(Some((v, suite))))) = joined
                && v == LEGACY_PROBES[i].1
            {
                accepted.push((i, suite));
            }
        }
        accepted.sort_unstable();
        for (i, suite) in accepted {
            probe.legacy.push(format!(
                "{} ({:?})",
                LEGACY_PROBES[i].0,
                rustls::CipherSuite::from(suite)
            ));
        }
        probe
    }

    /// GET `https://HOST/PATH` (at `ip`), validating the certificate strictly, without
    /// redirects, with the body capped at `max` bytes: (status, content type, body).
    pub async fn https_get(
        &self,
        host: &str,
        ip: IpAddr,
        path: &str,
        max: usize,
    ) -> Result<(u16, String, Vec<u8>), ProbeError> {
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(ProbeError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(self.base.clone())
            .with_no_client_auth();
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ProbeError::NotAServerName(host.to_string()))?;
        let addr = SocketAddr::new(ip, self.https_port);
        timed(self.timeout, async {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|source| ProbeError::Connect {
                    target: format!("{host} ({addr})"),
                    source,
                })?;
            let mut tls = TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| {
                    ProbeError::Handshake(
                        match &e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                            Some(r) => describe(r),
                            None => e.to_string(),
                        },
                    )
                })?;
            tls.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: veilpost-posture\r\nAccept: text/plain\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .map_err(ProbeError::Write)?;
            let mut raw = Vec::new();
            (&mut tls)
                .take((max + 16 * 1024) as u64)
                .read_to_end(&mut raw)
                .await
                .or_else(|e| {
                    // Servers often close without close_notify; what was read counts.
                    if e.kind() == std::io::ErrorKind::UnexpectedEof { Ok(0) } else { Err(e) }
                })
                .map_err(ProbeError::Read)?;
            parse_http(&raw, max)
        })
        .await
    }
}

/// A minimal HTTP/1.1 response parser: status, content type, body (Content-Length or
/// chunked, capped at `max`).
fn parse_http(raw: &[u8], max: usize) -> Result<(u16, String, Vec<u8>), ProbeError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ProbeError::Http("no HTTP header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or(ProbeError::Http("bad HTTP status line"))?;
    let mut content_type = String::new();
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = v.trim().to_ascii_lowercase(),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "content-length" => length = v.trim().parse().ok(),
            _ => {}
        }
    }
    let body = &raw[end + 4..];
    let mut out = Vec::new();
    if chunked {
        let mut rest = body;
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or(ProbeError::Http("truncated chunk"))?;
            let size_text = String::from_utf8_lossy(&rest[..line_end]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| ProbeError::Http("bad chunk size"))?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            if rest.len() < size || out.len() + size > max {
                return Err(ProbeError::BodyTooLarge {
                    max,
                    truncated: true,
                });
            }
            out.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or(&[]);
        }
    } else {
        let take = length.unwrap_or(body.len());
        if take > max || body.len() > max {
            return Err(ProbeError::BodyTooLarge {
                max,
                truncated: false,
            });
        }
        out.extend_from_slice(&body[..take.min(body.len())]);
    }
    Ok((status, content_type, out))
}

/// Older versions and weak suites, probed by a ClientHello rustls will not send.
const LEGACY_PROBES: &[(&str, u16, &[u16])] = &[
    ("TLS 1.0", 0x0301, ALL_OLD_SUITES),
    ("TLS 1.1", 0x0302, ALL_OLD_SUITES),
    (PHASE_OUT_LABEL, 0x0303, PHASE_OUT_SUITES),
    (INSUFFICIENT_LABEL, 0x0303, INSUFFICIENT_SUITES),
];

/// Label of an accepted TLS 1.2 suite the NCSC guidelines call "phase out".
pub(crate) const PHASE_OUT_LABEL: &str = "TLS 1.2 phase-out suite";
/// Label of an accepted TLS 1.2 suite the NCSC guidelines call "insufficient".
pub(crate) const INSUFFICIENT_LABEL: &str = "TLS 1.2 insufficient suite";

/// Suites TLS 1.0/1.1 servers commonly accept.
const ALL_OLD_SUITES: &[u16] = &[
    0xc014, 0xc013, 0xc00a, 0xc009, 0x0039, 0x0033, 0x0035, 0x002f, 0x000a, 0x0005,
];

/// TLS 1.2 suites the NCSC guidelines (2021) list as "phase out": RSA key exchange and
/// 3DES. ECDHE/DHE with AES-CBC is "sufficient" there and passes.
const PHASE_OUT_SUITES: &[u16] = &[0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x000a];

/// "Insufficient": RC4, NULL and export suites.
const INSUFFICIENT_SUITES: &[u16] = &[0x0005, 0x0004, 0x0003, 0x0001, 0x0002, 0x003b, 0x0008];

/// A minimal ClientHello record for `version` offering `suites`.
fn client_hello(version: u16, suites: &[u16], host: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    let mut random = [0u8; 32];
    let _ = aws_lc_rs::rand::fill(&mut random);
    body.extend_from_slice(&random);
    body.push(0); // session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut ext = Vec::new();
    // server_name
    let name = host.as_bytes();
    let mut sni = Vec::new();
    sni.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sni);
    // supported_groups: x25519, secp256r1, secp384r1
    ext.extend_from_slice(&[
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
    ]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    if version >= 0x0303 {
        // signature_algorithms: rsa_pkcs1_sha256, ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha1
        ext.extend_from_slice(&[
            0x00, 0x0d, 0x00, 0x0a, 0x00, 0x08, 0x04, 0x01, 0x04, 0x03, 0x08, 0x04, 0x02, 0x01,
        ]);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut handshake = vec![1u8];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Send `hello`; the (version, suite) of a ServerHello, or `None` for an alert or close.
async fn server_hello<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    hello: &[u8],
) -> Result<Option<(u16, u16)>, ProbeError> {
    s.write_all(hello).await.map_err(ProbeError::Write)?;
    let mut header = [0u8; 5];
    if s.read_exact(&mut header).await.is_err() {
        return Ok(None);
    }
    if header[0] != 0x16 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut body = vec![0u8; len.min(16 * 1024)];
    if s.read_exact(&mut body).await.is_err() || body.first() != Some(&2) || body.len() < 38 {
        return Ok(None);
    }
    let version = u16::from_be_bytes([body[4], body[5]]);
    let sid_len = usize::from(body[38]);
    let suite = body
        .get(39 + sid_len..41 + sid_len)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    Ok(Some((version, suite)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_responses() {
        let (s, ct, body) = parse_http(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
            100,
        )
        .expect("ok");
        assert_eq!(
            (s, ct.as_str(), body.as_slice()),
            (200, "text/plain", &b"hello"[..])
        );
        let (_, _, body) = parse_http(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 100).expect("chunked");
        assert_eq!(body, b"abcde");
        assert!(parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 100).is_err());
        assert!(parse_http(b"garbage", 100).is_err());
    }

    #[test]
    fn client_hello_shape() {
        let h = client_hello(0x0301, ALL_OLD_SUITES, "mx.example.nl");
        assert_eq!(&h[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(usize::from(u16::from_be_bytes([h[3], h[4]])), h.len() - 5);
        assert_eq!(h[5], 1);
        assert_eq!(&h[9..11], &[0x03, 0x01]);
    }
}
