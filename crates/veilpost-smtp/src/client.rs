//! The delivery client: one SMTP transaction to one server, with the TLS requirement the
//! routing policy set. When TLS is required it is never skipped: no STARTTLS, a failed
//! handshake or a certificate that does not verify ends the attempt as a temporary
//! failure, and the queue tries again later.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use veilpost_dns::dane::Tlsa;

use crate::verify;

/// What TLS a delivery needs.
#[derive(Debug, Clone)]
pub enum TlsRequirement {
    /// STARTTLS when offered, any certificate; plaintext when not offered.
    Opportunistic,
    /// STARTTLS required; the certificate must match these (DNSSEC-secure) TLSA records.
    Dane(Vec<Tlsa>),
    /// STARTTLS required; the certificate must be valid (PKIX) for the host name.
    Pkix,
}

impl TlsRequirement {
    pub fn required(&self) -> bool {
        !matches!(self, TlsRequirement::Opportunistic)
    }
}

/// Client settings shared by all deliveries.
#[derive(Clone)]
pub struct ClientSettings {
    /// Our name in EHLO.
    pub helo: String,
    pub connect_timeout: Duration,
    /// Per command (RFC 5321 §4.5.3.2 asks for minutes; we use less and retry).
    pub command_timeout: Duration,
    /// For the final "." of DATA.
    pub data_timeout: Duration,
    provider: Arc<CryptoProvider>,
    pkix: Arc<dyn ServerCertVerifier>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("helo", &self.helo)
            .finish_non_exhaustive()
    }
}

impl ClientSettings {
    /// Settings trusting the system's roots plus `extra_roots_pem` (or only those).
    pub fn new(
        helo: &str,
        extra_roots_pem: &[String],
        only_extra: bool,
    ) -> Result<Self, verify::RootsError> {
        use rustls::pki_types::pem::PemObject;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut extra = Vec::new();
        for pem in extra_roots_pem {
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                extra.push(cert.map_err(verify::RootsError::BadPem)?);
            }
        }
        let pkix = verify::pkix(provider.clone(), &extra, only_extra)?;
        Ok(ClientSettings {
            helo: helo.to_string(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(120),
            data_timeout: Duration::from_secs(600),
            provider,
            pkix,
        })
    }

    fn tls_config(&self, requirement: &TlsRequirement) -> Result<ClientConfig, rustls::Error> {
        let verifier: Arc<dyn ServerCertVerifier> = match requirement {
            TlsRequirement::Opportunistic => {
                Arc::new(verify::Opportunistic::new(self.provider.clone()))
            }
            TlsRequirement::Dane(records) => {
                Arc::new(verify::Dane::new(records.clone(), self.provider.clone()))
            }
            TlsRequirement::Pkix => self.pkix.clone(),
        };
        Ok(ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// One envelope to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub mail_from: &'a str,
    pub rcpt_to: &'a [String],
    pub data: &'a [u8],
    /// Needs SMTPUTF8 (non-ASCII addresses or headers).
    pub smtputf8: bool,
}

/// How a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct DeliveryError {
    /// A 5xx answer: do not retry.
    pub permanent: bool,
    pub text: String,
    /// The failure happened while setting up TLS.
    pub during_tls: bool,
    /// A reused connection failed before anything was sent (the server closed it).
    pub stale: bool,
}

impl DeliveryError {
    fn temp(text: impl Into<String>) -> Self {
        DeliveryError {
            permanent: false,
            text: text.into(),
            during_tls: false,
            stale: false,
        }
    }

    fn tls(text: impl Into<String>) -> Self {
        DeliveryError {
            during_tls: true,
            ..DeliveryError::temp(text)
        }
    }
}

/// What the server accepted: its final reply, and whether TLS (which version) was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub reply: String,
    pub tls: Option<String>,
}

/// An SMTP reply: code and text lines.
#[derive(Debug, Clone)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

const MAX_REPLY_LINES: usize = 100;
const MAX_LINE: usize = 4096;

