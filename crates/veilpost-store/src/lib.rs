//! Veilpost's storage: metadata in SQLite (WAL, `synchronous=FULL`), message bodies as
//! fsync'd files, the spool that makes "250" mean "stored", the delivery queue with leases,
//! staff accounts, the encrypted vault and the append-only audit log.
//!
//! Durability rule: a message is acknowledged only after its blob file is fsync'd (file and
//! directory) and its rows are committed. Commits from concurrent sessions are grouped into
//! one transaction (one WAL fsync) by a committer task, so throughput survives `fsync`.

pub mod addressbook;
mod blob;
mod portal;
mod queue;
mod spool;
mod staff;
mod users;
pub mod vault;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use blob::BlobDir;
pub use portal::{Held, Intake, Milestone, Offboarded, PortalEntry, PortalSession, TotpRecord};
pub use queue::{
    AuditEvent, Delivery, DeliveryOutcome, Generated, Processed, Received, RecipientDecision,
    RecipientTrace,
};
pub use spool::{Envelope, Origin};
pub use staff::{
    AuditEntry, AuditFilter, MessageInfo, OffboardError, QueueRow, StaffSession, UserUpdate,
};
pub use users::{
    ROLES, User, UserError, hash_password, parse_date as users_parse_date, valid_email,
    verify_password,
};

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the spool is shutting down")]
    Closed,
    #[error("{0}")]
    Invalid(String),
    #[error("vault: {0}")]
    Crypto(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A new identifier: milliseconds since the epoch then 64 random bits, as hex, so ids sort
/// by creation time and cannot be guessed.
pub fn new_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut r = [0u8; 8];
    random(&mut r);
    format!("{ms:012x}{}", hex(&r))
}

/// Fill `buf` from the operating system's random source.
pub fn random(buf: &mut [u8]) {
    use aws_lc_rs::rand::SecureRandom;
    // SystemRandom only fails if the OS has no entropy source, which we cannot run without.
    if aws_lc_rs::rand::SystemRandom::new().fill(buf).is_err() {
        panic!("no operating-system random source");
    }
}

