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
    /// SQLite, with the [`Gate`] its writers in this process take turns at (one for the
    /// main and the lease pool: they write the same file).
    Sqlite(SqlitePool, Gate),
    Pg(PgPool),
}

/// A write transaction on one of the two engines (on SQLite holding the [`Gate`] until it
/// ends: the transaction is dropped before its turn).
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>, Turn),
    Pg(Transaction<'static, Postgres>),
}

/// SQLite has one writer at a time, and one that finds the write lock taken sleeps and
/// tries again (1, 2, 5, 10, 15, 20, 25 … ms: SQLite's busy handler), so a commit that
/// waits behind a 10 ms transaction waited 18 ms, behind a 20 ms one 33 ms — the tail of
/// the accept latency, as every 250 waits for a commit. The process's write transactions
/// queue here instead, and each begins as the one before it ends. (A writer in another
/// process, such as the CLI, still meets the busy handler.)
///
/// The spool's group commit, which every 250 waits for, goes ahead
/// ([`crate::messages::spool_in_one_trip`]): the other writers queue for `queue` first and
/// only its holder queues for `lock`, so that commit waits for at most the transaction
/// running and one other.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gate {
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    queue: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction's turn at the [`Gate`].
pub(crate) type Turn = tokio::sync::OwnedMutexGuard<()>;

impl Gate {
    /// Wait for this writer's turn (`first`: ahead of the others), as long as SQLite
    /// would wait for the lock (an error after that, as SQLite's "database is locked").
    pub(crate) async fn turn(&self, first: bool) -> Result<Turn, sqlx::Error> {
        let wait = async {
            if first {
                self.lock.clone().lock_owned().await
            } else {
                let _in_line = self.queue.lock().await;
                self.lock.clone().lock_owned().await
            }
        };
        tokio::time::timeout(BUSY_TIMEOUT, wait).await.map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "waited too long for the other writers of the database",
            ))
        })
    }
}

/// How long a SQLite writer waits for the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Run `$body` with `$p` bound to the engine's pool (`&SqlitePool` or `&PgPool`).
macro_rules! on {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p, _) => $body,
            $crate::db::Pool::Pg($p) => $body,
        }
    };
}

/// Run `$body` with `$c` bound to the transaction's connection (`&mut SqliteConnection`
/// or `&mut PgConnection`); `$tx` is a `&mut Tx`.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t, _) => {
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
    /// On SQLite the transaction first waits its turn at the [`Gate`].
    pub(crate) async fn write_tx(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p, gate) => {
                let turn = gate.turn(false).await?;
                Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Pool::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    /// A turn at the [`Gate`] for writes outside [`Pool::write_tx`] (a single statement,
    /// committed by itself): held while they run. `None` on PostgreSQL.
    pub(crate) async fn write_turn(&self) -> Result<Option<Turn>, sqlx::Error> {
        match self {
            Pool::Sqlite(_, gate) => Ok(Some(gate.turn(false).await?)),
            Pool::Pg(_) => Ok(None),
        }
    }

    /// The engine's name, for messages.
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Pool::Sqlite(..) => Engine::Sqlite,
            Pool::Pg(_) => Engine::Postgres,
        }
    }
}

impl Tx {
    /// Commit.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t, _turn) => t.commit().await,
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
        Database::Sqlite(path) => connect_sqlite(path, BUSY_TIMEOUT).await,
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

/// The SQLite pools on `path` (see [`connect`]), whose writers wait `busy` for another
/// process's write lock.
async fn connect_sqlite(
    path: &std::path::Path,
    busy: Duration,
) -> Result<(Pool, Pool), crate::Error> {
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .pragma("wal_autocheckpoint", "0")
        .busy_timeout(busy);
    // The background checkpointer keeps the WAL short ([`checkpoints`]); should writers
    // outpace it (a burst of large messages), the commit that takes the WAL past
    // [`WAL_WRITER_FRAMES`] checkpoints it itself, so the WAL stays bounded.
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(
            options
                .clone()
                .pragma("wal_autocheckpoint", WAL_WRITER_FRAMES.to_string()),
        )
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    // NORMAL: a lease commit is not synced (losing one on a power cut only repeats
    // work), but a checkpoint is, should one run here (when the last connection
    // closes): the WAL is reused after a checkpoint, and with OFF the pages copied out
    // of it (acknowledged messages among them) were not yet on disk.
    let lease_pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options.synchronous(SqliteSynchronous::Normal))
        .await?;
    let gate = Gate::default();
    checkpoints(pool.clone(), gate.clone());
    Ok((
        Pool::Sqlite(pool, gate.clone()),
        Pool::Sqlite(lease_pool, gate),
    ))
}