async fn read_reply<S: AsyncRead + Unpin>(
    r: &mut BufReader<S>,
    timeout: Duration,
) -> Result<Reply, DeliveryError> {
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = tokio::time::timeout(timeout, async {
            let mut limited = (&mut *r).take(MAX_LINE as u64);
            limited.read_until(b'\n', &mut line).await
        })
        .await
        .map_err(|_| DeliveryError::temp("timed out waiting for the server"))?
        .map_err(|e| DeliveryError::temp(format!("connection: {e}")))?;
        if n == 0 {
            return Err(DeliveryError::temp("the server closed the connection"));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let code: u16 = text
            .get(..3)
            .and_then(|c| c.parse().ok())
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| DeliveryError::temp(format!("malformed reply {text:?}")))?;
        let last = text.as_bytes().get(3) != Some(&b'-');
        lines.push(text.get(4..).unwrap_or("").to_string());
        if last {
            return Ok(Reply { code, lines });
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(DeliveryError::temp("reply too long"));
        }
    }
}

/// How a pipelined MAIL, its RCPTs and DATA went: the first refusal in the order they
/// were sent, else on to the data (DATA answered 354). Every recipient must be taken: a
/// delivery is one recipient's, and a refused one is reported, never dropped.
fn judge_pipelined(mail: &Reply, rcpts: &[Reply], data: &Reply) -> Result<(), DeliveryError> {
    if mail.code != 250 {
        return Err(classify("MAIL FROM", mail));
    }
    if let Some(refused) = rcpts.iter().find(|r| !(r.code == 250 || r.code == 251)) {
        return Err(classify("RCPT TO", refused));
    }
    if data.code != 354 {
        return Err(classify("DATA", data));
    }
    Ok(())
}

fn classify(stage: &str, reply: &Reply) -> DeliveryError {
    DeliveryError {
        permanent: reply.code >= 500,
        text: format!("{stage}: {}", reply.text()),
        during_tls: false,
        stale: false,
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    line: &str,
    timeout: Duration,
) -> Result<Reply, DeliveryError> {
    s.get_mut()
        .write_all(line.as_bytes())
        .await
        .map_err(|e| DeliveryError::temp(format!("write: {e}")))?;
    s.get_mut()
        .flush()
        .await
        .map_err(|e| DeliveryError::temp(format!("write: {e}")))?;
    read_reply(s, timeout).await
}

/// Send what opens a transaction (MAIL FROM, or a whole pipelined batch) and read the
/// reply to MAIL FROM. Until that reply nothing is known to have arrived: an I/O failure
/// or a 421 there is `stale` (a kept connection the server dropped; a new one is made).
async fn open_transaction<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    lines: &str,
    timeout: Duration,
) -> Result<Reply, DeliveryError> {
    match command(s, lines, timeout).await {
        Ok(r) if r.code == 421 => Err(DeliveryError {
            stale: true,
            ..classify("MAIL FROM", &r)
        }),
        Ok(r) => Ok(r),
        Err(e) => Err(DeliveryError { stale: true, ..e }),
    }
}

