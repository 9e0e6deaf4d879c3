//! The STARTTLS certificate: the configured PEM pair, or a self-signed one made on first
//! start in `data_dir/tls/` (the key with mode 0600).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// Load or make the certificate; returns the server TLS configuration.
pub fn server_tls(config: &Config) -> Result<Arc<ServerConfig>> {
    let (cert_path, key_path) = paths(config);
    if config.smtp.tls_cert.is_empty() && (!cert_path.exists() || !key_path.exists()) {
        make_self_signed(
            &config.data_dir.join("tls"),
            &cert_path,
            &key_path,
            &config.smtp.hostname,
        )?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("cannot read {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad certificate in {}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("cannot read the key {}", key_path.display()))?;
    let tls = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .context("TLS versions")?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .context("certificate and key do not fit together")?;
    Ok(Arc::new(tls))
}

/// The certificate and key files: the configured pair, or the self-signed one's.
pub fn paths(config: &Config) -> (PathBuf, PathBuf) {
    if config.smtp.tls_cert.is_empty() {
        let dir = config.data_dir.join("tls");
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