/// While the WAL grows it is checkpointed this often; when it has not grown since the
/// last look, every [`CHECKPOINT_IDLE`].
const CHECKPOINT_BUSY: Duration = Duration::from_millis(200);
const CHECKPOINT_IDLE: Duration = Duration::from_secs(2);

/// A WAL longer than this (frames, 4 KiB pages) is started over: see [`checkpoints`].
const WAL_RESTART_FRAMES: i64 = 1000;

/// A WAL this long (16 MB) is checkpointed by the commit that made it so (SQLite's own
/// automatic checkpoint, on the main pool only): back-pressure for when writers outpace
/// the background checkpointer.
const WAL_WRITER_FRAMES: i64 = 4 * WAL_RESTART_FRAMES;

/// What the checkpointer does after a look at the WAL's length (frames), now and at the
/// last look: whether to finish the checkpoint in a turn of its own at the [`Gate`] (a
/// long WAL that grew since; one that did not was finished at the last look), and how
/// long to wait before the next look.
fn checkpoint_plan(frames: i64, before: i64) -> (bool, Duration) {
    let grew = frames != before;
    let wait = if grew {
        CHECKPOINT_BUSY
    } else {
        CHECKPOINT_IDLE
    };
    (grew && frames > WAL_RESTART_FRAMES, wait)
}

