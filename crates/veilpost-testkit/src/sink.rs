//! A receiving SMTP server for the tests: records every message it accepts, with or
//! without STARTTLS, and can refuse chosen recipients with 550.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Got {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
    pub tls: bool,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The Message-ID header's value.
    pub fn message_id(&self) -> Option<String> {
        let text = self.text();
        text.lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .map(|l| l[11..].trim().to_string())
    }
}

/// The sink.
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Got>>>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// When set, the sink hangs up after each message it accepted (without a word, as a
    /// server closing an idle connection does).
    pub hang_up: Arc<AtomicBool>,
}

pub(crate) fn server_config(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::builder_with_provider(
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("config"),
    )
}

/// A self-signed certificate for `names`.
pub fn self_signed(names: &[&str]) -> Arc<ServerConfig> {
    let certified =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("cert");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    server_config(certified.cert.der().clone(), key)
}

impl Sink {
    /// Start on `ip:0` (or a given address); STARTTLS when `tls` is given; RCPT for
    /// addresses in `refuse` gets 550.
    pub async fn start(bind: &str, tls: Option<Arc<ServerConfig>>, refuse: Vec<String>) -> Sink {
        let listener = TcpListener::bind(bind).await.expect("bind sink");
        let addr = listener.local_addr().expect("addr");
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink {
            addr,
            got: got.clone(),
            connections: Arc::default(),
            hang_up: Arc::default(),
        };
        let (connections, hang_up) = (sink.connections.clone(), sink.hang_up.clone());
        let refuse = Arc::new(refuse);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let (tls, got, refuse) = (tls.clone(), got.clone(), refuse.clone());
                let hang_up = hang_up.clone();
                tokio::spawn(async move {
                    let mut r = BufReader::new(stream);
                    if r.get_mut()
                        .write_all(b"220 sink.test ESMTP\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if session(&mut r, tls.is_some(), false, &got, &refuse, &hang_up).await
                        == Some(true)
                        && let Some(config) = tls
                        && let Ok(s) = TlsAcceptor::from(config).accept(r.into_inner()).await
                    {
                        let mut r = BufReader::new(s);
                        session(&mut r, false, true, &got, &refuse, &hang_up).await;
                    }
                });
            }
        });
        sink
    }

    /// Messages received so far.
    pub fn messages(&self) -> Vec<Got> {
        self.got.lock().expect("lock").clone()
    }

    /// Wait until `n` messages arrived (or `limit` passes); returns them.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Got> {
        let start = Instant::now();
        loop {
            let m = self.messages();
            if m.len() >= n || start.elapsed() > limit {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One SMTP dialogue; `Some(true)` when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    offer_tls: bool,
    tls: bool,
    got: &Mutex<Vec<Got>>,
    refuse: &[String],
    hang_up: &AtomicBool,
) -> Option<bool> {
    let mut line = String::new();
    let mut from = String::new();
    let mut rcpts = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut s = String::from("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n");
            if offer_tls {
                s.push_str("250-STARTTLS\r\n");
            }
            s.push_str("250 SIZE 100000000\r\n");
            s
        } else if upper == "STARTTLS" && offer_tls {
            r.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
            return Some(true);
        } else if upper.starts_with("MAIL FROM:") {
            from = extract(&cmd[10..]);
            rcpts.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let a = extract(&cmd[8..]);
            if refuse.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                "550 5.1.1 no such user\r\n".into()
            } else {
                rcpts.push(a);
                "250 ok\r\n".into()
            }
        } else if upper == "DATA" {
            r.get_mut().write_all(b"354 go\r\n").await.ok()?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if r.read_until(b'\n', &mut l).await.ok()? == 0 {
                    return None;
                }
                if l == b".\r\n" || l == b".\n" {
                    break;
                }
                if l.starts_with(b"..") {
                    l.remove(0);
                }
                data.extend_from_slice(&l);
            }
            got.lock().ok()?.push(Got {
                mail_from: from.clone(),
                rcpt_to: std::mem::take(&mut rcpts),
                data,
                tls,
            });
            if hang_up.load(Ordering::SeqCst) {
                r.get_mut().write_all(b"250 2.0.0 stored\r\n").await.ok()?;
                return None;
            }
            "250 2.0.0 stored\r\n".into()
        } else if upper == "QUIT" {
            let _ = r.get_mut().write_all(b"221 bye\r\n").await;
            return None;
        } else {
            "250 ok\r\n".into()
        };
        r.get_mut().write_all(reply.as_bytes()).await.ok()?;
    }
}

fn extract(s: &str) -> String {
    let s = s.trim();
    let s = s.split_whitespace().next().unwrap_or("");
    s.trim_start_matches('<').trim_end_matches('>').to_string()
}
