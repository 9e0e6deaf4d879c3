//! Test peers for Veilpost's tests and benchmarks, all on loopback: a certificate
//! authority issuing leaf certificates, an SMTP sink that records what it accepts (with or
//! without STARTTLS), an HTTPS server (MTA-STS policies) and an OpenID Connect provider.
//! Not part of the product.

// Test peers, not product types: no Debug needed.
#![allow(missing_debug_implementations)]

pub mod acme;
pub mod clamd;
pub mod oidc;
pub mod postfix;
pub mod postgres;
pub mod s3;
pub mod sink;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use sink::{Got, Sink, self_signed};

/// A test certificate authority.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pub pem: String,
    /// The CA certificate (for TLSA 2 0 x records).
    pub der: CertificateDer<'static>,
}

/// A leaf certificate: its TLS config and the SHA-256 of its public key (for TLSA 3 1 1).
pub struct Leaf {
    pub config: Arc<ServerConfig>,
    pub spki_sha256: String,
    /// The certificate and key as PEM, for servers outside this process.
    pub cert_pem: String,
    pub key_pem: String,
    /// What the server presents (leaf first) and its private key.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// SHA-256 (for TLSA x x 1 records).
pub fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A server that presents `presented`'s certificate chain but signs the handshake with
/// `signing`'s key: an attacker replaying a certificate it does not hold. rustls' own
/// builder refuses such a pair, so a resolver hands it over unchecked.
pub fn impostor(
    presented: &Leaf,
    signing: &Leaf,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ServerConfig> {
    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _hello: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let provider = provider();
    let key = provider
        .key_provider
        .load_private_key(signing.key.clone_key())
        .expect("signing key");
    let certified = rustls::sign::CertifiedKey::new(presented.chain.clone(), key);
    Arc::new(
        ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Fixed(Arc::new(certified)))),
    )
}

impl Default for Ca {
    fn default() -> Self {
        Ca::new()
    }
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
            der: cert.der().clone(),
            params,
            key,
        }
    }

    /// A leaf for `names`; `expired` dates it 2020-2021.
    pub fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        self.leaf_with(
            KeyPair::generate().expect("leaf key"),
            names,
            expired,
            false,
        )
    }

    /// A leaf whose server also presents this CA's certificate (as DANE-TA needs).
    pub fn leaf_with_anchor(&self, names: &[&str]) -> Leaf {
        self.leaf_with(KeyPair::generate().expect("leaf key"), names, false, true)
    }

    /// A leaf with an RSA key, so RSA key exchange suites can be offered.
    pub fn rsa_leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa key");
        self.leaf_with(key, names, false, false)
    }

    fn leaf_with(&self, key: KeyPair, names: &[&str], expired: bool, with_ca: bool) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("leaf cert");
        let mut chain = vec![cert.der().clone()];
        if with_ca {
            chain.push(self.der.clone());
        }
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain.clone(), private.clone_key())
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
            chain,
            key: private,
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
