//! Message bodies, written durably before anyone refers to them and read back whole.
//! Names are generated here, never taken from outside input. Two homes:
//!
//! - a directory (the default, one node): files fsync'd (file and directory);
//! - an S3-compatible object store (several nodes): every object sealed with the blob key
//!   (kept wrapped by the master key in the database, so the bucket only ever holds
//!   ciphertext and a master-key rotation touches no object), named by the SHA-256
//!   of what is stored (content-addressed: a name says what it holds, and a read checks
//!   it), written create-only so that a retry never overwrites.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions};

use crate::vault::BlobKey;
use crate::{Error, Result, new_id, sha256_hex};

/// Where blobs live: a directory or an object store.
#[derive(Debug, Clone)]
pub enum Blobs {
    Dir(BlobDir),
    Object(ObjectBlobs),
}

impl Blobs {
    /// Write `bytes` durably; returns the new blob's name.
    pub async fn write(&self, bytes: Vec<u8>) -> Result<String> {
        match self {
            Blobs::Dir(d) => d.write(bytes).await,
            Blobs::Object(o) => o.write(bytes).await,
        }
    }

    /// Read a blob of this home (content kept in the database is read through
    /// [`crate::Store::read_blob`]).
    pub async fn read(&self, name: &str) -> Result<Vec<u8>> {
        if is_inline(name) {
            return Err(Error::Blob(format!(
                "{name}: kept in the database, not in {}",
                self.describe()
            )));
        }
        match self {
            Blobs::Dir(d) => d.read(name).await,
            Blobs::Object(o) => o.read(name).await,
        }
    }

    /// Remove a blob (missing is fine).
    pub async fn remove(&self, name: &str) -> Result<()> {
        match self {
            Blobs::Dir(d) => d.remove(name).await,
            Blobs::Object(o) => o.remove(name).await,
        }
    }

    /// Whether blobs can be stored now (for readiness): a file written and removed in the
    /// directory, or a request the object store must authorise (removing a name nothing
    /// has).
    pub async fn check(&self) -> Result<()> {
        match self {
            Blobs::Dir(d) => {
                let probe = d.dir.join(".ready-probe");
                tokio::fs::write(&probe, b"ready")
                    .await
                    .map_err(|e| io(&probe, e))?;
                tokio::fs::remove_file(&probe)
                    .await
                    .map_err(|e| io(&probe, e))
            }
            Blobs::Object(o) => {
                let path = o.path("ready.probe")?;
                match o.store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(object_error("ready.probe", e)),
                }
            }
        }
    }

    /// The name of every blob stored (for backups).
    pub async fn names(&self) -> Result<Vec<String>> {
        match self {
            Blobs::Dir(d) => {
                let d = d.clone();
                tokio::task::spawn_blocking(move || d.names())
                    .await
                    .map_err(|e| Error::Invalid(format!("blob lister: {e}")))?
            }
            Blobs::Object(o) => {
                use futures_util::TryStreamExt;
                let prefix = (!o.prefix.is_empty())
                    .then(|| object_store::path::Path::from(o.prefix.as_str()));
                let listed: Vec<object_store::ObjectMeta> = o
                    .store
                    .list(prefix.as_ref())
                    .try_collect()
                    .await
                    .map_err(|e| object_error(&o.url, e))?;
                let mut names: Vec<String> = listed
                    .iter()
                    .filter_map(|m| m.location.filename().map(str::to_string))
                    .filter(|n| checked(n).is_ok() && n.ends_with(".b"))
                    .collect();
                names.sort_unstable();
                Ok(names)
            }
        }
    }

    /// A blob as it is stored (sealed in an object store), for backups; `None` when it is
    /// gone (removed since it was listed: delivered content is purged while a node runs).
    pub async fn read_stored(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Blobs::Dir(d) => match d.read(name).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    Ok(None)
                }
                Err(e) => Err(e),
            },
            Blobs::Object(o) => {
                let got = match o.store.get(&o.path(name)?).await {
                    Ok(got) => got,
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(object_error(name, e)),
                };
                Ok(Some(
                    got.bytes()
                        .await
                        .map_err(|e| object_error(name, e))?
                        .to_vec(),
                ))
            }
        }
    }

    /// Put back a blob as [`Blobs::read_stored`] gave it, under its own name, durably;
    /// a blob already there is left as it is (restores can be run again).
    pub async fn restore_stored(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        match self {
            Blobs::Dir(d) => {
                let path = d.path(name)?;
                let dir = d.dir.clone();
                tokio::task::spawn_blocking(move || {
                    let mut f = match std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)
                    {
                        Ok(f) => f,
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
                        Err(e) => return Err(io(&path, e)),
                    };
                    f.write_all(&bytes).map_err(|e| io(&path, e))?;
                    f.sync_all().map_err(|e| io(&path, e))?;
                    std::fs::File::open(&dir)
                        .and_then(|d| d.sync_all())
                        .map_err(|e| io(&dir, e))
                })
                .await
                .map_err(|e| Error::Invalid(format!("blob writer: {e}")))?
            }
            Blobs::Object(o) => {
                if name.strip_suffix(".b") != Some(sha256_hex(&bytes).as_str()) {
                    return Err(Error::Blob(format!("{name}: not the object it names")));
                }
                let path = o.path(name)?;
                let options = PutOptions {
                    mode: PutMode::Create,
                    ..PutOptions::default()
                };
                match o.store.put_opts(&path, bytes.into(), options).await {
                    Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                    Err(e) => Err(object_error(name, e)),
                }
            }
        }
    }

    /// Where they are, for messages (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Blobs::Dir(d) => d.dir.display().to_string(),
            Blobs::Object(o) => o.url.clone(),
        }
    }
}

