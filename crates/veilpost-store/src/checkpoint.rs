//! Audit checkpoints: the audit chain anchored outside the database. The chain's hashes
//! show a changed entry only to someone who cannot recompute them; whoever can write the
//! database can rewrite every entry and every hash after it. So, now and then, the gateway
//! signs the chain's head (entry number and hash) with an Ed25519 key kept outside the
//! database and sends the checkpoint out (a file on another volume, the log). A rewritten
//! chain then no longer has the hash a checkpoint signed at that entry, and
//! [`crate::Store::verify_checkpoints`] says where.
//!
//! A checkpoint is one JSON line:
//! `{"entry":N,"hash":"…","at":UNIX,"signature":"base64"}`; the signature covers
//! `veilpost-audit-checkpoint-v1\n{entry}\n{hash}\n{at}`.

use std::path::Path;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;

use crate::{Error, Result};

const CONTEXT: &str = "veilpost-audit-checkpoint-v1";

fn signed_text(entry: i64, hash: &str, at: i64) -> String {
    format!("{CONTEXT}\n{entry}\n{hash}\n{at}")
}

/// One signed checkpoint of the audit chain's head.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The entry's id.
    pub entry: i64,
    /// Its hash (hex).
    pub hash: String,
    /// When the checkpoint was made (Unix seconds).
    pub at: i64,
    /// Ed25519 over the signed text, base64.
    pub signature: String,
}

impl Checkpoint {
    /// Whether `public_key` (raw 32 bytes) signed this checkpoint.
    pub fn signed_by(&self, public_key: &[u8]) -> bool {
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(&self.signature)
        else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(
                signed_text(self.entry, &self.hash, self.at).as_bytes(),
                &signature,
            )
            .is_ok()
    }

    /// The JSON line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Read checkpoint lines; each unreadable line is returned as its line number (1-based).
/// Lines are at most 4 KiB; longer ones are unreadable.
pub fn parse_lines(text: &str) -> (Vec<Checkpoint>, Vec<usize>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match (line.len() <= 4096)
            .then(|| serde_json::from_str::<Checkpoint>(line).ok())
            .flatten()
        {
            Some(c) => good.push(c),
            None => bad.push(n + 1),
        }
    }
    (good, bad)
}

/// The key that signs checkpoints (never in the database).
pub struct CheckpointKey(Ed25519KeyPair);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointKey({})", self.public_base64())
    }
}

impl CheckpointKey {
    /// The key in `path` (PKCS#8), made there (mode 0600) on first use.
    pub fn load_or_create(path: &Path) -> Result<CheckpointKey> {
        let io = |e: std::io::Error| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                    .map_err(|e| Error::Crypto(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                crate::vault::write_private(path, pkcs8.as_ref()).map_err(io)?;
                pkcs8.as_ref().to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        CheckpointKey::from_pkcs8(&bytes)
    }

    /// A key from its PKCS#8 bytes.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<CheckpointKey> {
        Ed25519KeyPair::from_pkcs8(bytes)
            .map(CheckpointKey)
            .map_err(|e| Error::Crypto(format!("checkpoint key: {e}")))
    }

    /// The public key, raw.
    pub fn public(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    /// The public key, base64 (what `audit verify --public-key` takes).
    pub fn public_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.public())
    }

    /// Sign the head `(entry, hash)` at `at`.
    pub fn sign(&self, entry: i64, hash: &str, at: i64) -> Checkpoint {
        let signature = self.0.sign(signed_text(entry, hash, at).as_bytes());
        Checkpoint {
            entry,
            hash: hash.to_string(),
            at,
            signature: base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
        }
    }
}

/// What the checkpoints say about the chain in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointCheck {
    /// Checkpoints whose entry is in the database with the signed hash.
    pub matched: u64,
    /// Checkpoints of entries retention removed since (nothing to compare).
    pub pruned: u64,
    /// Checkpoints the key did not sign (forged or damaged), by entry.
    pub unsigned: Vec<i64>,
    /// The first checkpoint whose entry is missing or has another hash: the chain was
    /// rewritten at or before it.
    pub mismatch: Option<i64>,
}

impl CheckpointCheck {
    /// Nothing found wrong.
    pub fn intact(&self) -> bool {
        self.unsigned.is_empty() && self.mismatch.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_checkpoints_verify_and_nothing_else_does() {
        let dir = std::env::temp_dir().join(format!("vp-checkpoint-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("keys").join("audit-checkpoint.key");
        let key = CheckpointKey::load_or_create(&path).expect("made");
        let again = CheckpointKey::load_or_create(&path).expect("loaded");
        assert_eq!(key.public(), again.public(), "the same key the second time");
        let c = key.sign(42, "ab12", 1_800_000_000);
        assert!(c.signed_by(&key.public()));
        let (parsed, bad) = parse_lines(&format!("{}\n\nnot json\n", c.to_line()));
        assert_eq!((parsed, bad), (vec![c.clone()], vec![3]));
        for forged in [
            Checkpoint {
                entry: 43,
                ..c.clone()
            },
            Checkpoint {
                hash: "ab13".into(),
                ..c.clone()
            },
            Checkpoint { at: 1, ..c.clone() },
            Checkpoint {
                signature: "AAAA".into(),
                ..c.clone()
            },
            Checkpoint {
                signature: "***".into(),
                ..c.clone()
            },
        ] {
            assert!(!forged.signed_by(&key.public()), "{forged:?}");
        }
        let other = CheckpointKey::from_pkcs8(
            Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                .expect("key")
                .as_ref(),
        )
        .expect("other");
        assert!(!c.signed_by(&other.public()));
        assert!(!c.signed_by(b"short"));
        let (_, bad) = parse_lines(&"x".repeat(5000));
        assert_eq!(bad, vec![1]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
