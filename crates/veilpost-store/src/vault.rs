//! The vault: messages for the portal, encrypted with a fresh AES-256-GCM key each
//! (the data key), which is itself encrypted ("wrapped") with the master key. The master
//! key comes from the configuration or a file that is made on first start (mode 0600).
//! Link tokens are 256 random bits; only their SHA-256 is stored.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::{Error, Result, Store, hex, random, sha256_hex};

/// The master key that wraps every data key.
pub struct MasterKey {
    id: String,
    key: LessSafeKey,
    /// The first blob key an installation gets (see [`Store::blob_key`]): derived from
    /// the master key, so that nodes starting together agree on it.
    derived_blob_key: [u8; 32],
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.derived_blob_key.fill(0);
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> Error {
    Error::Crypto(e.to_string())
}

fn seal_with(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce);
    let mut out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut out,
    )
    .map_err(crypto)?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&out);
    Ok(sealed)
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(Error::Crypto("ciphertext too short".into()));
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(crypto)?;
    let mut buf = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| Error::Crypto("decryption failed (wrong key or altered data)".into()))?;
    Ok(plain.to_vec())
}

/// The associated data a data key is wrapped with: the master key's id and the context
/// (what the key opens), so a wrapped key moved to another row or another key is refused.
fn wrap_aad(key_id: &str, context: &str) -> String {
    format!("veilpost-vault-v1|key|{key_id}|{context}")
}

/// Associated data of every blob sealed for an object store.
const BLOB_AAD: &[u8] = b"veilpost-blob-v1";

fn aes_key(bytes: &[u8]) -> Result<LessSafeKey> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, bytes).map_err(crypto)?,
    ))
}

/// A message sealed for the vault.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The data key, wrapped by the master key.
    pub wrapped_key: Vec<u8>,
    /// nonce || ciphertext || tag.
    pub ciphertext: Vec<u8>,
    pub key_id: String,
}

impl MasterKey {
    /// A master key from 32 bytes in base64.
    pub fn from_base64(text: &str) -> Result<MasterKey> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| Error::Crypto(format!("master key is not base64: {e}")))?;
        if bytes.len() != 32 {
            return Err(Error::Crypto(format!(
                "the master key must be 32 bytes, not {}",
                bytes.len()
            )));
        }
        let mut blob_key = [0u8; 32];
        aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"veilpost")
            .extract(&bytes)
            .expand(&[b"veilpost-blobs-v1"], aws_lc_rs::hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut blob_key))
            .map_err(crypto)?;
        Ok(MasterKey {
            id: sha256_hex(&bytes)[..16].to_string(),
            key: aes_key(&bytes)?,
            derived_blob_key: blob_key,
        })
    }

    /// Read the key file, or make one (32 random bytes, base64, mode 0600) if it is missing.
    pub fn load_or_create(path: &Path) -> Result<MasterKey> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut raw = [0u8; 32];
                random(&mut raw);
                let text = STANDARD.encode(raw);
                write_private(path, text.as_bytes()).map_err(io)?;
                MasterKey::from_base64(&text)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key's id (a hash prefix), stored beside each wrapped key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypt `plaintext` under a fresh data key; `context` (the vault entry id) is bound
    /// into both layers as associated data.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Sealed> {
        let mut dek = [0u8; 32];
        random(&mut dek);
        let data_aad = format!("veilpost-vault-v1|data|{context}");
        let ciphertext = seal_with(&aes_key(&dek)?, data_aad.as_bytes(), plaintext)?;
        let key_aad = wrap_aad(&self.id, context);
        let wrapped_key = seal_with(&self.key, key_aad.as_bytes(), &dek)?;
        dek.fill(0);
        Ok(Sealed {
            wrapped_key,
            ciphertext,
            key_id: self.id.clone(),
        })
    }

    /// Decrypt what [`MasterKey::seal`] made for `context`.
    pub fn open(&self, context: &str, wrapped_key: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>> {
        let key_aad = wrap_aad(&self.id, context);
        let mut dek = open_with(&self.key, key_aad.as_bytes(), wrapped_key)?;
        let data_aad = format!("veilpost-vault-v1|data|{context}");
        let plain = open_with(&aes_key(&dek)?, data_aad.as_bytes(), ciphertext);
        dek.fill(0);
        plain
    }
}

/// The key every blob in an object store is sealed with (so the bucket only ever holds
/// ciphertext). It is kept in the database wrapped by the master key, like a data key, so
/// a master-key rotation re-wraps it and no object is touched.
#[derive(Clone)]
pub struct BlobKey(std::sync::Arc<LessSafeKey>);