/// Received content up to this size is kept in the database ([`Store::spool`]) when blobs
/// live in a directory: it becomes durable with the group commit of its message's rows
/// (one fsync of the database's log for a whole group) instead of a file and two fsyncs
/// of its own, and leaves with one `DELETE` instead of an unlink. Messages bigger than this
/// (attachments) and every blob in an object store stay blobs of their own.
pub(crate) const INLINE_MAX: usize = 256 * 1024;

/// Whether blob `name` is kept in the database (`inline_blobs`).
pub(crate) fn is_inline(name: &str) -> bool {
    name.ends_with(".i")
}

impl crate::Store {
    /// Read a blob wherever it is kept: in the database (received content
    /// up to 256 KiB when blobs live in a directory) or in the blob home.
    pub async fn read_blob(&self, name: &str) -> Result<Vec<u8>> {
        if !is_inline(name) {
            return self.blobs.read(name).await;
        }
        if let Some(content) = self.recent.get(name) {
            return Ok(content.to_vec());
        }
        let data: Option<Vec<u8>> = crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT data FROM inline_blobs WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(ex).await)?;
        data.ok_or_else(|| Error::Blob(format!("{name}: not in the database")))
    }

    /// Remove a blob wherever it is kept (missing is fine).
    pub async fn remove_blob(&self, name: &str) -> Result<()> {
        if !is_inline(name) {
            return self.blobs.remove(name).await;
        }
        self.recent.forget([name]);
        crate::db::on!(&self.pool, ex => sqlx::query("DELETE FROM inline_blobs WHERE name = $1")
            .bind(name)
            .execute(ex).await.map(|_| ()))?;
        Ok(())
    }
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobDir {
    dir: PathBuf,
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A blob name is ours: letters, digits and dots only (no path in it).
fn checked(name: &str) -> Result<&str> {
    if name.is_empty()
        || name.len() > 128
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
    {
        return Err(Error::Invalid(format!("bad blob name {name:?}")));
    }
    Ok(name)
}

impl BlobDir {
    /// Open (creating) the directory.
    pub fn open(dir: &Path) -> Result<BlobDir> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        Ok(BlobDir {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.dir.join(checked(name)?))
    }

    /// Write `bytes` durably; returns the new blob's name. Blocking: call from
    /// `spawn_blocking` (or use [`BlobDir::write`]).
    pub fn write_sync(&self, bytes: &[u8]) -> Result<String> {
        let name = format!("{}.eml", new_id());
        let path = self.path(&name)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        f.write_all(bytes).map_err(|e| io(&path, e))?;
        f.sync_all().map_err(|e| io(&path, e))?;
        // The directory entry must be durable too.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&self.dir, e))?;
        Ok(name)
    }

    /// Write `bytes` durably on a blocking thread.
    pub async fn write(&self, bytes: Vec<u8>) -> Result<String> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.write_sync(&bytes))
            .await
            .map_err(|e| Error::Invalid(format!("blob writer: {e}")))?
    }

    /// Read a blob.
    pub async fn read(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.path(name)?;
        tokio::fs::read(&path).await.map_err(|e| io(&path, e))
    }

    /// Remove a blob (missing is fine).
    pub async fn remove(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// The names of every blob (for `veilpost migrate`).
    pub fn names(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io(&self.dir, e))? {
            let entry = entry.map_err(|e| io(&self.dir, e))?;
            if let Some(name) = entry.file_name().to_str()
                && checked(name).is_ok()
            {
                out.push(name.to_string());
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}

/// `blobs.*` for an S3-compatible object store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// The service's URL when it is not AWS (MinIO, Garage, Ceph, …): `https://…`, or
    /// `http://` on a private network.
    pub endpoint: String,
    pub region: String,
    /// Path-style requests (`endpoint/bucket/key`) instead of virtual-hosted ones.
    pub path_style: bool,
}

impl S3Options {
    /// The bucket and the prefix inside it.
    pub fn bucket_and_prefix(&self) -> Result<(String, String)> {
        let rest = self
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| Error::Invalid(format!("{:?} is not an s3:// URL", self.url)))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Invalid(format!("{:?} names no bucket", self.url)));
        }
        Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
    }
}

