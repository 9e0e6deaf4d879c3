//! DKIM keys of the organisation's domains: made on first start (RSA-2048, mode 0600) in
//! `data_dir/dkim/SELECTOR.DOMAIN.key`, used to sign every message from those domains;
//! rotated to a new selector with `veilpost dkim rotate` (published beside the old one,
//! signing from a set time).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};

use crate::config::Config;

/// The signing keys, by domain, under the active selector, and during a rotation
/// (`veilpost dkim rotate`) the next selector's keys and when they take over. The set is
/// read again by [`Keys::refresh`] (SIGHUP, and every 30 s when the rotation file changed),
/// so a running node switches at the set time.
pub struct Keys {
    set: RwLock<Arc<KeySet>>,
    /// The rotation file's modification time when the set was read.
    stamp: Mutex<Option<SystemTime>>,
}

/// Keys under one selector, by domain.
#[derive(Default)]
struct Selector {
    name: String,
    keys: HashMap<String, Arc<SigningKey>>,
}

struct KeySet {
    current: Selector,
    /// The next selector and the Unix time from which it signs.
    next: Option<(Selector, i64)>,
}

impl KeySet {
    /// The selector that signs at `now`.
    fn active(&self, now: i64) -> &Selector {
        match &self.next {
            Some((next, at)) if now >= *at => next,
            _ => &self.current,
        }
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.snapshot();
        f.debug_struct("Keys")
            .field("selector", &set.current.name)
            .field("domains", &set.current.keys.keys().collect::<Vec<_>>())
            .field("next", &set.next.as_ref().map(|(s, at)| (&s.name, at)))
            .finish()
    }
}

/// A rotation in progress or done: `veilpost dkim rotate` writes it next to the keys
/// (`dkim.key_dir/rotation.json`), so every node sharing the key directory follows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rotation {
    /// The selector signing until `switch_at`.
    pub previous: String,
    /// The selector signing from `switch_at` on.
    pub selector: String,
    /// Unix seconds.
    pub switch_at: i64,
}

fn rotation_path(config: &Config) -> PathBuf {
    config.dkim_key_dir().join("rotation.json")
}