/// Dot-stuff `data` and end it with CRLF "." CRLF. Every bare CR or LF becomes CRLF,
/// so the next server sees the same lines as we do and nothing in the data can read as
/// an end of data to it (SMTP smuggling).
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 40 + 5);
    let mut pos = 0;
    // Line by line, each copied whole (this runs over every byte that leaves).
    while pos < data.len() {
        if data[pos] == b'.' {
            out.push(b'.');
        }
        match memchr::memchr2(b'\r', b'\n', &data[pos..]) {
            Some(k) => {
                let end = pos + k;
                out.extend_from_slice(&data[pos..end]);
                out.extend_from_slice(b"\r\n");
                pos = end
                    + if data[end..].starts_with(b"\r\n") {
                        2
                    } else {
                        1
                    };
            }
            None => {
                out.extend_from_slice(&data[pos..]);
                pos = data.len();
            }
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// EHLO, which must be answered with 250.
async fn say_ehlo<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    settings: &ClientSettings,
    what: &str,
) -> Result<Reply, DeliveryError> {
    let reply = command(
        s,
        &format!("EHLO {}\r\n", settings.helo),
        settings.command_timeout,
    )
    .await?;
    if reply.code != 250 {
        return Err(classify(what, &reply));
    }
    Ok(reply)
}

/// Deliver one envelope to `addr`, calling the server `host` (for TLS names), on a new
/// connection closed afterwards. Without a TLS requirement, a failed handshake is
/// followed by one attempt in plaintext, as other MTAs do; with one, never.
pub async fn deliver(
    settings: &ClientSettings,
    addr: SocketAddr,
    host: &str,
    requirement: &TlsRequirement,
    msg: &Outgoing<'_>,
) -> Result<Delivered, DeliveryError> {
    let mut c = connect(settings, addr, host, requirement).await?;
    let result = c.send(settings, msg).await;
    c.quit().await;
    result
}

/// Deliver as [`deliver`] does, over a connection from `cache` when one to the same
/// server, under the same TLS requirement, is idle there; the connection goes back to
/// the cache after a successful transaction. A cached connection the server has closed
/// meanwhile fails at `MAIL FROM`, before anything was sent: then a new one is made.
pub async fn deliver_cached(
    cache: &SessionCache,
    settings: &ClientSettings,
    addr: SocketAddr,
    host: &str,
    requirement: &TlsRequirement,
    msg: &Outgoing<'_>,
) -> Result<Delivered, DeliveryError> {
    let key = SessionKey::new(addr, host, requirement);
    if let Some(kept) = cache.take(&key) {
        match send_and_keep(cache, &key, kept, settings, msg).await {
            Err(e) if e.stale => {}
            other => return other,
        }
    }
    let fresh = connect(settings, addr, host, requirement).await?;
    send_and_keep(cache, &key, fresh, settings, msg).await
}

/// One transaction on `c`; the connection goes back to the cache when it succeeded and
/// is closed when not.
async fn send_and_keep(
    cache: &SessionCache,
    key: &SessionKey,
    mut c: Connection,
    settings: &ClientSettings,
    msg: &Outgoing<'_>,
) -> Result<Delivered, DeliveryError> {
    let result = c.send(settings, msg).await;
    match result {
        Ok(_) => cache.put(key.clone(), c),
        Err(_) => c.quit().await,
    }
    result
}

/// A new session with `addr`, up to and including EHLO (after STARTTLS when there is
/// TLS), ready for transactions.
async fn connect(
    settings: &ClientSettings,
    addr: SocketAddr,
    host: &str,
    requirement: &TlsRequirement,
) -> Result<Connection, DeliveryError> {
    match attempt(settings, addr, host, requirement, true).await {
        Err(e) if e.during_tls && !requirement.required() => {
            attempt(settings, addr, host, requirement, false).await
        }
        other => other,
    }
}

async fn attempt(
    settings: &ClientSettings,
    addr: SocketAddr,
    host: &str,
    requirement: &TlsRequirement,
    use_tls: bool,
) -> Result<Connection, DeliveryError> {
    let stream = tokio::time::timeout(settings.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| DeliveryError::temp(format!("connecting to {addr} timed out")))?
        .map_err(|e| DeliveryError::temp(format!("cannot connect to {addr}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut s = BufReader::new(Box::new(stream) as Box<dyn Stream>);
    let greeting = read_reply(&mut s, settings.command_timeout).await?;
    if greeting.code != 220 {
        return Err(classify("greeting", &greeting));
    }
    let ehlo = say_ehlo(&mut s, settings, "EHLO").await?;
    let offers_tls = ehlo
        .lines
        .iter()
        .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"));
    let plain = |s, ehlo| Connection {
        s,
        ehlo,
        tls: None,
        opened: Instant::now(),
    };
    if !offers_tls || !use_tls {
        if requirement.required() {
            let _ = command(&mut s, "QUIT\r\n", settings.command_timeout).await;
            return Err(DeliveryError::temp(format!(
                "{host} offers no STARTTLS, and this message needs authenticated TLS"
            )));
        }
        return Ok(plain(s, ehlo));
    }
    let reply = command(&mut s, "STARTTLS\r\n", settings.command_timeout).await?;
    if reply.code != 220 {
        if requirement.required() {
            return Err(DeliveryError::temp(format!(
                "STARTTLS refused ({}), and this message needs authenticated TLS",
                reply.text()
            )));
        }
        return Ok(plain(s, ehlo));
    }
    if !s.buffer().is_empty() {
        return Err(DeliveryError::tls(
            "the server sent data before the TLS handshake",
        ));
    }
    let config = settings
        .tls_config(requirement)
        .map_err(|e| DeliveryError::tls(e.to_string()))?;
    let name = ServerName::try_from(host.trim_end_matches('.').to_string())
        .map_err(|_| DeliveryError::tls(format!("{host} is not a valid TLS name")))?;
    let tls = tokio::time::timeout(
        settings.command_timeout,
        TlsConnector::from(Arc::new(config)).connect(name, s.into_inner()),
    )
    .await
    .map_err(|_| DeliveryError::tls("TLS handshake timed out"))?
    .map_err(|e| DeliveryError::tls(format!("TLS with {host} failed: {e}")))?;
    let version = tls.get_ref().1.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    });
    let mut s = BufReader::new(Box::new(tls) as Box<dyn Stream>);
    let ehlo = say_ehlo(&mut s, settings, "EHLO after STARTTLS").await?;
    Ok(Connection {
        s,
        ehlo,
        tls: version,
        opened: Instant::now(),
    })
}

/// A byte stream to a server: TCP, or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// An open session with a server, after EHLO: one transaction after another.
pub struct Connection {
    s: BufReader<Box<dyn Stream>>,
    ehlo: Reply,
    tls: Option<String>,
    opened: Instant,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Say goodbye and close (errors do not matter any more).
    async fn quit(mut self) {
        let _ = command(&mut self.s, "QUIT\r\n", Duration::from_secs(5)).await;
        let _ = self.s.get_mut().shutdown().await;
    }

    /// One transaction: MAIL, RCPT for each recipient, DATA. An I/O failure or a 421 at
    /// MAIL FROM is `stale` (nothing was sent; a cached connection the server dropped).
    async fn send(
        &mut self,
        settings: &ClientSettings,
        msg: &Outgoing<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let has = |ext: &str| {
            self.ehlo.lines.iter().any(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case(ext))
            })
        };
        let mut mail = format!("MAIL FROM:<{}>", msg.mail_from);
        if msg.smtputf8 {
            if !has("SMTPUTF8") {
                return Err(DeliveryError {
                    permanent: true,
                    text: "the server does not support SMTPUTF8, which this message needs".into(),
                    during_tls: false,
                    stale: false,
                });
            }
            mail.push_str(" SMTPUTF8");
        }
        if has("8BITMIME") && !msg.data.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        if has("SIZE") {
            mail.push_str(&format!(" SIZE={}", msg.data.len()));
        }
        mail.push_str("\r\n");
        if has("PIPELINING") {
            return self.send_pipelined(settings, msg, mail).await;
        }
        let s = &mut self.s;
        let reply = open_transaction(s, &mail, settings.command_timeout).await?;
        if reply.code != 250 {
            return Err(classify("MAIL FROM", &reply));
        }
        for rcpt in msg.rcpt_to {
            let reply = command(
                s,
                &format!("RCPT TO:<{rcpt}>\r\n"),
                settings.command_timeout,
            )
            .await?;
            if !(reply.code == 250 || reply.code == 251) {
                return Err(classify("RCPT TO", &reply));
            }
        }
        let reply = command(s, "DATA\r\n", settings.command_timeout).await?;
        if reply.code != 354 {
            return Err(classify("DATA", &reply));
        }
        self.send_data(settings, msg).await
    }

    /// The transaction pipelined (RFC 2920), for a server that offers it: MAIL, every
    /// RCPT and DATA in one write and their replies read in order, then the data: two
    /// round trips instead of one per command. A server that answered DATA with 354
    /// although something before it was refused gets no data: the connection is closed
    /// without ending the transaction, so nothing is delivered.
    async fn send_pipelined(
        &mut self,
        settings: &ClientSettings,
        msg: &Outgoing<'_>,
        mail: String,
    ) -> Result<Delivered, DeliveryError> {
        let mut batch = mail;
        for rcpt in msg.rcpt_to {
            batch.push_str(&format!("RCPT TO:<{rcpt}>\r\n"));
        }
        batch.push_str("DATA\r\n");
        let timeout = settings.command_timeout;
        let s = &mut self.s;
        let first = open_transaction(s, &batch, timeout).await?;
        let mut rcpts = Vec::with_capacity(msg.rcpt_to.len());
        for _ in msg.rcpt_to {
            rcpts.push(read_reply(s, timeout).await?);
        }
        let data = read_reply(s, timeout).await?;
        if let Err(e) = judge_pipelined(&first, &rcpts, &data) {
            if data.code == 354 {
                let _ = s.get_mut().shutdown().await;
            }
            return Err(e);
        }
        self.send_data(settings, msg).await
    }

    /// The data, after the server's 354, and its 250.
    async fn send_data(
        &mut self,
        settings: &ClientSettings,
        msg: &Outgoing<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let s = &mut self.s;
        let body = dot_stuff(msg.data);
        s.get_mut()
            .write_all(&body)
            .await
            .map_err(|e| DeliveryError::temp(format!("write: {e}")))?;
        s.get_mut()
            .flush()
            .await
            .map_err(|e| DeliveryError::temp(format!("write: {e}")))?;
        let reply = read_reply(s, settings.data_timeout).await?;
        if reply.code != 250 {
            return Err(classify("end of DATA", &reply));
        }
        Ok(Delivered {
            reply: reply.text(),
            tls: self.tls.clone(),
        })
    }
}