/// Blobs in an S3-compatible object store, sealed.
#[derive(Clone)]
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    key: BlobKey,
    url: String,
}

impl std::fmt::Debug for ObjectBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBlobs")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// How an object-store error reads in ours.
fn object_error(name: &str, e: object_store::Error) -> Error {
    Error::Blob(format!("{name}: {e}"))
}

impl ObjectBlobs {
    /// Blobs in the bucket `options` names, sealed with `key` ([`crate::Store::blob_key`]).
    /// Credentials come from the environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, and `AWS_SESSION_TOKEN` when set).
    pub fn s3(options: &S3Options, key: BlobKey) -> Result<ObjectBlobs> {
        let (bucket, prefix) = options.bucket_and_prefix()?;
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_virtual_hosted_style_request(!options.path_style);
        if !options.region.is_empty() {
            builder = builder.with_region(&options.region);
        }
        if !options.endpoint.is_empty() {
            builder = builder
                .with_endpoint(&options.endpoint)
                .with_allow_http(options.endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| Error::Blob(format!("{}: {e}", options.url)))?;
        Ok(ObjectBlobs::new(
            Arc::new(store),
            &prefix,
            key,
            &options.url,
        ))
    }

    /// Blobs in any object store (tests use an in-memory one).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, key: BlobKey, url: &str) -> ObjectBlobs {
        ObjectBlobs {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            key,
            url: url.to_string(),
        }
    }

    fn path(&self, name: &str) -> Result<object_store::path::Path> {
        let name = checked(name)?;
        Ok(if self.prefix.is_empty() {
            object_store::path::Path::from(name)
        } else {
            object_store::path::Path::from(format!("{}/{name}", self.prefix))
        })
    }

    /// Seal `bytes` and store them under the SHA-256 of the sealed form; done when the
    /// store has acknowledged the object (S3 answers only once it is durable).
    pub async fn write(&self, bytes: Vec<u8>) -> Result<String> {
        let key = self.key.clone();
        let sealed = tokio::task::spawn_blocking(move || key.seal(&bytes))
            .await
            .map_err(|e| Error::Invalid(format!("blob sealer: {e}")))??;
        let name = format!("{}.b", sha256_hex(&sealed));
        let path = self.path(&name)?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self.store.put_opts(&path, sealed.into(), options).await {
            Ok(_) => Ok(name),
            // The same name is the same content: an earlier try that got through.
            Err(object_store::Error::AlreadyExists { .. }) => Ok(name),
            Err(e) => Err(object_error(&name, e)),
        }
    }

