//! `veilpost backup create DIR` and `veilpost backup restore DIR`: the database (a
//! consistent snapshot taken while the gateway runs: SQLite's `VACUUM INTO`, or `pg_dump`),
//! every blob as it is stored, and the keys (master key, DKIM keys, the generated TLS
//! certificate), each file sealed with a key derived from the operator's passphrase
//! (`VEILPOST_BACKUP_PASSPHRASE` or `--passphrase-stdin`; see `veilpost_store::backup`).
//!
//! A backup directory holds `veilpost-backup.json` (format, date, version and the key
//! derivation's salt and costs: nothing secret), `manifest.vpbk` (sealed: every file with
//! its size and SHA-256, the message and audit counts and the audit chain's last hash) and
//! the sealed files. The header is written last: a backup cut short has none and is not
//! taken for one. A restore goes onto an empty installation, checks every file against the
//! manifest, and then the counts and the audit chain against what the backup recorded.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use veilpost_store::backup::{BackupKey, Kdf, MIN_PASSPHRASE};

use crate::config::Config;

const HEADER: &str = "veilpost-backup.json";
const MANIFEST: &str = "manifest";
const FORMAT: u32 = 1;
/// What sealed files are called on disk: their name in the backup plus this.
const SEALED: &str = ".vpbk";

/// The clear header.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    created_at: String,
    veilpost: String,
    kdf: Kdf,
}

/// What a file in the backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    /// The SQLite database (a snapshot).
    Sqlite,
    /// A `pg_dump --format=custom` of the PostgreSQL database.
    Pgdump,
    Blob,
    MasterKey,
    DkimKey,
    TlsCertificate,
    TlsKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    name: String,
    kind: Kind,
    size: u64,
    sha256: String,
}

/// The sealed manifest.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    files: Vec<Entry>,
    messages: i64,
    audit_entries: u64,
    audit_head: Option<String>,
    /// Blobs the snapshot named that were purged before they could be copied.
    blobs_gone: u64,
    /// The id of the master key the vault and the sealed blobs are under: a restore with
    /// another key would restore what nobody can open.
    #[serde(default)]
    master_key_id: Option<String>,
}

/// The passphrase: from stdin (one line) or `VEILPOST_BACKUP_PASSPHRASE`.
fn passphrase(from_stdin: bool) -> Result<String> {
    let text = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the passphrase from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        std::env::var("VEILPOST_BACKUP_PASSPHRASE").map_err(|_| {
            anyhow::anyhow!(
                "no passphrase: set VEILPOST_BACKUP_PASSPHRASE or give --passphrase-stdin"
            )
        })?
    };
    if text.is_empty() {
        bail!("the passphrase is empty");
    }
    Ok(text)
}

/// A name in the backup is ours: letters, digits, `.`, `-`, `_` and `/` between parts,
/// never `..` (the manifest is sealed, but a restore trusts no path).
fn safe_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !ok {
        bail!("the backup names a file {name:?} that is not one of ours");
    }
    Ok(name)
}

/// Create `path` anew, write it with `fill`, and make it durable.
fn write_new(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    fill(&mut f)?;
    f.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The backup being written.
struct Writer<'a> {
    dir: &'a Path,
    key: &'a BackupKey,
    files: Vec<Entry>,
}

impl Writer<'_> {
    fn add_reader(&mut self, name: &str, kind: Kind, input: impl std::io::Read) -> Result<()> {
        let name = safe_name(name)?;
        let path = self.dir.join(format!("{name}{SEALED}"));
        let mut digest = None;
        write_new(&path, |f| {
            digest = Some(self.key.seal(name, input, std::io::BufWriter::new(f))?);
            Ok(())
        })?;
        let digest = digest.context("nothing sealed")?;
        self.files.push(Entry {
            name: name.to_string(),
            kind,
            size: digest.size,
            sha256: digest.sha256,
        });
        Ok(())
    }

    fn add_file(&mut self, name: &str, kind: Kind, path: &Path) -> Result<()> {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        self.add_reader(name, kind, f)
    }
}