/// Which idle connections a delivery may take: the same address, the same name to prove
/// and the same TLS requirement (a connection made for opportunistic TLS never carries a
/// message that needs DANE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn new(addr: SocketAddr, host: &str, requirement: &TlsRequirement) -> SessionKey {
        SessionKey(format!("{addr} {host} {requirement:?}"))
    }
}

/// Open connections kept between deliveries, as Postfix's scache keeps them: a message
/// to a server we just delivered to goes over the same session (no new TCP and TLS
/// handshakes, no greeting and EHLO). An idle connection is closed after `idle`; a
/// connection is not reused once it is `lifetime` old; at most `per_server` idle ones
/// are kept for one server. [`SessionCache::close_idle`] closes the expired ones.
#[derive(Debug)]
pub struct SessionCache {
    idle: Duration,
    lifetime: Duration,
    per_server: usize,
    open: std::sync::Mutex<HashMap<SessionKey, Vec<(Connection, Instant)>>>,
}

impl SessionCache {
    /// A cache; `idle` zero keeps nothing (every delivery on a new connection).
    pub fn new(idle: Duration, per_server: usize) -> SessionCache {
        SessionCache {
            idle,
            lifetime: Duration::from_secs(300),
            per_server: per_server.max(1),
            open: std::sync::Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Vec<(Connection, Instant)>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently used idle connection for `key`, if one is fresh enough.
    pub fn take(&self, key: &SessionKey) -> Option<Connection> {
        let mut open = self.lock();
        let idle = open.get_mut(key)?;
        while let Some((c, since)) = idle.pop() {
            if since.elapsed() < self.idle && c.opened.elapsed() < self.lifetime {
                return Some(c);
            }
            // Expired: dropped (closed) here; close_idle says goodbye to the others.
        }
        None
    }

    /// Keep `c` for the next delivery to the same server (or close it when the cache is
    /// off or full for that server).
    pub fn put(&self, key: SessionKey, c: Connection) {
        if self.idle.is_zero() || c.opened.elapsed() >= self.lifetime {
            return;
        }
        let mut open = self.lock();
        let idle = open.entry(key).or_default();
        if idle.len() < self.per_server {
            idle.push((c, Instant::now()));
        }
    }

    /// Idle connections kept now.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Close (with QUIT) the connections idle for longer than the limit; call it about
    /// once a second.
    pub async fn close_idle(&self) {
        let expired: Vec<Connection> = {
            let mut open = self.lock();
            let mut expired = Vec::new();
            for idle in open.values_mut() {
                let (keep, old): (Vec<_>, Vec<_>) = idle.drain(..).partition(|(c, since)| {
                    since.elapsed() < self.idle && c.opened.elapsed() < self.lifetime
                });
                *idle = keep;
                expired.extend(old.into_iter().map(|(c, _)| c));
            }
            open.retain(|_, idle| !idle.is_empty());
            expired
        };
        for c in expired {
            c.quit().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Reply, dot_stuff, judge_pipelined};

    fn r(code: u16) -> Reply {
        Reply {
            code,
            lines: vec![format!("text {code}")],
        }
    }

    #[test]
    fn pipelined_replies_are_judged_in_the_order_sent() {
        let ok = |mail, rcpts: &[u16], data| {
            let rcpts: Vec<Reply> = rcpts.iter().map(|c| r(*c)).collect();
            judge_pipelined(&r(mail), &rcpts, &r(data)).map_err(|e| (e.permanent, e.text))
        };
        assert_eq!(ok(250, &[250], 354), Ok(()));
        assert_eq!(ok(250, &[251, 250], 354), Ok(()));
        // The first refusal is what the sender hears of, temporary or permanent.
        assert_eq!(
            ok(550, &[503], 503),
            Err((true, "MAIL FROM: 550 text 550".into()))
        );
        assert_eq!(
            ok(451, &[503], 503),
            Err((false, "MAIL FROM: 451 text 451".into()))
        );
        assert_eq!(
            ok(250, &[250, 550], 354),
            Err((true, "RCPT TO: 550 text 550".into())),
            "a refused recipient fails the transaction even when DATA was taken"
        );
        assert_eq!(
            ok(250, &[450], 554),
            Err((false, "RCPT TO: 450 text 450".into()))
        );
        assert_eq!(
            ok(250, &[250], 451),
            Err((false, "DATA: 451 text 451".into()))
        );
    }

    /// The byte-at-a-time definition the line-at-a-time `dot_stuff` must agree with.
    fn dot_stuff_bytewise(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at_line_start = true;
        let mut bytes = data.iter().peekable();
        while let Some(&b) = bytes.next() {
            if at_line_start && b == b'.' {
                out.push(b'.');
            }
            at_line_start = matches!(b, b'\r' | b'\n');
            if b == b'\r' {
                bytes.next_if_eq(&&b'\n');
            }
            if at_line_start {
                out.extend_from_slice(b"\r\n");
            } else {
                out.push(b);
            }
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    #[test]
    fn dot_stuffing_agrees_with_its_definition() {
        // Every string of up to six bytes over the bytes that matter, and longer random ones.
        let alphabet = [b'.', b'\r', b'\n', b'a'];
        for len in 0..=6u32 {
            for n in 0..4usize.pow(len) {
                let data: Vec<u8> = (0..len).map(|i| alphabet[n / 4usize.pow(i) % 4]).collect();
                assert_eq!(dot_stuff(&data), dot_stuff_bytewise(&data), "{data:?}");
            }
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..500 {
            let data: Vec<u8> = (0..200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % 4) as usize]
                })
                .collect();
            assert_eq!(dot_stuff(&data), dot_stuff_bytewise(&data));
        }
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\nb"), b"a\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
        // Nothing the next server could read as an end of data leaves here: every bare
        // CR or LF becomes CRLF, and a dot after it is stuffed (SMTP smuggling).
        assert_eq!(dot_stuff(b"a\r.\r\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\n.\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r\n.\rb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r"), b"a\r\n.\r\n");
        for data in [&b"x\r.\r\ny"[..], b"x\n.\ny", b"\r\r\n.\n\r.", b".\r.\n."] {
            let out = dot_stuff(data);
            let body = &out[..out.len() - 3];
            assert!(
                !body.windows(3).any(|w| w == b"\n.\r" || w == b"\n.\n"),
                "{out:?}"
            );
            assert!(
                !body.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'),
                "{out:?}"
            );
        }
    }
}
