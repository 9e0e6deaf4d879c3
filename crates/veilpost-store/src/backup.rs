//! Encryption of backups (`veilpost backup create` / `restore`): a key derived from the
//! operator's passphrase (Argon2id, salt and cost kept in the backup's clear header), and
//! every file sealed as a stream of AES-256-GCM segments so a database of any size goes
//! through in constant memory.
//!
//! A sealed file is `VPBK1` + a 7-byte random nonce prefix, then segments of at most
//! [`SEGMENT`] bytes of plaintext plus a 16-byte tag. A segment's nonce is the prefix, its
//! number (4 bytes) and a last-segment flag (1 byte); its associated data is the file's
//! name in the backup. So a segment cannot be moved to another place or another file, and
//! a file cut after a segment does not open (its last segment lacks the flag).

use std::io::{BufRead, BufReader, Read, Write};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;

use crate::{Error, Result};

/// Plaintext bytes per segment.
pub const SEGMENT: usize = 1 << 20;
const MAGIC: &[u8; 5] = b"VPBK1";
const PREFIX: usize = 7;
const TAG: usize = 16;

/// The shortest passphrase a backup is made with.
pub const MIN_PASSPHRASE: usize = 12;

/// How the key is derived from the passphrase: Argon2id with these costs and salt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Kdf {
    pub algorithm: String,
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Base64.
    pub salt: String,
}

impl Kdf {
    /// A fresh salt with the costs backups are made with (64 MiB, 3 passes).
    pub fn new() -> Kdf {
        use base64::Engine as _;
        let mut salt = [0u8; 16];
        crate::random(&mut salt);
        Kdf {
            algorithm: "argon2id".into(),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
            salt: base64::engine::general_purpose::STANDARD.encode(salt),
        }
    }

    /// The backup key for `passphrase`. Costs outside sane bounds (a damaged or hostile
    /// header) are refused rather than tried.
    pub fn derive(&self, passphrase: &str) -> Result<BackupKey> {
        use base64::Engine as _;
        if self.algorithm != "argon2id"
            || !(8..=1 << 22).contains(&self.memory_kib)
            || !(1..=16).contains(&self.iterations)
            || !(1..=16).contains(&self.parallelism)
        {
            return Err(Error::Invalid(
                "the backup names a key derivation this version does not use".into(),
            ));
        }
        let salt = base64::engine::general_purpose::STANDARD
            .decode(&self.salt)
            .map_err(|_| Error::Invalid("the backup's salt is not base64".into()))?;
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(|e| Error::Crypto(e.to_string()))?;
        let mut key = [0u8; 32];
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let key = UnboundKey::new(&AES_256_GCM, &key).map_err(|e| Error::Crypto(e.to_string()))?;
        Ok(BackupKey(LessSafeKey::new(key)))
    }
}

impl Default for Kdf {
    fn default() -> Self {
        Kdf::new()
    }
}

/// The key every file of one backup is sealed with.
pub struct BackupKey(LessSafeKey);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey(..)")
    }
}

/// What went through a stream: plaintext bytes and their SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub size: u64,
    pub sha256: String,
}

fn nonce(prefix: &[u8; PREFIX], counter: u32, last: bool) -> Result<Nonce> {
    let mut n = [0u8; NONCE_LEN];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..PREFIX + 4].copy_from_slice(&counter.to_be_bytes());
    n[NONCE_LEN - 1] = u8::from(last);
    Ok(Nonce::assume_unique_for_key(n))
}

/// Read until `buf` is full or the input ends; the bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn io(name: &str, e: std::io::Error) -> Error {
    Error::Io {
        path: name.into(),
        source: e,
    }
}

impl BackupKey {
    /// Seal everything `input` holds into `output` as the file `name` of the backup.
    pub fn seal(&self, name: &str, input: impl Read, mut output: impl Write) -> Result<Digest> {
        let mut input = BufReader::with_capacity(SEGMENT, input);
        let mut prefix = [0u8; PREFIX];
        crate::random(&mut prefix);
        output.write_all(MAGIC).map_err(|e| io(name, e))?;
        output.write_all(&prefix).map_err(|e| io(name, e))?;
        let mut hash = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        let mut buf = vec![0u8; SEGMENT];
        for counter in 0u32.. {
            let got = fill(&mut input, &mut buf).map_err(|e| io(name, e))?;
            let last = got < SEGMENT || input.fill_buf().map_err(|e| io(name, e))?.is_empty();
            hash.update(&buf[..got]);
            size += got as u64;
            let mut segment = buf[..got].to_vec();
            self.0
                .seal_in_place_append_tag(
                    nonce(&prefix, counter, last)?,
                    Aad::from(name.as_bytes()),
                    &mut segment,
                )
                .map_err(|e| Error::Crypto(e.to_string()))?;
            output.write_all(&segment).map_err(|e| io(name, e))?;
            if last {
                break;
            }
        }
        output.flush().map_err(|e| io(name, e))?;
        Ok(Digest {
            size,
            sha256: hex(hash.finish().as_ref()),
        })
    }