/// A uniformly random `u32` (codes, passwords).
pub fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    random(&mut b);
    u32::from_le_bytes(b)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// The store: one SQLite database and a blob directory under the data directory.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// For lease bookkeeping only: commits without fsync. A lease lost in a crash costs
    /// nothing (leases are released at start), and the next durable commit's fsync of
    /// the WAL covers these frames too.
    lease_pool: SqlitePool,
    blobs: BlobDir,
    committer: spool::Committer,
    data_dir: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store in `data_dir`: `veilpost.db` and `blobs/`.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let db = data_dir.join("veilpost.db");
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let lease_pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.synchronous(SqliteSynchronous::Off))
            .await?;
        let blobs = BlobDir::open(&data_dir.join("blobs"))?;
        let committer = spool::Committer::start(pool.clone());
        Ok(Store {
            pool,
            lease_pool,
            blobs,
            committer,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The blob directory.
    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// The connection pool, for queries this crate does not wrap.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Append to the audit log (through the group committer, which is the one writer of
    /// the hash chain).
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: Option<&str>,
        detail: Option<&str>,
    ) -> Result<()> {
        let event = AuditEvent {
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.map(str::to_string),
            detail: detail.map(str::to_string),
            ..AuditEvent::default()
        };
        self.committer.commit(spool::Write::Audit(event)).await
    }

    /// Append a whole audit event (with address and outcome).
    pub async fn audit_event(&self, event: AuditEvent) -> Result<()> {
        self.committer.commit(spool::Write::Audit(event)).await
    }

    /// Remove audit entries older than `cutoff` (retention), oldest first, so that the
    /// rest of the chain stays verifiable. Returns how many went.
    pub async fn audit_retention(&self, cutoff: i64) -> Result<u64> {
        let mut tx = crate::write_tx(&self.pool).await?;
        sqlx::query("UPDATE audit_retention SET cutoff = MAX(cutoff, ?)")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        // Only a prefix: an old entry after a newer one (a clock step) stays, and so does
        // the last entry, which anchors the chain for the next one.
        let first_kept: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(id) FROM audit WHERE at >= ? OR id = (SELECT MAX(id) FROM audit)",
        )
        .bind(cutoff)
        .fetch_one(&mut *tx)
        .await?;
        let gone =
            sqlx::query("DELETE FROM audit WHERE at < ? AND id < COALESCE(?, 9223372036854775807)")
                .bind(cutoff)
                .bind(first_kept)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(gone)
    }

    /// Check the audit log's hash chain from its first remaining entry (older entries
    /// may have gone by retention; the first one's `prev_hash` anchors the rest).
    pub async fn verify_audit(&self) -> Result<AuditCheck> {
        let mut check = AuditCheck::default();
        let mut previous: Option<(i64, String)> = None;
        let mut after = i64::MIN;
        loop {
            // A page at a time: five years of entries do not fit in memory at once.
            let page = sqlx::query_as::<_, AuditRow>(
                "SELECT id, at, actor, action, subject, detail, ip, outcome, prev_hash, hash FROM audit
                  WHERE id > ? ORDER BY id LIMIT 10000",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = page.last() else {
                return Ok(check);
            };
            after = last.id;
            for row in page {
                let event = AuditEvent {
                    actor: row.actor,
                    action: row.action,
                    subject: row.subject,
                    detail: row.detail,
                    ip: row.ip,
                    outcome: row.outcome,
                };
                let problem = match (&row.prev_hash, &row.hash) {
                    (Some(prev), Some(hash)) => {
                        if let Some((pid, phash)) = &previous
                            && (prev != phash || row.id != pid + 1)
                        {
                            Some(AuditFault::Gap { after: *pid })
                        } else if chain_hash(prev, row.id, row.at, &event) != *hash {
                            Some(AuditFault::Changed)
                        } else {
                            None
                        }
                    }
                    _ => Some(AuditFault::Unhashed),
                };
                if let Some(p) = problem {
                    check.broken = Some((row.id, p));
                    return Ok(check);
                }
                check.entries += 1;
                check.last_hash = row.hash.clone();
                previous = row.hash.map(|h| (row.id, h));
            }
        }
    }

    /// Make a one-time token for `purpose` (the first admin login); returns the token.
    pub async fn setup_token(&self, purpose: &str) -> Result<String> {
        let mut raw = [0u8; 32];
        random(&mut raw);
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
        sqlx::query("INSERT INTO setup_tokens (token_hash, purpose, created_at) VALUES (?, ?, ?)")
            .bind(sha256_hex(token.as_bytes()))
            .bind(purpose)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// Is `token` an unused setup token for `purpose`?
    pub async fn setup_token_valid(&self, purpose: &str, token: &str) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM setup_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL",
        )
        .bind(sha256_hex(token.as_bytes()))
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Use up a setup token; false when it was not valid.
    pub async fn use_setup_token(&self, purpose: &str, token: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND purpose = ? AND used_at IS NULL",
        )
        .bind(now())
        .bind(sha256_hex(token.as_bytes()))
        .bind(purpose)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A cached MTA-STS policy (RFC 8461 §5: kept across restarts, used until `max_age`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedStsPolicy {
    pub id: String,
    pub mode: String,
    pub mx: Vec<String>,
    pub max_age: i64,
    pub fetched_at: i64,
}

impl Store {
    /// The cached MTA-STS policy of `domain`.
    pub async fn mta_sts_get(&self, domain: &str) -> Result<Option<CachedStsPolicy>> {
        let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, mode, mx, max_age, fetched_at FROM mta_sts WHERE domain = ?",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(id, mode, mx, max_age, fetched_at)| CachedStsPolicy {
                id,
                mode,
                mx: serde_json::from_str(&mx).unwrap_or_default(),
                max_age,
                fetched_at,
            }),
        )
    }

    /// Remember `domain`'s MTA-STS policy.
    pub async fn mta_sts_put(&self, domain: &str, p: &CachedStsPolicy) -> Result<()> {
        sqlx::query(
            "INSERT INTO mta_sts (domain, id, mode, mx, max_age, fetched_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT(domain) DO UPDATE SET id = excluded.id, mode = excluded.mode, mx = excluded.mx,
                 max_age = excluded.max_age, fetched_at = excluded.fetched_at",
        )
        .bind(domain)
        .bind(&p.id)
        .bind(&p.mode)
        .bind(serde_json::to_string(&p.mx).unwrap_or_default())
        .bind(p.max_age)
        .bind(p.fetched_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forget `domain`'s MTA-STS policy.
    pub async fn mta_sts_delete(&self, domain: &str) -> Result<()> {
        sqlx::query("DELETE FROM mta_sts WHERE domain = ?")
            .bind(domain)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The audit log's check: entries in order, and the first broken one with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditCheck {
    pub entries: u64,
    pub last_hash: Option<String>,
    /// The first entry that does not check out, and how.
    pub broken: Option<(i64, AuditFault)>,
}

/// How an audit entry fails the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditFault {
    /// Its contents do not match its hash: it was changed.
    Changed,
    /// It does not follow the entry before it (`after`): one was removed or inserted.
    Gap { after: i64 },
    /// It has no hash (written before the chain existed, or by hand).
    Unhashed,
}

impl std::fmt::Display for AuditFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditFault::Changed => write!(f, "its contents do not match its hash: it was changed"),
            AuditFault::Gap { after } => write!(
                f,
                "it does not follow entry {after}: an entry was removed or inserted"
            ),
            AuditFault::Unhashed => write!(f, "it has no hash"),
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    subject: Option<String>,
    detail: Option<String>,
    ip: Option<String>,
    outcome: Option<String>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) over the previous hash and the entry's fields, as a JSON array so that
/// no two different entries encode alike.
/// Entries without address and outcome (all before migration 0005) keep their shorter form.
fn chain_hash(prev: &str, id: i64, at: i64, a: &AuditEvent) -> String {
    let canonical = if a.ip.is_none() && a.outcome.is_none() {
        serde_json::json!([prev, id, at, a.actor, a.action, a.subject, a.detail])
    } else {
        serde_json::json!([
            prev, id, at, a.actor, a.action, a.subject, a.detail, a.ip, a.outcome
        ])
    };
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.to_string().as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Append one audit entry, chained to the last. Only the group committer calls this (in
/// its transaction), so entries are chained one after another.
/// Begin a write transaction. `BEGIN IMMEDIATE` takes the write lock at once (waiting
/// up to the busy timeout): a deferred transaction that reads and then writes fails
/// immediately with SQLITE_BUSY_SNAPSHOT (517, "database is locked", which the busy
/// timeout does not retry) when another connection or process, such as the CLI beside
/// the running server, committed in between.
pub(crate) async fn write_tx(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

pub(crate) async fn insert_audit(
    conn: &mut sqlx::SqliteConnection,
    a: &AuditEvent,
    at: i64,
) -> Result<(), sqlx::Error> {
    let last: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash.unwrap_or_else(|| GENESIS.to_string())),
        None => (1, GENESIS.to_string()),
    };
    let hash = chain_hash(&prev, id, at, a);
    sqlx::query(
        "INSERT INTO audit (id, at, actor, action, subject, detail, ip, outcome, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(at)
    .bind(&a.actor)
    .bind(&a.action)
    .bind(&a.subject)
    .bind(&a.detail)
    .bind(&a.ip)
    .bind(&a.outcome)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