impl std::fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobKey(..)")
    }
}

/// Which blob key a row of `blob_keys` holds, and the context its wrap is bound to.
pub(crate) const BLOB_KEY_ID: &str = "v1";
pub(crate) fn blob_key_context(id: &str) -> String {
    format!("blob-key:{id}")
}

impl BlobKey {
    /// The blob key derived from `master`: what an installation starts with. Tests use it
    /// directly; a node asks the store ([`Store::blob_key`]), which keeps the one in use.
    pub fn derived(master: &MasterKey) -> Result<BlobKey> {
        Ok(BlobKey(std::sync::Arc::new(aes_key(
            &master.derived_blob_key,
        )?)))
    }

    /// Seal a whole blob for an object store: nonce || ciphertext || tag.
    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        seal_with(&self.0, BLOB_AAD, plaintext)
    }

    /// Open what [`BlobKey::seal`] sealed.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        open_with(&self.0, BLOB_AAD, sealed)
    }
}

impl Store {
    /// The key the object store's blobs are sealed with, unwrapped by `master`. The first
    /// call on a database stores the one derived from `master` (nodes that start together
    /// store the same one); after a master-key rotation the stored key, re-wrapped, stays
    /// the one in use. An error when `master` does not open it (the wrong master key).
    pub async fn blob_key(&self, master: &MasterKey) -> Result<BlobKey> {
        let context = blob_key_context(BLOB_KEY_ID);
        let aad_first = wrap_aad(&master.id, &context);
        let first = seal_with(&master.key, aad_first.as_bytes(), &master.derived_blob_key)?;
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO blob_keys (id, wrapped, key_id) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(BLOB_KEY_ID)
        .bind(&first)
        .bind(master.id())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        let (wrapped, key_id): (Vec<u8>, String) = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT wrapped, key_id FROM blob_keys WHERE id = $1",
        )
        .bind(BLOB_KEY_ID)
        .fetch_one(ex).await)?;
        let aad = wrap_aad(&key_id, &context);
        let mut raw = open_with(&master.key, aad.as_bytes(), &wrapped).map_err(|_| {
            Error::Crypto(format!(
                "the blob key is wrapped by master key {key_id}, and this one ({}) does not \
                 open it",
                master.id
            ))
        })?;
        let key = aes_key(&raw);
        raw.fill(0);
        Ok(BlobKey(std::sync::Arc::new(key?)))
    }
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Result<(MasterKey, String)> {
        let mut raw = [0u8; 32];
        random(&mut raw);
        let text = STANDARD.encode(raw);
        raw.fill(0);
        Ok((MasterKey::from_base64(&text)?, text))
    }

    /// A data key `self` wrapped for `context`, wrapped by `to` instead; the ciphertext it
    /// opens is not touched. An error when `self` did not wrap it.
    pub fn rewrap(&self, to: &MasterKey, context: &str, wrapped: &[u8]) -> Result<Vec<u8>> {
        let from_aad = wrap_aad(&self.id, context);
        let mut dek = open_with(&self.key, from_aad.as_bytes(), wrapped)?;
        let to_aad = wrap_aad(&to.id, context);
        let out = seal_with(&to.key, to_aad.as_bytes(), &dek);
        dek.fill(0);
        out
    }

    /// Whether `self` wrapped this data key for `context`.
    pub fn unwraps(&self, context: &str, wrapped: &[u8]) -> bool {
        let aad = wrap_aad(&self.id, context);
        open_with(&self.key, aad.as_bytes(), wrapped)
            .map(|mut k| k.fill(0))
            .is_ok()
    }

    /// Seal a vault entry's subject on its own (context `subject:<id>`), for lists that
    /// show it without opening the message.
    pub fn seal_subject(&self, id: &str, subject: &str) -> Result<Sealed> {
        self.seal(&format!("subject:{id}"), subject.as_bytes())
    }

    /// The subject [`MasterKey::seal_subject`] sealed; `None` when there is none (older
    /// entries, shredded ones) or it does not open.
    pub fn open_subject(
        &self,
        id: &str,
        key: Option<&[u8]>,
        sealed: Option<&[u8]>,
    ) -> Option<String> {
        let plain = self.open(&format!("subject:{id}"), key?, sealed?).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Write a file only its owner can read, never replacing an existing one.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A new link token: 256 random bits, URL-safe base64.
pub fn new_token() -> String {
    let mut raw = [0u8; 32];
    random(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// A vault entry to store.
#[derive(Debug, Clone, Default)]
pub struct VaultEntry {
    pub id: String,
    pub message_id: String,
    pub recipient: String,
    pub sender: String,
    pub token_hash: String,
    pub blob: String,
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
    pub expires_at: i64,
    /// E.164 number for SMS codes, if known.
    pub phone: Option<String>,
    /// The access code's salted hash (JSON), if the sender got one to pass on.
    pub access_code: Option<String>,
    /// An e-mailed code alone is enough (policy, or the organisation's own addresses).
    pub email_code: bool,
    /// SHA-256 of the sender's status-link token.
    pub status_token_hash: Option<String>,
    /// Mail the sender when the recipient first opens the message.
    pub read_receipt: bool,
    /// An upload request: the recipient is asked to send documents back.
    pub upload: bool,
    /// The subject, sealed on its own (`MasterKey::seal_subject`).
    pub subject: Option<Sealed>,
}

/// What the portal's landing page may know about a link: never the content.
#[derive(Debug, Clone)]
pub struct VaultInfo {
    pub id: String,
    pub sender: String,
    pub recipient: String,
    pub expires_at: i64,
    pub state: String,
}

pub(crate) async fn insert(
    tx: &mut crate::db::Tx,
    v: &VaultEntry,
    at: i64,
) -> Result<(), sqlx::Error> {
    crate::db::on_tx!(tx, c => sqlx::query(
        "INSERT INTO vault (id, message_id, recipient, sender, token_hash, blob, wrapped_key, key_id,
                            created_at, expires_at, phone, access_code, email_code,
                            status_token_hash, read_receipt, upload, subject_key, subject_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(&v.id)
    .bind(&v.message_id)
    .bind(&v.recipient)
    .bind(&v.sender)
    .bind(&v.token_hash)
    .bind(&v.blob)
    .bind(&v.wrapped_key)
    .bind(&v.key_id)
    .bind(at)
    .bind(v.expires_at)
    .bind(&v.phone)
    .bind(&v.access_code)
    .bind(v.email_code)
    .bind(&v.status_token_hash)
    .bind(v.read_receipt)
    .bind(v.upload)
    .bind(v.subject.as_ref().map(|s| &s.wrapped_key))
    .bind(v.subject.as_ref().map(|s| &s.ciphertext))
    .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

impl Store {
    /// Look a link token up (by its hash).
    pub async fn vault_by_token(&self, token: &str) -> Result<Option<VaultInfo>> {
        if token.len() > 128 {
            return Ok(None);
        }
        let row: Option<(String, String, String, i64, String)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT id, sender, recipient, expires_at, state FROM vault WHERE token_hash = $1",
        )
        .bind(sha256_hex(token.as_bytes()))
        .fetch_optional(ex).await)?;
        Ok(
            row.map(|(id, sender, recipient, expires_at, state)| VaultInfo {
                id,
                sender,
                recipient,
                expires_at,
                state,
            }),
        )
    }
}

/// Hex of a token's SHA-256, as stored.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Short random hex, for ids inside the vault.
pub fn short_id() -> String {
    let mut raw = [0u8; 12];
    random(&mut raw);
    hex(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let k = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).expect("key");
        let s = k.seal("v1", b"BSN 111222333").expect("seal");
        assert!(!s.ciphertext.windows(9).any(|w| w == b"111222333"));
        assert_eq!(
            k.open("v1", &s.wrapped_key, &s.ciphertext).expect("open"),
            b"BSN 111222333"
        );
        // Another context, key or a flipped bit: refused.
        assert!(k.open("v2", &s.wrapped_key, &s.ciphertext).is_err());
        let other = MasterKey::from_base64(&STANDARD.encode([8u8; 32])).expect("key");
        assert!(other.open("v1", &s.wrapped_key, &s.ciphertext).is_err());
        let mut bad = s.ciphertext.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(k.open("v1", &s.wrapped_key, &bad).is_err());
        assert!(k.open("v1", &s.wrapped_key, &[1, 2, 3]).is_err());
    }

    #[test]
    fn key_files() {
        let dir = std::env::temp_dir().join(format!("veilpost-key-{}", std::process::id()));
        let path = dir.join("master.key");
        let _ = std::fs::remove_dir_all(&dir);
        let a = MasterKey::load_or_create(&path).expect("create");
        let b = MasterKey::load_or_create(&path).expect("load");
        assert_eq!(a.id(), b.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tokens() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token());
        assert_eq!(token_hash(&t).len(), 64);
    }
}