    /// Open the sealed file `name` from `input` into `output`. A wrong key, a segment
    /// altered, moved or missing, or a file cut short is an error (what was written to
    /// `output` by then must be thrown away).
    pub fn open(&self, name: &str, input: impl Read, mut output: impl Write) -> Result<Digest> {
        let mut input = BufReader::with_capacity(SEGMENT + TAG, input);
        let mut head = [0u8; MAGIC.len() + PREFIX];
        if fill(&mut input, &mut head).map_err(|e| io(name, e))? != head.len()
            || &head[..MAGIC.len()] != MAGIC
        {
            return Err(Error::Invalid(format!(
                "{name} is not a Veilpost backup file"
            )));
        }
        let mut prefix = [0u8; PREFIX];
        prefix.copy_from_slice(&head[MAGIC.len()..]);
        let mut hash = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        let mut buf = vec![0u8; SEGMENT + TAG];
        for counter in 0u32.. {
            let got = fill(&mut input, &mut buf).map_err(|e| io(name, e))?;
            let last = got < buf.len() || input.fill_buf().map_err(|e| io(name, e))?.is_empty();
            if got < TAG {
                return Err(Error::Crypto(format!("{name} is cut short")));
            }
            let plain = self
                .0
                .open_in_place(
                    nonce(&prefix, counter, last)?,
                    Aad::from(name.as_bytes()),
                    &mut buf[..got],
                )
                .map_err(|_| {
                    Error::Crypto(format!(
                        "{name} does not open: wrong passphrase, or the file was altered or cut short"
                    ))
                })?;
            hash.update(plain);
            size += plain.len() as u64;
            output.write_all(plain).map_err(|e| io(name, e))?;
            if last {
                break;
            }
        }
        output.flush().map_err(|e| io(name, e))?;
        Ok(Digest {
            size,
            sha256: hex(hash.finish().as_ref()),
        })
    }

    /// Seal bytes in memory.
    pub fn seal_bytes(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plain.len() + 64);
        self.seal(name, plain, &mut out)?;
        Ok(out)
    }

    /// Open bytes in memory.
    pub fn open_bytes(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(sealed.len());
        self.open(name, sealed, &mut out)?;
        Ok(out)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl crate::Store {
    /// A consistent copy of the SQLite database at `dest` (which must not exist), taken
    /// while the gateway runs: `VACUUM INTO` reads one snapshot of the whole database.
    /// PostgreSQL is copied with `pg_dump` by the caller.
    pub async fn snapshot_sqlite(&self, dest: &std::path::Path) -> Result<()> {
        let crate::db::Pool::Sqlite(pool, _) = &self.pool else {
            return Err(Error::Invalid(
                "the database is PostgreSQL: it is copied with pg_dump".into(),
            ));
        };
        let dest = dest
            .to_str()
            .ok_or_else(|| Error::Invalid("the backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Messages and audit entries, to check a restore against the backup.
    pub async fn backup_counts(&self) -> Result<(i64, i64)> {
        let messages: i64 = crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(ex).await)?;
        let audit: i64 = crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM audit")
            .fetch_one(ex).await)?;
        Ok((messages, audit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(passphrase: &str) -> (Kdf, BackupKey) {
        // Cheap costs for the tests; the format is the same.
        let kdf = Kdf {
            memory_kib: 64,
            iterations: 1,
            ..Kdf::new()
        };
        let key = kdf.derive(passphrase).expect("derive");
        (kdf, key)
    }

    #[test]
    fn round_trips_at_every_segment_boundary() {
        let (_, k) = key("correct horse battery");
        for len in [
            0,
            1,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            2 * SEGMENT,
            2 * SEGMENT + 7,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = k.seal_bytes("database.sqlite3", &plain).expect("seal");
            assert!(
                !sealed
                    .windows(16)
                    .any(|w| plain.len() >= 16 && w == &plain[..16]),
                "plaintext in the sealed file"
            );
            let mut out = Vec::new();
            let d = k
                .open("database.sqlite3", &sealed[..], &mut out)
                .expect("open");
            assert_eq!(out, plain, "{len}");
            assert_eq!(d.size, len as u64);
            assert_eq!(d.sha256, crate::sha256_hex(&plain));
        }
    }

    #[test]
    fn refuses_wrong_keys_names_alterations_and_truncation() {
        let (kdf, k) = key("correct horse battery");
        let plain: Vec<u8> = (0..(2 * SEGMENT + 100)).map(|i| (i % 13) as u8).collect();
        let sealed = k.seal_bytes("blobs/a.eml", &plain).expect("seal");
        // The same passphrase and header give the same key.
        assert!(
            kdf.derive("correct horse battery")
                .expect("again")
                .open_bytes("blobs/a.eml", &sealed)
                .is_ok()
        );
        let wrong = kdf.derive("wrong horse battery").expect("derive");
        assert!(wrong.open_bytes("blobs/a.eml", &sealed).is_err());
        // Under another name (moved within the backup).
        assert!(k.open_bytes("blobs/b.eml", &sealed).is_err());
        // One bit changed.
        let mut altered = sealed.clone();
        altered[SEGMENT + 40] ^= 1;
        assert!(k.open_bytes("blobs/a.eml", &altered).is_err());
        // Cut after a whole segment: the last one is missing.
        let cut = &sealed[..MAGIC.len() + PREFIX + SEGMENT + TAG];
        assert!(k.open_bytes("blobs/a.eml", cut).is_err());
        // Cut anywhere, or not a backup file at all.
        assert!(
            k.open_bytes("blobs/a.eml", &sealed[..sealed.len() - 1])
                .is_err()
        );
        assert!(k.open_bytes("blobs/a.eml", b"VPBK1").is_err());
        assert!(k.open_bytes("blobs/a.eml", b"").is_err());
        assert!(k.open_bytes("blobs/a.eml", b"not a backup at all").is_err());
    }

    #[test]
    fn hostile_headers_are_refused_before_any_work() {
        let base = Kdf::new();
        for bad in [
            Kdf {
                algorithm: "scrypt".into(),
                ..base.clone()
            },
            Kdf {
                memory_kib: u32::MAX,
                ..base.clone()
            },
            Kdf {
                iterations: 1000,
                ..base.clone()
            },
            Kdf {
                salt: "***".into(),
                ..base.clone()
            },
        ] {
            assert!(bad.derive("correct horse battery").is_err(), "{bad:?}");
        }
    }
}
