//! Message bodies as files: written, fsync'd (file and directory) before anyone refers to
//! them, read back whole. Names are generated here, never taken from outside input.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result, new_id};

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

impl BlobDir {
    /// Open (creating) the directory.
    pub fn open(dir: &Path) -> Result<BlobDir> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        Ok(BlobDir {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
            return Err(Error::Invalid(format!("bad blob name {name:?}")));
        }
        Ok(self.dir.join(name))
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
}
