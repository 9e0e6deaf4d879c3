//! The STARTTLS certificate: the configured PEM pair, or a self-signed one made on first
//! start in `data_dir/tls/` (the key with mode 0600).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::{Context, Result};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::config::Config;

/// Load or make the certificate; returns the server TLS configuration, whose certificate
/// is the [`LiveCert`] (reloaded in place by [`reload`]).
pub fn server_tls(config: &Config) -> Result<(Arc<ServerConfig>, Arc<LiveCert>)> {
    let (cert_path, key_path) = paths(config);
    if config.smtp.tls_cert.is_empty() && (!cert_path.exists() || !key_path.exists()) {
        make_self_signed(
            cert_path.parent().unwrap_or(&config.data_dir),
            &cert_path,
            &key_path,
            &config.smtp.hostname,
        )?;
    }
    let live = Arc::new(LiveCert::load(cert_path, key_path)?);
    let tls = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_cert_resolver(live.clone());
    Ok((Arc::new(tls), live))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The files' modification times: what tells a changed pair.
type Stamp = (Option<SystemTime>, Option<SystemTime>);

/// The certificate every listener presents, swapped in place when its files change
/// (SIGHUP, or the files' times moving): new connections get the new one, connections
/// already open keep theirs. A pair that does not load (half written, key and certificate
/// not fitting) leaves the current one in place.
pub struct LiveCert {
    files: (PathBuf, PathBuf),
    current: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

impl std::fmt::Debug for LiveCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCert")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

fn stamp(files: &(PathBuf, PathBuf)) -> Stamp {
    let time = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (time(&files.0), time(&files.1))
}

fn read_pair(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .with_context(|| format!("cannot read {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad certificate in {}", cert_path.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .with_context(|| format!("cannot read the key {}", key_path.display()))?;
    CertifiedKey::from_der(chain, key, &provider())
        .context("certificate and key do not fit together")
}

impl LiveCert {
    /// Load the pair (an error when it does not load: a node does not start without one).
    pub fn load(cert: PathBuf, key: PathBuf) -> Result<LiveCert> {
        let files = (cert, key);
        let stamp = stamp(&files);
        let pair = read_pair(&files.0, &files.1)?;
        Ok(LiveCert {
            current: RwLock::new((Arc::new(pair), stamp)),
            files,
        })
    }

    /// Load the files again when `force` or when their times moved; true when a new pair
    /// is in use. A pair that does not load is an error and changes nothing.
    pub fn reload(&self, force: bool) -> Result<bool> {
        let now = stamp(&self.files);
        {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            if !force && current.1 == now {
                return Ok(false);
            }
        }
        let pair = read_pair(&self.files.0, &self.files.1);
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        match pair {
            Ok(pair) => {
                let changed = pair.cert != current.0.cert;
                *current = (Arc::new(pair), now);
                Ok(changed)
            }
            Err(e) => {
                // Not tried again until the files change once more.
                current.1 = now;
                Err(e)
            }
        }
    }
}

impl rustls::server::ResolvesServerCert for LiveCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .clone(),
        )
    }
}

/// Reload the certificate when its files changed (or `force`, on SIGHUP), saying so in
/// the log.
pub async fn reload(live: &Arc<LiveCert>, force: bool) {
    let result = {
        let live = live.clone();
        tokio::task::spawn_blocking(move || live.reload(force)).await
    };
    match result {
        Ok(Ok(true)) => tracing::info!("TLS certificate reloaded from {}", live.files.0.display()),
        Ok(Ok(false)) => {
            if force {
                tracing::info!("SIGHUP: TLS certificate unchanged");
            }
        }
        Ok(Err(e)) => {
            tracing::error!("TLS certificate not reloaded, the current one stays: {e:#}")
        }
        Err(e) => tracing::error!("TLS certificate reload: {e}"),
    }
}

/// What is known of a certificate file's first certificate (the leaf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub not_before: i64,
    pub not_after: i64,
    /// DNS names in the subjectAltName.
    pub names: Vec<String>,
    /// Self-signed (the one Veilpost makes at first start, or any other).
    pub self_signed: bool,
}

/// Read the first certificate of the PEM file at `path`: what readiness, `doctor` and ACME
/// renewal look at. The error says what is wrong, for people.
pub fn facts(path: &Path) -> Result<CertFacts, String> {
    if !path.exists() {
        return Err(format!("{} ontbreekt / is missing", path.display()));
    }
    let first = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the certificate: {e}"))?
        .next()
        .ok_or("no certificate in the file")?
        .map_err(|e| format!("bad certificate: {e}"))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&first).map_err(|e| format!("bad certificate: {e}"))?;
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertFacts {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        names,
        self_signed: cert.issuer() == cert.subject(),
    })
}

/// The certificate and key files: the configured pair, or the self-signed one's.
pub fn paths(config: &Config) -> (PathBuf, PathBuf) {
    if config.smtp.tls_cert.is_empty() {
        // With ACME the ordered pair lives apart (a self-signed one stands in until then).
        let dir = config.data_dir.join(if config.acme.directory.is_empty() {
            "tls"
        } else {
            "acme"
        });
        (dir.join("cert.pem"), dir.join("key.pem"))
    } else {
        (
            config.smtp.tls_cert.clone().into(),
            config.smtp.tls_key.clone().into(),
        )
    }
}

fn make_self_signed(dir: &Path, cert: &Path, key: &Path, hostname: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let certified =
        rcgen::generate_simple_self_signed(names).context("cannot make a certificate")?;
    veilpost_store::vault::write_private(key, certified.signing_key.serialize_pem().as_bytes())
        .with_context(|| format!("cannot write {}", key.display()))?;
    std::fs::write(cert, certified.cert.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    tracing::info!(
        "made a self-signed STARTTLS certificate in {} (configure smtp.tls_cert for a real one)",
        dir.display()
    );
    Ok(())
}
