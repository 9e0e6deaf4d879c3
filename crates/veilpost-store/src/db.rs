//! The two database engines behind one store: SQLite for one node (the embedded default),
//! PostgreSQL when several nodes share the work. Every query is written once, in the SQL
//! both understand (`$1` placeholders, `ON CONFLICT`, `RETURNING`, `lower()` for
//! case-insensitive addresses), and runs on whichever engine the store was opened with:
//! [`on!`] and [`on_tx!`] expand one body for each engine, so there is no dynamic
//! dispatch and no row conversion in between. Schemas live apart (`migrations/` and
//! `migrations-postgres/`) with the same tables, columns and meaning.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// A connection pool on one of the two engines.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// A write transaction on one of the two engines.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

/// Run `$body` with `$p` bound to the engine's pool (`&SqlitePool` or `&PgPool`).
macro_rules! on {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Pg($p) => $body,
        }
    };
}

/// Run `$body` with `$c` bound to the transaction's connection (`&mut SqliteConnection`
/// or `&mut PgConnection`); `$tx` is a `&mut Tx`.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Pg(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

pub(crate) use {on, on_tx};

/// The PostgreSQL channel on which committed work is announced (`received`: a message to
/// process; `queued`: deliveries to make).
pub(crate) const WORK_CHANNEL: &str = "veilpost_work";

/// New work another node committed, as announced on the `veilpost_work` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A message to process.
    Received,
    /// Deliveries to make.
    Queued,
}

/// Hears the work nodes announce (PostgreSQL's LISTEN/NOTIFY); reconnects by itself.
#[derive(Debug)]
pub struct WorkListener(sqlx::postgres::PgListener);

impl WorkListener {
    /// The next announcement.
    pub async fn next(&mut self) -> Result<Work, crate::Error> {
        loop {
            let n = self.0.recv().await?;
            match n.payload() {
                "received" => return Ok(Work::Received),
                "queued" => return Ok(Work::Queued),
                _ => continue,
            }
        }
    }
}

/// What a PostgreSQL transaction locks to serialise writers that read before they write,
/// as SQLite's one writer does by itself. Values are `pg_advisory_xact_lock` keys.
#[derive(Debug, Clone, Copy)]
#[repr(i64)]
pub(crate) enum Serial {
    /// The audit hash chain: one entry after another, across every node.
    Audit = 0x7665_696c_0001,
    /// Staff accounts: the first admin, offboarding, the set-up links.
    Accounts = 0x7665_696c_0002,
}

impl Pool {
    /// Begin a write transaction. On SQLite `BEGIN IMMEDIATE` takes the write lock at
    /// once (waiting up to the busy timeout): a deferred transaction that reads and then
    /// writes fails immediately with SQLITE_BUSY_SNAPSHOT (517, "database is locked",
    /// which the busy timeout does not retry) when another connection or process, such
    /// as the CLI beside the running server, committed in between. On PostgreSQL writers
    /// run side by side; those that must not, take a [`Serial`] lock ([`Tx::serial`]).
    pub(crate) async fn write_tx(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    /// The engine's name, for messages.
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Pg(_) => Engine::Postgres,
        }
    }
}

impl Tx {
    /// Commit.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Pg(t) => t.commit().await,
        }
    }

    /// Wait until no other transaction holds `what`, and hold it until this one ends
    /// (PostgreSQL; SQLite's write transactions are serial already).
    pub(crate) async fn serial(&mut self, what: Serial) -> Result<(), sqlx::Error> {
        if let Tx::Pg(t) = self {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(what as i64)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }
}