    /// Read a blob: its content must match its name, and open under the blob key.
    pub async fn read(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.path(name)?;
        let got = self
            .store
            .get(&path)
            .await
            .map_err(|e| object_error(name, e))?;
        let sealed = got.bytes().await.map_err(|e| object_error(name, e))?;
        let key = self.key.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            if name.strip_suffix(".b") != Some(sha256_hex(&sealed).as_str()) {
                return Err(Error::Blob(format!(
                    "{name}: the stored object was altered"
                )));
            }
            key.open(&sealed)
        })
        .await
        .map_err(|e| Error::Invalid(format!("blob opener: {e}")))?
    }

    /// Remove a blob (missing is fine).
    pub async fn remove(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(object_error(name, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::MasterKey;

    fn key(base64: &str) -> BlobKey {
        BlobKey::derived(&MasterKey::from_base64(base64).expect("master")).expect("key")
    }

    fn master() -> BlobKey {
        key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    }

    #[tokio::test]
    async fn objects_are_sealed_named_by_content_and_checked() {
        let memory = Arc::new(object_store::memory::InMemory::new());
        let blobs = ObjectBlobs::new(memory.clone(), "node/blobs", master(), "memory://");
        let name = blobs.write(b"BSN 111222333".to_vec()).await.expect("write");
        assert_eq!(blobs.read(&name).await.expect("read"), b"BSN 111222333");
        // Only ciphertext is stored, under the prefix, named by its hash.
        let path = object_store::path::Path::from(format!("node/blobs/{name}"));
        let stored = memory
            .get(&path)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        assert!(!stored.windows(9).any(|w| w == b"111222333"));
        assert_eq!(format!("{}.b", sha256_hex(&stored)), name);
        // An object replaced behind our back is refused, not used.
        memory
            .put(&path, b"something else".to_vec().into())
            .await
            .expect("tamper");
        assert!(blobs.read(&name).await.is_err());
        // Another key cannot open it; names from outside are refused.
        let other = key("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=");
        let theirs = ObjectBlobs::new(memory.clone(), "node/blobs", other, "memory://");
        let name = blobs.write(b"x".to_vec()).await.expect("write");
        assert!(theirs.read(&name).await.is_err());
        assert!(blobs.read("../../etc/passwd").await.is_err());
        let stored = Blobs::Object(blobs.clone());
        assert!(stored.read_stored(&name).await.expect("read").is_some());
        blobs.remove(&name).await.expect("remove");
        blobs.remove(&name).await.expect("missing is fine");
        assert!(blobs.read(&name).await.is_err());
        // Gone since it was listed (a backup of a running node): none, not an error.
        assert!(stored.read_stored(&name).await.expect("read").is_none());
    }

    #[tokio::test]
    async fn a_blob_gone_from_the_directory_reads_as_none_for_backups() {
        let dir = std::env::temp_dir().join(format!("vp-blob-gone-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let blobs = Blobs::Dir(BlobDir::open(&dir).expect("dir"));
        let name = blobs.write(b"x".to_vec()).await.expect("write");
        assert_eq!(
            blobs.read_stored(&name).await.expect("read"),
            Some(b"x".to_vec())
        );
        blobs.remove(&name).await.expect("remove");
        assert!(blobs.read_stored(&name).await.expect("read").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn s3_urls() {
        let o = |url: &str| S3Options {
            url: url.into(),
            ..S3Options::default()
        };
        assert_eq!(
            o("s3://veilpost").bucket_and_prefix().expect("bucket"),
            ("veilpost".into(), String::new())
        );
        assert_eq!(
            o("s3://veilpost/node-a/blobs/")
                .bucket_and_prefix()
                .expect("bucket"),
            ("veilpost".into(), "node-a/blobs".into())
        );
        assert!(o("s3:///x").bucket_and_prefix().is_err());
        assert!(o("https://bucket").bucket_and_prefix().is_err());
    }
}