/// The key files of this configuration: (name in the backup, kind, path).
fn key_files(config: &Config) -> Result<Vec<(String, Kind, PathBuf)>> {
    let mut out = Vec::new();
    let master = config.master_key_file();
    if master.exists() {
        out.push(("keys/master.key".to_string(), Kind::MasterKey, master));
    }
    let dkim = config.dkim_key_dir();
    if let Ok(entries) = std::fs::read_dir(&dkim) {
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| safe_name(n).is_ok())
            .collect();
        names.sort_unstable();
        for n in names {
            out.push((format!("keys/dkim/{n}"), Kind::DkimKey, dkim.join(&n)));
        }
    }
    let (cert, key) = crate::gateway::certs::paths(config);
    for (name, kind, path) in [
        ("keys/tls/cert.pem", Kind::TlsCertificate, cert),
        ("keys/tls/key.pem", Kind::TlsKey, key),
    ] {
        if path.exists() {
            out.push((name.to_string(), kind, path));
        }
    }
    Ok(out)
}

/// `pg_dump` or `pg_restore`: on the PATH, else in Debian's versioned directories.
fn pg_tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if let Some(found) = on_path.into_iter().find(|p| p.is_file()) {
        return found;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.is_file());
    versions.sort();
    versions.pop().unwrap_or_else(|| PathBuf::from(name))
}

