//! Veilpost's storage: metadata in SQLite (WAL, `synchronous=FULL`), message bodies as
//! fsync'd files, the spool that makes "250" mean "stored", the delivery queue with leases,
//! staff accounts, the encrypted vault and the append-only audit log.
//!
//! Durability rule: a message is acknowledged only after its blob file is fsync'd (file and
//! directory) and its rows are committed. Commits from concurrent sessions are grouped into
//! one transaction (one WAL fsync) by a committer task, so throughput survives `fsync`.

pub mod addressbook;
mod audit;
mod authreports;
pub mod backup;
mod blob;
mod cache;
pub mod checkpoint;
mod commit;
mod contacts;
mod db;
mod holds;
mod inbound;
mod intake;
mod limits;
mod messages;
mod migrate;
mod passkeys;
mod portal;
mod queue;
mod reports;
mod rewrap;
mod sessions;
mod settings;
mod spool;
mod totp;
mod users;
pub mod vault;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::SqlitePool;

pub use audit::{AuditCheck, AuditEntry, AuditEvent, AuditFault, AuditFilter};
pub use authreports::{
    AsideEntry, Counted, DmarcRowView, NewAside, TlsFailureTotal, TlsPolicyTotal,
};
pub use blob::{BlobDir, Blobs, ObjectBlobs, S3Options};
pub use contacts::{AddressBook, BOOK_READ_EVERY};
pub use db::{Database, Engine, Work, WorkListener};
pub use holds::Held;
pub use intake::Intake;
pub use messages::{
    Delivery, DeliveryOutcome, Envelope, Generated, MessageInfo, MessageState, Origin, Processed,
    QueueRow, Received, RecipientDecision, RecipientState, RecipientTrace, Route,
    header_message_id,
};
pub use migrate::Migrated;
pub use portal::{Milestone, PortalEntry, PortalReply};
pub use reports::{BLOCKS_READ_EVERY, NewReport, PhishingReport};
pub use sessions::{PortalSession, SessionKind, StaffSession, Stage};
pub use settings::{CachedStsPolicy, FIRST_ADMIN_LINK_SECONDS, SETTINGS_READ_EVERY};
pub use totp::{TotpHolder, TotpRecord};
pub use users::{
    ARGON2_AT_ONCE, OffboardError, Offboarded, Role, User, UserError, UserUpdate, argon2_peak,
    hash_password, parse_date as users_parse_date, typed_login_for_log, valid_email,
    verify_password,
};

/// Where the store's time comes from: the system clock, or one a test (or a replay)
/// sets. Every timestamp the store writes or compares against is read from it.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// Unix seconds from the system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(now))
    }

    /// A clock that asks `f` (a test's adjustable time).
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// Unix seconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

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
    /// The group commit of this write failed (retried on its own, it still failed).
    #[error("commit failed: {0}")]
    Commit(sqlx::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("vault: {0}")]
    Crypto(String),
    /// The object store failed or held something other than what was written.
    #[error("object store: {0}")]
    Blob(String),
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

/// The store: the metadata database (SQLite or PostgreSQL) and the blob directory.
#[derive(Debug, Clone)]
pub struct Store {
    pool: db::Pool,
    /// For lease bookkeeping only: on SQLite commits without fsync. A lease lost in a
    /// crash costs nothing (leases are released at start, or run out), and the next
    /// durable commit's fsync of the WAL covers these frames too. On PostgreSQL the main
    /// pool.
    lease_pool: db::Pool,
    blobs: Blobs,
    committer: commit::Committer,
    /// Records how delivery attempts ended, in batches.
    recorder: commit::Recorder,
    data_dir: PathBuf,
    clock: Clock,
    /// The blocked senders as last read: the inbound verdict asks for them with every
    /// message. A block made through this store drops them at once.
    blocked: Arc<cache::ReadEvery<[String]>>,
    /// The address book (staff names, contacts, partner domains) as last read: the
    /// double-check and the inbound verdict compare every message with it.
    book: Arc<cache::ReadEvery<contacts::AddressBook>>,
    /// The policy settings as last read (the mail path asks for them per message).
    settings: Arc<cache::ReadEvery<std::collections::HashMap<String, String>>>,
    /// The content of recently spooled messages kept in the database.
    recent: Arc<cache::Recent>,
}

/// Bytes of recently spooled content kept in memory for processing and delivery.
const RECENT_BYTES: usize = 32 << 20;

fn random_token() -> String {
    let mut raw = [0u8; 32];
    random(&mut raw);
    hex(&raw)
}

impl Store {
    /// Open (creating if needed) the store in `data_dir`: `veilpost.db` and `blobs/`.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        Store::open_with_clock(data_dir, Clock::system()).await
    }

    /// [`Store::open`] with the time taken from `clock`.
    pub async fn open_with_clock(data_dir: &Path, clock: Clock) -> Result<Store> {
        let db = Database::Sqlite(data_dir.join("veilpost.db"));
        Store::connect(data_dir, &db, clock).await
    }

    /// Open the store with its metadata in `db` (SQLite or PostgreSQL) and its blobs and
    /// caches under `data_dir`, bringing the schema up to date.
    pub async fn connect(data_dir: &Path, db: &Database, clock: Clock) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let (pool, lease_pool) = db::connect(db).await?;
        let blobs = Blobs::Dir(BlobDir::open(&data_dir.join("blobs"))?);
        let committer = commit::Committer::start(pool.clone(), clock.clone());
        let recorder = commit::Recorder::start(lease_pool.clone(), clock.clone());
        Ok(Store {
            pool,
            lease_pool,
            blobs,
            committer,
            recorder,
            data_dir: data_dir.to_path_buf(),
            blocked: Arc::new(cache::ReadEvery::new(reports::BLOCKS_READ_EVERY)),
            book: Arc::new(cache::ReadEvery::new(contacts::BOOK_READ_EVERY)),
            settings: Arc::new(cache::ReadEvery::new(settings::SETTINGS_READ_EVERY)),
            recent: Arc::new(cache::Recent::new(RECENT_BYTES)),
            clock,
        })
    }

    /// The database engine the metadata lives in.
    pub fn engine(&self) -> Engine {
        self.pool.engine()
    }

    /// Hear the work other nodes commit (PostgreSQL); `None` on SQLite.
    pub async fn work_listener(&self) -> Result<Option<WorkListener>> {
        db::work_listener(&self.pool).await
    }

    /// Unix seconds by the store's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where message bodies are kept.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// The same store with its blobs kept in `blobs` (an object store when several nodes
    /// share the work) instead of `data_dir/blobs`.
    pub fn with_blobs(mut self, blobs: Blobs) -> Store {
        self.blobs = blobs;
        self
    }

    /// Whether the database answers (for readiness).
    pub async fn check_database(&self) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query("SELECT 1").execute(ex).await.map(|_| ()))?;
        Ok(())
    }

    /// The SQLite pool, for tests and tools that look inside an embedded store (`None`
    /// on PostgreSQL).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            db::Pool::Sqlite(p, _) => Some(p),
            db::Pool::Pg(_) => None,
        }
    }
}