/// Listen for announced work: `None` on SQLite (one node; its own workers are woken
/// directly).
pub(crate) async fn work_listener(pool: &Pool) -> Result<Option<WorkListener>, crate::Error> {
    let Pool::Pg(p) = pool else {
        return Ok(None);
    };
    let mut l = sqlx::postgres::PgListener::connect_with(p).await?;
    l.listen(WORK_CHANNEL).await?;
    Ok(Some(WorkListener(l)))
}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Where the metadata lives: `store.database_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// SQLite in this file (`sqlite:` alone means `veilpost.db` in the data directory).
    Sqlite(std::path::PathBuf),
    /// PostgreSQL at this URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl Database {
    /// Read `store.database_url`: empty or `sqlite:` is the data directory's
    /// `veilpost.db`, `sqlite:PATH` (or `sqlite://PATH`) that file, `postgres://…` a
    /// PostgreSQL server.
    pub fn from_url(url: &str, data_dir: &std::path::Path) -> crate::Result<Database> {
        let url = url.trim();
        if url.is_empty() || url == "sqlite:" || url == "sqlite://" {
            return Ok(Database::Sqlite(data_dir.join("veilpost.db")));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgConnectOptions::from_str(url)
                .map_err(|e| crate::Error::Invalid(format!("not a PostgreSQL URL: {e}")))?;
            return Ok(Database::Postgres(url.to_string()));
        }
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Ok(Database::Sqlite(data_dir.join("veilpost.db")));
            }
            return Ok(Database::Sqlite(path.into()));
        }
        Err(crate::Error::Invalid(
            "use sqlite:PATH or postgres://USER@HOST/DATABASE".to_string(),
        ))
    }

    /// The URL without a password, for logs and messages.
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite:{}", path.display()),
            Database::Postgres(url) => match PgConnectOptions::from_str(url) {
                Ok(o) => format!(
                    "postgres://{}@{}:{}/{}",
                    o.get_username(),
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or_default()
                ),
                Err(_) => "postgres://…".to_string(),
            },
        }
    }
}

/// Open the pools and bring the schema up to date: the main pool, and the one for lease
/// bookkeeping (on SQLite commits without fsync; on PostgreSQL the same pool).
pub(crate) async fn connect(db: &Database) -> Result<(Pool, Pool), crate::Error> {
    match db {
        Database::Sqlite(path) => {
            let options = SqliteConnectOptions::from_str("sqlite:")?
                .filename(path)
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
            // NORMAL: a lease commit is not synced (losing one on a power cut only
            // repeats work), but a checkpoint it runs is: the WAL is reused after a
            // checkpoint, and with OFF the pages copied out of it (acknowledged
            // messages among them) were not yet on disk.
            let lease_pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options.synchronous(SqliteSynchronous::Normal))
                .await?;
            Ok((Pool::Sqlite(pool), Pool::Sqlite(lease_pool)))
        }
        Database::Postgres(url) => {
            let options = PgConnectOptions::from_str(url)?.application_name("veilpost");
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            // The migrator holds an advisory lock, so nodes starting together take turns.
            sqlx::migrate!("./migrations-postgres").run(&pool).await?;
            Ok((Pool::Pg(pool.clone()), Pool::Pg(pool)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The main pool syncs every commit; the lease pool syncs the checkpoints its commits
    /// run (NORMAL), never neither (OFF: pages copied into the database unsynced before
    /// the WAL is reused, acknowledged messages among them).
    #[tokio::test]
    async fn sqlite_pools_sync_what_must_survive_a_power_cut() {
        let dir = std::env::temp_dir().join(format!("veilpost-db-pools-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (main, lease) = connect(&Database::Sqlite(dir.join("v.db")))
            .await
            .expect("connect");
        for (pool, synchronous) in [(&main, 2), (&lease, 1)] {
            let Pool::Sqlite(pool) = pool else {
                panic!("a SQLite pool")
            };
            let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .expect("synchronous");
            assert_eq!(sync, synchronous);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn database_urls() {
        let dir = Path::new("/var/lib/veilpost");
        let table: &[(&str, Result<Database, ()>)] = &[
            ("", Ok(Database::Sqlite(dir.join("veilpost.db")))),
            ("sqlite:", Ok(Database::Sqlite(dir.join("veilpost.db")))),
            ("sqlite://", Ok(Database::Sqlite(dir.join("veilpost.db")))),
            ("sqlite:/srv/v.db", Ok(Database::Sqlite("/srv/v.db".into()))),
            (
                "sqlite:///srv/v.db?mode=rwc",
                Ok(Database::Sqlite("/srv/v.db".into())),
            ),
            (
                "postgres://vp:geheim@db.example:5433/veilpost",
                Ok(Database::Postgres(
                    "postgres://vp:geheim@db.example:5433/veilpost".into(),
                )),
            ),
            (
                "postgresql://vp@127.0.0.1/veilpost",
                Ok(Database::Postgres(
                    "postgresql://vp@127.0.0.1/veilpost".into(),
                )),
            ),
            ("mysql://x@y/z", Err(())),
            ("/srv/v.db", Err(())),
        ];
        for (url, want) in table {
            assert_eq!(&Database::from_url(url, dir).map_err(|_| ()), want, "{url}");
        }
    }

    #[test]
    fn the_shown_url_has_no_password() {
        let db = Database::Postgres("postgres://vp:geheim@db.example:5433/veilpost".into());
        assert_eq!(db.display(), "postgres://vp@db.example:5433/veilpost");
    }
}
