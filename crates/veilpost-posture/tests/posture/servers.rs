//! Test servers: SMTP with or without STARTTLS, a silent one, and one speaking old TLS;
//! the certificate authority and the HTTPS server come from veilpost-testkit.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
pub use veilpost_testkit::{Ca, Leaf, https, listeners};

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
