//! Test servers: a certificate authority, SMTP with or without STARTTLS, HTTPS.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A test certificate authority.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pub pem: String,
}

/// A leaf certificate: its TLS config and the SHA-256 of its public key (for TLSA 3 1 1).
pub struct Leaf {
    pub config: Arc<ServerConfig>,
    pub spki_sha256: String,
    /// The certificate and key as PEM, for servers outside this process.
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new() -> Ca {
        let key = KeyPair::generate().expect("ca key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Veilpost test CA");
        let cert = params.self_signed(&key).expect("ca cert");
        Ca {
            pem: cert.pem(),
            params,
            key,
        }
    }

    /// A leaf for `names`; `expired` dates it 2020-2021.
    pub fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        self.leaf_with(KeyPair::generate().expect("leaf key"), names, expired)
    }

    /// A leaf with an RSA key, so RSA key exchange suites can be offered.
    pub fn rsa_leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa key");
        self.leaf_with(key, names, false)
    }

    fn leaf_with(&self, key: KeyPair, names: &[&str], expired: bool) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("leaf cert");
        let chain = vec![cert.der().clone()];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .expect("server config");
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &rcgen::PublicKeyData::subject_public_key_info(&key),
        );
        let spki_sha256 = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Leaf {
            config: Arc::new(config),
            spki_sha256,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Bind `ips` on one common port.
pub async fn listeners(ips: &[IpAddr]) -> (u16, Vec<TcpListener>) {
    'retry: loop {
        let first = TcpListener::bind(SocketAddr::new(ips[0], 0))
            .await
            .expect("bind");
        let port = first.local_addr().expect("addr").port();
        let mut all = vec![first];
        for ip in &ips[1..] {
            match TcpListener::bind(SocketAddr::new(*ip, port)).await {
                Ok(l) => all.push(l),
                Err(_) => continue 'retry,
            }
        }
        return (port, all);
    }
}

/// An SMTP server: STARTTLS when `tls` is given.
pub fn smtp(listener: TcpListener, tls: Option<Arc<ServerConfig>>) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(stream);
                let _ = r.get_mut().write_all(b"220 mx.test ESMTP\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim().to_ascii_uppercase();
                    if cmd.starts_with("EHLO") {
                        let ext = if tls.is_some() {
                            "250-STARTTLS\r\n"
                        } else {
                            ""
                        };
                        let _ = r
                            .get_mut()
                            .write_all(format!("250-mx.test\r\n{ext}250 8BITMIME\r\n").as_bytes())
                            .await;
                    } else if cmd == "STARTTLS" && tls.is_some() {
                        let _ = r.get_mut().write_all(b"220 go ahead\r\n").await;
                        let acceptor = TlsAcceptor::from(tls.clone().expect("tls"));
                        if let Ok(s) = acceptor.accept(r.into_inner()).await {
                            serve_plain(s).await;
                        }
                        return;
                    } else if cmd == "QUIT" {
                        let _ = r.get_mut().write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        let _ = r.get_mut().write_all(b"250 ok\r\n").await;
                    }
                }
            });
        }
    });
}

async fn serve_plain<S: AsyncRead + AsyncWrite + Unpin>(s: S) {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        if line.trim().eq_ignore_ascii_case("QUIT") {
            let _ = r.get_mut().write_all(b"221 bye\r\n").await;
            let _ = r.get_mut().shutdown().await;
            return;
        }
        let _ = r.get_mut().write_all(b"250 ok\r\n").await;
    }
}

/// An HTTPS server answering every request with `body` as text/plain.
pub fn https(listener: TcpListener, tls: Arc<ServerConfig>, body: String) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (tls, body) = (tls.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(s) = TlsAcceptor::from(tls).accept(stream).await else {
                    return;
                };
                let mut r = BufReader::new(s);
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = r.get_mut().write_all(resp.as_bytes()).await;
                let _ = r.get_mut().shutdown().await;
            });
        }
    });
}

/// An SMTP server in Python whose STARTTLS speaks TLS 1.0 (up to `max_version`), which
/// rustls cannot serve. Killed on drop.
pub struct LegacySmtp {
    child: std::process::Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl LegacySmtp {
    pub fn start(ip: IpAddr, leaf: &Leaf, max_version: &str) -> LegacySmtp {
        use std::io::BufRead;
        let dir = std::env::temp_dir().join(format!(
            "veilpost-legacy-{}-{}",
            std::process::id(),
            max_version
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).expect("cert");
        std::fs::write(dir.join("key.pem"), &leaf.key_pem).expect("key");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/posture/legacy_tls_smtp.py"
        );
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(ip.to_string())
            .arg(dir.join("cert.pem"))
            .arg(dir.join("key.pem"))
            .arg(max_version)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().expect("port");
        LegacySmtp { child, port, dir }
    }
}

impl Drop for LegacySmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server that accepts connections and never says a word (a tarpit, or a filtered port
/// seen through a proxy).
pub fn silent(listener: TcpListener) {
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
}