fn run_tool(mut cmd: std::process::Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {what} (install postgresql-client)"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `veilpost backup create DIR`.
pub fn create(config: Option<&Path>, dir: &Path, from_stdin: bool) -> Result<u8> {
    let config = crate::config::load(config)?;
    let passphrase = passphrase(from_stdin)?;
    if passphrase.chars().count() < MIN_PASSPHRASE {
        bail!("the passphrase must have at least {MIN_PASSPHRASE} characters");
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!("{} is not empty: give a new directory", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let kdf = Kdf::new();
    let key = kdf.derive(&passphrase)?;
    let manifest = crate::serve::runtime()?.block_on(async {
        let master = config.master_key()?;
        let store = config.open_store_with(Some(&master)).await?;
        let mut w = Writer {
            dir,
            key: &key,
            files: Vec::new(),
        };
        // The database first: the blobs it names are copied after it.
        let scratch = config
            .data_dir
            .join(format!("backup-{}.tmp", veilpost_store::vault::short_id()));
        let database = async {
            match config.database()? {
                veilpost_store::Database::Sqlite(_) => {
                    store.snapshot_sqlite(&scratch).await?;
                    w.add_file("database.sqlite3", Kind::Sqlite, &scratch)
                }
                veilpost_store::Database::Postgres(url) => {
                    let mut cmd = std::process::Command::new(pg_tool("pg_dump"));
                    cmd.args(["--format=custom", "--no-owner", "--file"])
                        .arg(&scratch)
                        .arg(&url);
                    run_tool(cmd, "pg_dump")?;
                    w.add_file("database.pgdump", Kind::Pgdump, &scratch)
                }
            }
        }
        .await;
        // The plaintext snapshot never outlives this step, whatever happened.
        let _ = std::fs::remove_file(&scratch);
        database?;
        let (messages, _) = store.backup_counts().await?;
        let audit = store.verify_audit().await?;
        let mut gone = 0u64;
        for name in store.blobs().names().await? {
            match store.blobs().read_stored(&name).await? {
                Some(bytes) => w.add_reader(&format!("blobs/{name}"), Kind::Blob, &bytes[..])?,
                // Purged since it was listed (delivered content): nothing to keep.
                None => gone += 1,
            }
        }
        for (name, kind, path) in key_files(&config)? {
            w.add_file(&name, kind, &path)?;
        }
        anyhow::Ok(Manifest {
            files: w.files,
            messages,
            audit_entries: audit.entries,
            audit_head: audit.last_hash,
            blobs_gone: gone,
            master_key_id: Some(master.id().to_string()),
        })
    })?;
    let sealed = key.seal_bytes(MANIFEST, &serde_json::to_vec(&manifest)?)?;
    write_new(&dir.join(format!("{MANIFEST}{SEALED}")), |f| {
        Ok(f.write_all(&sealed)?)
    })?;
    let header = Header {
        format: FORMAT,
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?,
        veilpost: env!("CARGO_PKG_VERSION").into(),
        kdf,
    };
    write_new(&dir.join(HEADER), |f| {
        Ok(f.write_all(serde_json::to_string_pretty(&header)?.as_bytes())?)
    })?;
    let blobs = manifest
        .files
        .iter()
        .filter(|f| f.kind == Kind::Blob)
        .count();
    let bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
    println!(
        "backup in {}: {} files ({} blobs), {:.1} MB; {} messages, {} audit entries (last hash {})",
        dir.display(),
        manifest.files.len(),
        blobs,
        bytes as f64 / 1e6,
        manifest.messages,
        manifest.audit_entries,
        manifest.audit_head.as_deref().unwrap_or("-"),
    );
    Ok(0)
}

/// Where a restored key file goes, or `None` when the configuration keeps it elsewhere.
fn key_target(config: &Config, entry: &Entry) -> Result<Option<PathBuf>> {
    Ok(match entry.kind {
        Kind::MasterKey => Some(config.master_key_file()),
        Kind::DkimKey => {
            let name = entry.name.strip_prefix("keys/dkim/").unwrap_or(&entry.name);
            Some(config.dkim_key_dir().join(safe_name(name)?))
        }
        Kind::TlsCertificate => Some(crate::gateway::certs::paths(config).0),
        Kind::TlsKey => Some(crate::gateway::certs::paths(config).1),
        _ => None,
    })
}

/// Open a sealed file of the backup into `out`, checked against its entry.
fn open_into(dir: &Path, key: &BackupKey, entry: &Entry, out: impl Write) -> Result<()> {
    let path = dir.join(format!("{}{SEALED}", safe_name(&entry.name)?));
    let f =
        std::fs::File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let got = key.open(&entry.name, std::io::BufReader::new(f), out)?;
    if got.size != entry.size || got.sha256 != entry.sha256 {
        bail!("{} does not match the manifest", entry.name);
    }
    Ok(())
}

/// Whether the backup may be restored here: onto an empty installation only (nothing is
/// overwritten), with names of its own, and the master key it was made under at hand.
fn check_restorable(config: &crate::config::Config, manifest: &Manifest) -> Result<()> {
    // Onto an empty installation only: nothing here is overwritten.
    let database = config.database()?;
    if let veilpost_store::Database::Sqlite(path) = &database
        && path.exists()
    {
        bail!(
            "{} exists: restore onto a fresh data directory (or move it away first)",
            path.display()
        );
    }
    for entry in manifest.files.iter().filter(|e| e.kind != Kind::Blob) {
        if let Some(target) = key_target(config, entry)? {
            if entry.kind == Kind::MasterKey && !config.portal.master_key.is_empty() {
                bail!(
                    "portal.master_key is set in the configuration: remove it to restore the backup's key, \
                     or restore with the configuration the backup was made with"
                );
            }
            if target.exists() {
                bail!(
                    "{} exists: restore onto a fresh installation",
                    target.display()
                );
            }
        }
    }
    for entry in &manifest.files {
        safe_name(&entry.name)?;
    }
    // The master key comes with the backup (a key file), or the configuration must give
    // the one the backup was made under (a key in portal.master_key, as several nodes have).
    let brings_key = manifest.files.iter().any(|e| e.kind == Kind::MasterKey);
    if let (Some(want), false) = (&manifest.master_key_id, brings_key) {
        if config.portal.master_key.is_empty() && !config.master_key_file().exists() {
            bail!(
                "the backup holds no master key (it was given in the configuration): give the \
                 same key in portal.master_key"
            );
        }
        let have = config.master_key()?;
        if have.id() != want {
            bail!(
                "the configured master key ({}) is not the one the backup was made under ({want}): \
                 give that key in portal.master_key",
                have.id()
            );
        }
    }
    Ok(())
}

/// `veilpost backup restore DIR`.
pub fn restore(config: Option<&Path>, dir: &Path, from_stdin: bool) -> Result<u8> {
    let config = crate::config::load(config)?;
    let header: Header = serde_json::from_slice(
        &std::fs::read(dir.join(HEADER))
            .with_context(|| format!("{} is not a complete Veilpost backup", dir.display()))?,
    )
    .context("the backup's header cannot be read")?;
    if header.format != FORMAT {
        bail!(
            "backup format {} is not one this version reads",
            header.format
        );
    }
    let passphrase = passphrase(from_stdin)?;
    let key = header.kdf.derive(&passphrase)?;
    let sealed = std::fs::read(dir.join(format!("{MANIFEST}{SEALED}")))
        .context("the backup has no manifest")?;
    let manifest: Manifest = serde_json::from_slice(
        &key.open_bytes(MANIFEST, &sealed)
            .map_err(|_| anyhow::anyhow!("wrong passphrase, or the backup is damaged"))?,
    )
    .context("the manifest cannot be read")?;

    check_restorable(&config, &manifest)?;
    let database = config.database()?;

    // The database, then the keys (the object store's blobs need the master key).
    let scratch = config
        .data_dir
        .join(format!("restore-{}.tmp", veilpost_store::vault::short_id()));
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    for entry in manifest
        .files
        .iter()
        .filter(|e| matches!(e.kind, Kind::Sqlite | Kind::Pgdump))
    {
        let result = (|| {
            write_new(&scratch, |f| {
                open_into(dir, &key, entry, std::io::BufWriter::new(f))
            })?;
            match (&database, entry.kind) {
                (veilpost_store::Database::Sqlite(path), Kind::Sqlite) => {
                    std::fs::rename(&scratch, path)
                        .with_context(|| format!("cannot move the database to {}", path.display()))
                }
                (veilpost_store::Database::Postgres(url), Kind::Pgdump) => {
                    let mut cmd = std::process::Command::new(pg_tool("pg_restore"));
                    cmd.args(["--no-owner", "--exit-on-error", "--dbname"])
                        .arg(url)
                        .arg(&scratch);
                    run_tool(cmd, "pg_restore")
                }
                _ => bail!(
                    "the backup holds a {} database, the configuration names another engine",
                    if entry.kind == Kind::Sqlite {
                        "SQLite"
                    } else {
                        "PostgreSQL"
                    }
                ),
            }
        })();
        let _ = std::fs::remove_file(&scratch);
        result?;
    }
    for entry in &manifest.files {
        if let Some(target) = key_target(&config, entry)? {
            let mut bytes = Vec::new();
            open_into(dir, &key, entry, &mut bytes)?;
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            veilpost_store::vault::write_private(&target, &bytes)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
    }
    let (messages, audit) = crate::serve::runtime()?.block_on(async {
        let master = config.master_key()?;
        let store = config.open_store_with(Some(&master)).await?;
        for entry in manifest.files.iter().filter(|e| e.kind == Kind::Blob) {
            let name = entry.name.strip_prefix("blobs/").unwrap_or(&entry.name);
            let mut bytes = Vec::with_capacity(entry.size as usize);
            open_into(dir, &key, entry, &mut bytes)?;
            store.blobs().restore_stored(name, bytes).await?;
        }
        let (messages, _) = store.backup_counts().await?;
        let audit = store.verify_audit().await?;
        anyhow::Ok((messages, audit))
    })?;
    let blobs = manifest
        .files
        .iter()
        .filter(|f| f.kind == Kind::Blob)
        .count();
    let intact = audit.broken.is_none()
        && audit.entries == manifest.audit_entries
        && audit.last_hash == manifest.audit_head
        && messages == manifest.messages;
    println!(
        "restored from {} (made {}): {} messages, {} blobs, {} audit entries; audit chain {}",
        dir.display(),
        header.created_at,
        messages,
        blobs,
        audit.entries,
        if intact {
            "intact, same last hash as the backup"
        } else {
            "DOES NOT MATCH the backup"
        }
    );
    Ok(if intact { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn only_our_names_are_restored() {
        for good in [
            "database.sqlite3",
            "blobs/01abc.eml",
            "keys/dkim/praktijk.test.pem",
        ] {
            assert!(safe_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "/etc/passwd",
            "blobs/../../x",
            "blobs//x",
            "blobs/./x",
            "keys\\x",
            "naam met spatie",
            "blobs/",
        ] {
            assert!(safe_name(bad).is_err(), "{bad}");
        }
    }
}