/// The rotation on disk, if any.
pub fn rotation(config: &Config) -> Result<Option<Rotation>> {
    let path = rotation_path(config);
    match std::fs::read(&path) {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("cannot read {}", path.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn key_path(config: &Config, selector: &str, domain: &str) -> PathBuf {
    config
        .dkim_key_dir()
        .join(format!("{selector}.{domain}.key"))
}

/// The keys of every organisation domain under `selector`, making missing ones (unless
/// `create` is off). Several nodes (PostgreSQL) must share their keys: none is made then.
fn load_selector(config: &Config, selector: &str, create: bool) -> Result<Selector> {
    let scaled_out = matches!(config.database(), Ok(veilpost_store::Database::Postgres(_)));
    let mut keys = HashMap::new();
    for domain in &config.organisation.domains {
        let domain = domain.to_ascii_lowercase();
        let path = key_path(config, selector, &domain);
        let key = match std::fs::read_to_string(&path) {
            Ok(pem) => SigningKey::from_pem(&pem)
                .with_context(|| format!("bad DKIM key {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create && scaled_out => {
                anyhow::bail!(
                    "no DKIM key {}: with store.database_url on PostgreSQL every node signs \
                     with the same keys, so none is made here. Make it once with `veilpost \
                     dkim keygen --domain {domain} --selector {selector} --out DIR` and set \
                     dkim.key_dir = DIR on every node",
                    path.display(),
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key = make_key(&path)?;
                tracing::info!(
                    "made DKIM key for {domain}; publish: {}",
                    key.zone_line(&domain, selector)
                );
                key
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        keys.insert(domain, Arc::new(key));
    }
    Ok(Selector {
        name: selector.to_string(),
        keys,
    })
}

fn make_key(path: &std::path::Path) -> Result<SigningKey> {
    let key = SigningKey::generate(KeyAlgorithm::Rsa2048).context("cannot make a DKIM key")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    veilpost_store::vault::write_private(path, key.to_pem().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

fn load_set(config: &Config, create: bool) -> Result<KeySet> {
    Ok(match rotation(config)? {
        None => KeySet {
            current: load_selector(config, &config.dkim.selector, create)?,
            next: None,
        },
        // Switched: only the new selector signs.
        Some(r) if now() >= r.switch_at => KeySet {
            current: load_selector(config, &r.selector, false)?,
            next: None,
        },
        Some(r) => KeySet {
            current: load_selector(config, &r.previous, create)?,
            next: Some((load_selector(config, &r.selector, false)?, r.switch_at)),
        },
    })
}

impl Keys {
    /// Load every organisation domain's key, making missing ones (unless `create` is off),
    /// and the rotation in progress.
    pub fn load(config: &Config, create: bool) -> Result<Keys> {
        let stamp = std::fs::metadata(rotation_path(config))
            .and_then(|m| m.modified())
            .ok();
        Ok(Keys {
            set: RwLock::new(Arc::new(load_set(config, create)?)),
            stamp: Mutex::new(stamp),
        })
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Read the keys again when the rotation file changed (or `force`); true when the set
    /// was replaced. A set that does not load leaves the current one.
    pub fn refresh(&self, config: &Config, force: bool) -> Result<bool> {
        let stamp = std::fs::metadata(rotation_path(config))
            .and_then(|m| m.modified())
            .ok();
        {
            let mut last = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
            if !force && *last == stamp {
                return Ok(false);
            }
            *last = stamp;
        }
        let set = load_set(config, false)?;
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(true)
    }

    /// The selector signing now.
    pub fn selector(&self) -> String {
        self.snapshot().active(now()).name.clone()
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
        let (selector, key) = self.key(domain)?;
        let signed = key.sign(message, domain, &selector);
        super::metrics::dkim_signature(signed.is_ok());
        match signed {
            Ok(header) => Some(header),
            Err(e) => {
                tracing::warn!("DKIM signing for {domain} failed: {e}");
                None
            }
        }
    }

    /// The selector and key that sign for `domain` now, when we hold one.
    pub fn key(&self, domain: &str) -> Option<(String, Arc<SigningKey>)> {
        let set = self.snapshot();
        let active = set.active(now());
        let key = active.keys.get(&domain.to_ascii_lowercase())?.clone();
        Some((active.name.clone(), key))
    }

    /// The TXT value to publish for `domain` (`v=DKIM1; k=…; p=…`) under the selector
    /// signing now, when we hold its key.
    pub fn record(&self, domain: &str) -> Option<String> {
        self.key(domain).map(|(_, k)| k.dns_record())
    }

    /// The records to publish, one zone line per domain and selector: during a rotation
    /// both the current and the next selector's.
    pub fn zone_lines(&self) -> Vec<String> {
        let set = self.snapshot();
        let mut lines: Vec<String> = std::iter::once(&set.current)
            .chain(set.next.as_ref().map(|(s, _)| s))
            .flat_map(|sel| sel.keys.iter().map(move |(d, k)| k.zone_line(d, &sel.name)))
            .collect();
        lines.sort();
        lines
    }
}

/// `veilpost dkim rotate`: keys under a new selector for every organisation domain, and
/// the time from which they sign (`after` from now). Returns the rotation and the zone
/// lines to publish now.
pub fn rotate(
    config: &Config,
    selector: Option<&str>,
    after: Duration,
) -> Result<(Rotation, Vec<String>)> {
    let keys = Keys::load(config, true)?;
    let previous = keys.selector();
    let selector = match selector {
        Some(s) => s.to_ascii_lowercase(),
        None => {
            let date = time::OffsetDateTime::now_utc().date();
            let base = format!(
                "vp{:04}{:02}{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            );
            let dir = config.dkim_key_dir();
            let taken = |s: &str| {
                s == previous
                    || config.organisation.domains.iter().any(|d| {
                        dir.join(format!("{s}.{}.key", d.to_ascii_lowercase()))
                            .exists()
                    })
            };
            std::iter::once(base.clone())
                .chain(('b'..='z').map(|c| format!("{base}{c}")))
                .find(|s| !taken(s))
                .context("no free selector name today")?
        }
    };
    let valid = !selector.is_empty()
        && selector.len() <= 63
        && selector
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !selector.starts_with('-')
        && !selector.ends_with('-');
    if !valid {
        anyhow::bail!("{selector:?} is not a selector: letters, digits and hyphens (a DNS label)");
    }
    if selector == previous {
        anyhow::bail!("{selector} is the selector signing now: choose another");
    }
    let mut lines = Vec::new();
    for domain in &config.organisation.domains {
        let domain = domain.to_ascii_lowercase();
        let path = key_path(config, &selector, &domain);
        let key = match std::fs::read_to_string(&path) {
            Ok(pem) => SigningKey::from_pem(&pem)
                .with_context(|| format!("bad DKIM key {}", path.display()))?,
            Err(_) => make_key(&path)?,
        };
        lines.push(key.zone_line(&domain, &selector));
    }
    let rotation = Rotation {
        previous,
        selector,
        switch_at: now() + after.as_secs() as i64,
    };
    let path = rotation_path(config);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&rotation)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((rotation, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> Config {
        let dir = std::env::temp_dir().join(format!("vp-dkim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = Config {
            data_dir: dir,
            ..Config::default()
        };
        c.organisation.domains = vec!["praktijk.test".into(), "Tweede.test".into()];
        c
    }

    fn selector_of(header: &str) -> String {
        header
            .split(';')
            .find_map(|t| t.trim().strip_prefix("s="))
            .expect("s=")
            .to_string()
    }

    #[test]
    fn rotation_publishes_both_then_switches() {
        let c = config("rotate");
        let keys = Keys::load(&c, true).expect("made");
        let first = keys.selector();
        assert_eq!(first, c.dkim.selector);
        assert_eq!(keys.zone_lines().len(), 2);
        let msg = b"From: a@praktijk.test\r\nSubject: x\r\n\r\nhoi\r\n";
        let sig = keys.signature("praktijk.test", msg).expect("signed");
        assert_eq!(selector_of(&sig), first);

        // A rotation an hour ahead: both published, the old one signs.
        let (r, lines) = rotate(&c, Some("nieuw-1"), Duration::from_secs(3600)).expect("rotate");
        assert_eq!(
            (r.previous.as_str(), r.selector.as_str()),
            (first.as_str(), "nieuw-1")
        );
        assert_eq!(lines.len(), 2);
        assert!(keys.refresh(&c, true).expect("refresh"));
        assert_eq!(keys.zone_lines().len(), 4);
        assert_eq!(
            selector_of(&keys.signature("tweede.test", msg).expect("signed")),
            first
        );
        // Nothing changed on disk: nothing read again.
        assert!(!keys.refresh(&c, false).expect("refresh"));

        // Again, switching now: the new one signs, and only its records are left to keep.
        let (r, _) = rotate(&c, None, Duration::ZERO).expect("rotate");
        assert_eq!(r.previous, first, "the old selector still signed");
        assert!(r.selector.starts_with("vp"), "{r:?}");
        assert!(keys.refresh(&c, true).expect("refresh"));
        assert_eq!(keys.selector(), r.selector);
        assert_eq!(
            selector_of(&keys.signature("praktijk.test", msg).expect("signed")),
            r.selector
        );
        assert_eq!(keys.zone_lines().len(), 2);
        // A node started now reads the same.
        assert_eq!(Keys::load(&c, true).expect("load").selector(), r.selector);

        for bad in ["", "Niet Goed", "-x", "a.b", &r.selector] {
            assert!(rotate(&c, Some(bad), Duration::ZERO).is_err(), "{bad:?}");
        }
        let _ = std::fs::remove_dir_all(&c.data_dir);
    }
}