/// Connections do not checkpoint the WAL at SQLite's usual 1,000 pages (the main pool's
/// only at [`WAL_WRITER_FRAMES`], as back-pressure; the lease pool's never): SQLite would
/// do it inside the commit that crossed the threshold, and that commit holds the [`Gate`],
/// so every writer (and every 250 waiting for a commit) would wait for the copy and its
/// fsyncs. This task does it instead, on the main pool (`synchronous = FULL`: the WAL is
/// synced before and the database after copying, so the WAL is reused only once its
/// pages are safe): first beside the writers, copying whatever is committed; then, when
/// the WAL has grown long, once more in a turn at the gate, when no writer can add to it,
/// so it is copied to the end and the next writer starts the WAL over. That second pass
/// has only the last few frames to copy. Ends when the pool is closed.
fn checkpoints(pool: SqlitePool, gate: Gate) {
    tokio::spawn(async move {
        let checkpoint = || async {
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await
        };
        let (mut wait, mut before) = (CHECKPOINT_BUSY, 0);
        while !pool.is_closed() {
            tokio::time::sleep(wait).await;
            let frames = match checkpoint().await {
                Ok((_, frames, _)) => frames,
                Err(e) => {
                    if !pool.is_closed() {
                        tracing::warn!("WAL checkpoint: {e}");
                    }
                    wait = CHECKPOINT_IDLE;
                    continue;
                }
            };
            let (finish, next) = checkpoint_plan(frames, before);
            if finish {
                // With no writer adding frames until the turn ends.
                let done = match gate.turn(false).await {
                    Ok(_turn) => checkpoint().await.map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    tracing::warn!("WAL checkpoint: {e}");
                }
            }
            (wait, before) = (next, frames);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_checkpointer_finishes_long_wals_and_looks_often_while_they_grow() {
        for (frames, before, finish, wait) in [
            (0, 0, false, CHECKPOINT_IDLE),
            (900, 0, false, CHECKPOINT_BUSY),
            (1200, 900, true, CHECKPOINT_BUSY),
            // Not grown since: finished at the last look, now looked at less often.
            (1200, 1200, false, CHECKPOINT_IDLE),
            // Started over by a writer since the last look.
            (30, 1500, false, CHECKPOINT_BUSY),
        ] {
            assert_eq!(
                checkpoint_plan(frames, before),
                (finish, wait),
                "{frames} after {before}"
            );
        }
    }

    /// The main pool syncs every commit; the lease pool syncs the checkpoints it runs
    /// (NORMAL) — with OFF, pages copied into the database unsynced before the WAL is
    /// reused, acknowledged messages among them. Only the main pool's connections
    /// checkpoint by themselves, and only a WAL the background checkpointer let grow long.
    #[tokio::test]
    async fn sqlite_pools_sync_what_must_survive_a_power_cut() {
        let dir = std::env::temp_dir().join(format!("veilpost-db-pools-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (main, lease) = connect(&Database::Sqlite(dir.join("v.db")))
            .await
            .expect("connect");
        for (pool, synchronous, auto) in [(&main, 2, WAL_WRITER_FRAMES), (&lease, 1, 0)] {
            let Pool::Sqlite(pool, _) = pool else {
                panic!("a SQLite pool")
            };
            let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .expect("synchronous");
            assert_eq!(sync, synchronous);
            let (automatic,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
                .fetch_one(pool)
                .await
                .expect("wal_autocheckpoint");
            assert_eq!(automatic, auto);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Writers of both pools take turns in the process: with no busy wait at all (SQLite
    /// would answer "database is locked" at once), a writer that comes while another's
    /// transaction is open begins as soon as that one commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writers_take_turns_at_the_gate() {
        let dir = std::env::temp_dir().join(format!("veilpost-db-gate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (main, lease) = connect_sqlite(&dir.join("v.db"), Duration::ZERO)
            .await
            .expect("connect");
        let Pool::Sqlite(plain, _) = main.clone() else {
            panic!("a SQLite pool")
        };
        let plain = &plain;
        sqlx::query("CREATE TABLE turns (who TEXT)")
            .execute(plain)
            .await
            .expect("create");
        let insert = |who: &'static str, mut tx: Tx| async move {
            on_tx!(&mut tx, c => sqlx::query("INSERT INTO turns VALUES ($1)")
                .bind(who)
                .execute(&mut *c)
                .await
                .map(|_| ()))?;
            tx.commit().await
        };
        let first = lease.write_tx().await.expect("first");
        let second = tokio::spawn(async move {
            let tx = main.write_tx().await?;
            insert("second", tx).await
        });
        // Time to reach the gate (and, without it, to fail at SQLite's lock at once).
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "the second writer waits its turn");
        insert("first", first).await.expect("first commits");
        second
            .await
            .expect("task")
            .expect("the second writer commits after the first, without a busy error");
        let order: Vec<(String,)> = sqlx::query_as("SELECT who FROM turns ORDER BY rowid")
            .fetch_all(plain)
            .await
            .expect("rows");
        assert_eq!(order, [("first".to_string(),), ("second".to_string(),)]);
        // A single statement outside a transaction takes a turn too.
        let held = lease.write_tx().await.expect("held");
        let lone = tokio::spawn(async move {
            let Pool::Sqlite(p, _) = &lease else {
                panic!("a SQLite pool")
            };
            let _turn = lease.write_turn().await?;
            sqlx::query("INSERT INTO turns VALUES ('lone')")
                .execute(p)
                .await
                .map(|_| ())
        });
        // Time to reach the gate (and, without it, to fail at SQLite's lock at once).
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!lone.is_finished(), "the statement waits its turn");
        insert("held", held).await.expect("held commits");
        lone.await
            .expect("task")
            .expect("the statement runs after the transaction, without a busy error");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The group commit goes ahead of the writers already waiting: it waits for the
    /// transaction running and at most one other. (One thread: each writer reaches its
    /// place in line before the next is started.)
    #[tokio::test]
    async fn the_group_commit_goes_ahead_of_waiting_writers() {
        let gate = Gate::default();
        let running = gate.turn(false).await.expect("running");
        let (order, ordered) = tokio::sync::mpsc::unbounded_channel();
        let mut waiting = Vec::new();
        for (name, first) in [("a", false), ("b", false), ("c", false), ("commit", true)] {
            let (gate, order) = (gate.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = gate.turn(first).await.expect("turn");
                let _ = order.send(name);
            }));
            // Each in line before the next comes.
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
        }
        drop(running);
        for w in waiting {
            w.await.expect("writer");
        }
        drop(order);
        let mut ordered = ordered;
        let mut seen = Vec::new();
        while let Some(name) = ordered.recv().await {
            seen.push(name);
        }
        assert_eq!(seen, ["a", "commit", "b", "c"]);
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
