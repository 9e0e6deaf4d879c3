//! DKIM keys of the organisation's domains: made on first start (RSA-2048, mode 0600) in
//! `data_dir/dkim/SELECTOR.DOMAIN.key`, used to sign every message from those domains.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};

use crate::config::Config;

/// The signing keys, by domain.
pub struct Keys {
    pub selector: String,
    keys: HashMap<String, SigningKey>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("domains", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn key_path(config: &Config, domain: &str) -> PathBuf {
    config
        .dkim_key_dir()
        .join(format!("{}.{domain}.key", config.dkim.selector))
}

impl Keys {
    /// Load every organisation domain's key, making missing ones (unless `create` is off).
    /// Several nodes (PostgreSQL) must share their keys: none is made then.
    pub fn load(config: &Config, create: bool) -> Result<Keys> {
        let scaled_out = matches!(config.database(), Ok(veilpost_store::Database::Postgres(_)));
        let mut keys = HashMap::new();
        for domain in &config.organisation.domains {
            let domain = domain.to_ascii_lowercase();
            let path = key_path(config, &domain);
            let key = match std::fs::read_to_string(&path) {
                Ok(pem) => SigningKey::from_pem(&pem)
                    .with_context(|| format!("bad DKIM key {}", path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && create && scaled_out => {
                    anyhow::bail!(
                        "no DKIM key {}: with store.database_url on PostgreSQL every node signs \
                         with the same keys, so none is made here. Make it once with `veilpost \
                         dkim keygen --domain {domain} --selector {} --out DIR` and set \
                         dkim.key_dir = DIR on every node",
                        path.display(),
                        config.dkim.selector
                    )
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                    let key = SigningKey::generate(KeyAlgorithm::Rsa2048)
                        .context("cannot make a DKIM key")?;
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create {}", dir.display()))?;
                    }
                    veilpost_store::vault::write_private(&path, key.to_pem().as_bytes())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    tracing::info!(
                        "made DKIM key for {domain}; publish: {}",
                        key.zone_line(&domain, &config.dkim.selector)
                    );
                    key
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            keys.insert(domain, key);
        }
        Ok(Keys {
            selector: config.dkim.selector.clone(),
            keys,
        })
    }

    /// Sign `message` for `domain` when we hold its key: the message with the
    /// DKIM-Signature header in front.
    pub fn sign(&self, domain: &str, message: &[u8]) -> Option<Vec<u8>> {
        let header = self.signature(domain, message)?;
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(message);
        Some(out)
    }

    /// The DKIM-Signature header field (with CRLF) for `message`, when we hold the key.
    pub fn signature(&self, domain: &str, message: &[u8]) -> Option<String> {
        let key = self.keys.get(&domain.to_ascii_lowercase())?;
        match key.sign(message, domain, &self.selector) {
            Ok(header) => Some(header),
            Err(e) => {
                tracing::warn!("DKIM signing for {domain} failed: {e}");
                None
            }
        }
    }

    /// The key for `domain`, when we hold it.
    pub fn key(&self, domain: &str) -> Option<&SigningKey> {
        self.keys.get(&domain.to_ascii_lowercase())
    }

    /// The TXT value to publish for `domain` (`v=DKIM1; k=…; p=…`), when we hold its key.
    pub fn record(&self, domain: &str) -> Option<String> {
        self.key(domain).map(|k| k.dns_record())
    }

    /// The records to publish, one zone line per domain.
    pub fn zone_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .keys
            .iter()
            .map(|(d, k)| k.zone_line(d, &self.selector))
            .collect();
        lines.sort();
        lines
    }
}
