//! The spool, queue, accounts and vault on both backend pairs: a real SQLite database and
//! blob directory in a temp dir, and a real PostgreSQL with a real S3-compatible object
//! store (the servers `./test.sh` starts; a fresh database and bucket per test). Every
//! test runs on each: `sqlite` and `postgres` under the test's name.

use veilpost_store::vault::{MasterKey, VaultEntry, new_token, token_hash};
use veilpost_store::{
    AuditFault, Clock, Database, DeliveryOutcome, Envelope, Generated, Origin, Processed,
    RecipientDecision, Store, now,
};

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("veilpost-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The engine a test runs on.
#[derive(Debug, Clone, Copy)]
enum Db {
    Sqlite,
    Postgres,
}

/// Runs `$test(Db)` once per engine, as `$test::sqlite` and `$test::postgres`.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test(super::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test(super::Db::Postgres).await;
            }
        }
    )*};
}

on_both!(
    spool_process_deliver,
    group_commits_keep_rows_apart,
    accounts,
    the_audit_log_is_a_hash_chain,
    two_processes_on_one_store_both_write,
    sessions_scopes_leavers_and_end_dates,
    audit_filters_take_wildcards_literally,
    a_first_admin_link_makes_one_admin_within_the_hour,
    password_checks_run_a_few_at_a_time,
    blocks_act_at_once_here_and_within_seconds_elsewhere,
    reports_count_once_add_up_per_source_and_age_out,
    every_query_runs,
    leases_run_out_unless_renewed,
    work_is_announced_to_the_other_nodes,
    a_new_master_key_wraps_every_data_key,
    small_content_is_kept_with_its_rows,
);

/// SQLite: commits do not checkpoint the WAL at SQLite's usual 1,000 pages (the commit
/// holds every writer's turn, and with it the 250s waiting for it; only past 16 MB, as
/// back-pressure), yet while messages are spooled one after another the WAL's pages reach
/// the database file and the WAL starts over instead of growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_in_the_background_and_starts_over() {
    let dir = temp_dir("checkpoints");
    let store = Store::open(&dir).await.expect("open");
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    // 480 messages of 100 kB kept with their rows, one commit after another: 12,000
    // pages, 48 MB, through the WAL.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut content = b"Subject: vulling\r\n\r\n".to_vec();
    content.resize(100_000, b'x');
    for k in 0..480 {
        let mut unique = content.clone();
        unique.extend_from_slice(format!("{k}\r\n").as_bytes());
        store
            .spool(envelope(&["a@ext.test"]), unique)
            .await
            .expect("spool");
    }
    while size("veilpost.db") < 24_000_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        size("veilpost.db") >= 24_000_000,
        "the database file stayed at {} bytes: the WAL was not checkpointed",
        size("veilpost.db")
    );
    assert!(
        size("veilpost.db-wal") < 24_000_000,
        "the WAL grew to {} bytes: it never started over",
        size("veilpost.db-wal")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Received content that fits is kept in the database (committed, and made durable, with
/// its message's rows: no file, no fsync of its own) when blobs live in a directory, on
/// both engines; larger content is a file of its own. Either is read the same way, survives
/// a restart, and leaves once the message is delivered.
async fn small_content_is_kept_with_its_rows(engine: Db) {
    let place = Place::new(engine, "inline");
    // Blobs in the directory on both engines (no bucket).
    let open = || Store::connect(&place.dir, &place.db, Clock::system());
    let store = open().await.expect("open");
    let files = || {
        std::fs::read_dir(place.dir.join("blobs"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let small = b"Subject: klein\r\n\r\nhoi\r\n".to_vec();
    let mut large = b"Subject: groot\r\n\r\n".to_vec();
    large.resize(300 * 1024, b'x');
    store
        .spool(envelope(&["a@ext.test"]), small.clone())
        .await
        .expect("small");
    store
        .spool(envelope(&["b@ext.test"]), large.clone())
        .await
        .expect("large");
    assert_eq!(files(), 1, "only the large message is a file");
    assert_eq!(
        place
            .scalar::<i64>("SELECT count(*) FROM inline_blobs")
            .await,
        1
    );
    // A restart (a crash after the 250) finds both.
    drop(store);
    let store = open().await.expect("reopen");
    let claimed = store.claim_received(10, 60).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    for m in &claimed {
        let content = store.read_blob(&m.blob).await.expect("content");
        if m.recipients[0].1 == "a@ext.test" {
            assert_eq!(content, small);
            // The blob home alone does not have it, and says where it is.
            let e = store.blobs().read(&m.blob).await.expect_err("not a file");
            assert!(e.to_string().contains("database"), "{e}");
        } else {
            assert_eq!(content, large);
        }
    }
    // Delivered: the content leaves, from the database and the directory alike.
    for m in &claimed {
        store
            .finish_processing(&m.id, clean_to(m.recipients[0].0))
            .await
            .expect("processed");
    }
    for d in store.claim_deliveries(10, 60).await.expect("deliveries") {
        let done = DeliveryOutcome::Delivered {
            detail: "250 ok".into(),
        };
        store
            .delivery_done(d.recipient_id, &done)
            .await
            .expect("done");
    }
    assert_eq!(store.purge_finished(100).await.expect("purge"), 2);
    assert_eq!(files(), 0);
    assert_eq!(
        place
            .scalar::<i64>("SELECT count(*) FROM inline_blobs")
            .await,
        0
    );
    for m in &claimed {
        assert!(store.read_blob(&m.blob).await.is_err());
    }
    let _ = std::fs::remove_dir_all(&place.dir);
}

/// Master-key rotation on the database: TOTP secrets of a recipient and of a staff member
/// sealed under one key open under the next after `rewrap_keys`, not under the old; so
/// does the blob key, and a blob written before (in the bucket, on PostgreSQL) reads the
/// same after, its object untouched; a second run has nothing left to do.
async fn a_new_master_key_wraps_every_data_key(engine: Db) {
    use veilpost_store::TotpHolder;
    let place = Place::new(engine, "rewrap");
    let store = place.open().await;
    let old = place_master();
    let (new, _) = MasterKey::generate().expect("new");
    // The blob key is kept on either engine (SQLite with a bucket is allowed too).
    store.blob_key(&old).await.expect("blob key");
    let blob = store
        .blobs()
        .write(b"BSN 111222333".to_vec())
        .await
        .expect("a blob");
    store
        .add_user(
            "ann@praktijk.test",
            "een lang genoeg wachtwoord",
            veilpost_store::Role::Staff,
            None,
        )
        .await
        .expect("user");
    for who in [
        TotpHolder::Recipient("Piet@Extern.test"),
        TotpHolder::Staff("ann@praktijk.test"),
    ] {
        let sealed = old
            .seal(&who.seal_context(), b"JBSWY3DPEHPK3PXP")
            .expect("seal");
        assert!(
            store
                .register_totp(who, &sealed.ciphertext, &sealed.wrapped_key, old.id(), 1)
                .await
                .expect("register")
        );
    }
    let counts = store.rewrap_keys(&old, &new).await.expect("rewrap");
    let count = |place: &str| counts.iter().find(|c| c.0 == place).map(|c| c.1);
    assert_eq!(count("recipient_totp.wrapped"), Some(1), "{counts:?}");
    assert_eq!(count("users.totp_wrapped"), Some(1), "{counts:?}");
    assert_eq!(count("blob_keys.wrapped"), Some(1), "{counts:?}");
    let err = store
        .blob_key(&old)
        .await
        .expect_err("the old key no longer opens it");
    assert!(err.to_string().contains(new.id()), "{err}");
    let rotated = place.open_keyed(Clock::system(), &new).await;
    assert_eq!(
        rotated.read_blob(&blob).await.expect("read after"),
        b"BSN 111222333"
    );
    for who in [
        TotpHolder::Recipient("piet@extern.test"),
        TotpHolder::Staff("ann@praktijk.test"),
    ] {
        let rec = store.totp(who).await.expect("read").expect("record");
        assert_eq!(rec.key_id, new.id());
        let plain = new
            .open(&who.seal_context(), &rec.wrapped, &rec.secret)
            .expect("opens under the new key");
        assert_eq!(plain, b"JBSWY3DPEHPK3PXP");
        assert!(
            old.open(&who.seal_context(), &rec.wrapped, &rec.secret)
                .is_err()
        );
    }
    // Again (a rotation cut short, run once more): nothing left under the old key.
    let again = store.rewrap_keys(&old, &new).await.expect("again");
    assert!(again.iter().all(|c| c.1 == 0), "{again:?}");
    // A third key that wrapped nothing: refused, nothing changed.
    let (stranger, _) = MasterKey::generate().expect("stranger");
    let (other, _) = MasterKey::generate().expect("other");
    assert!(store.rewrap_keys(&stranger, &other).await.is_err());
}

/// The master key a [`Place`] opens its bucket's blob key with.
fn place_master() -> MasterKey {
    MasterKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").expect("key")
}

/// Where a test's store lives: a database on the engine, and the blobs in the directory
/// (SQLite) or a bucket (PostgreSQL). Opening it twice is two processes (or nodes) on one
/// store.
struct Place {
    dir: std::path::PathBuf,
    db: Database,
    bucket: Option<String>,
}

impl Place {
    fn new(engine: Db, name: &str) -> Place {
        let dir = temp_dir(&format!("{name}-{engine:?}"));
        let (db, bucket) = match engine {
            Db::Sqlite => (Database::Sqlite(dir.join("veilpost.db")), None),
            Db::Postgres => (
                Database::Postgres(veilpost_testkit::postgres::fresh_database(&format!(
                    "store_{name}"
                ))),
                Some(veilpost_testkit::s3::fresh_bucket(name)),
            ),
        };
        Place { dir, db, bucket }
    }

    async fn open(&self) -> Store {
        self.open_with(Clock::system()).await
    }

    async fn open_with(&self, clock: Clock) -> Store {
        self.open_keyed(clock, &place_master()).await
    }

    /// Open it with `master` as the master key (which opens the bucket's blob key).
    async fn open_keyed(&self, clock: Clock, master: &MasterKey) -> Store {
        let store = Store::connect(&self.dir, &self.db, clock)
            .await
            .expect("open the store");
        match &self.bucket {
            None => store,
            Some(bucket) => {
                let options = veilpost_store::S3Options {
                    url: format!("s3://{bucket}/blobs"),
                    endpoint: veilpost_testkit::s3::endpoint(),
                    region: "us-east-1".into(),
                    path_style: true,
                };
                let key = store.blob_key(master).await.expect("the blob key");
                let blobs = veilpost_store::ObjectBlobs::s3(&options, key).expect("bucket");
                store.with_blobs(veilpost_store::Blobs::Object(blobs))
            }
        }
    }

    /// Run `sql` behind the store's back, as someone with the database would.
    async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match &self.db {
            Database::Sqlite(path) => {
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
                let pool = sqlx::SqlitePool::connect_with(options).await?;
                Ok(sqlx::query(sql).execute(&pool).await?.rows_affected())
            }
            Database::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await?;
                Ok(sqlx::query(sql).execute(&pool).await?.rows_affected())
            }
        }
    }

    /// One value read behind the store's back.
    async fn scalar<T>(&self, sql: &str) -> T
    where
        T: Send + Unpin,
        (T,): for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let value = match &self.db {
            Database::Sqlite(path) => {
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
                match sqlx::SqlitePool::connect_with(options).await {
                    Ok(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await,
                    Err(e) => Err(e),
                }
            }
            Database::Postgres(url) => match sqlx::PgPool::connect(url).await {
                Ok(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await,
                Err(e) => Err(e),
            },
        };
        value.expect("a value")
    }

    /// Drop one of the audit log's guard triggers (as someone with the database could).
    async fn drop_trigger(&self, name: &str) {
        let sql = match self.db {
            Database::Sqlite(_) => format!("DROP TRIGGER {name}"),
            Database::Postgres(_) => format!("DROP TRIGGER {name} ON audit"),
        };
        self.exec(&sql).await.expect("drop the trigger");
    }
}

/// A clean message's processing: its one recipient queued for plain delivery.
fn clean_to(recipient_id: i64) -> Processed {
    Processed {
        verdict: "clean".into(),
        findings: serde_json::json!([]),
        decisions: vec![RecipientDecision {
            recipient_id,
            route: veilpost_store::Route::Plain,
            reasons: vec![],
            state: veilpost_store::RecipientState::Queued,
            blob: None,
        }],
        ..Processed::default()
    }
}

/// A clock a test moves by hand, and the handle that moves it.
fn adjustable_clock() -> (Arc<AtomicI64>, veilpost_store::Clock) {
    let t = Arc::new(AtomicI64::new(1_796_083_200));
    let handle = t.clone();
    (
        t,
        veilpost_store::Clock::from_fn(move || handle.load(Ordering::SeqCst)),
    )
}

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope {
        origin: Origin::Submission,
        mail_from: "a.jansen@praktijk.test".into(),
        rcpt_to: rcpts.iter().map(|s| s.to_string()).collect(),
        auth_user: Some("a.jansen@praktijk.test".into()),
        client_ip: Some("127.0.0.1".into()),
        intent: None,
    }
}

/// A group commit writes each kind in one statement (`UPDATE … FROM (VALUES …)`, multi-row
/// `INSERT`): with dozens of writes in a group, every row still gets its own values, the
/// recipients keep their order, and the audit chain stays one chain.
async fn group_commits_keep_rows_apart(engine: Db) {
    let place = Place::new(engine, "groups");
    let dir = place.dir.clone();
    let store = place.open().await;
    let address = |i: usize, j: usize| format!("m{i}r{j}@ext.test");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = store.clone();
        let rcpts: Vec<String> = (0..i % 3 + 1).map(|j| address(i, j)).collect();
        tasks.push(tokio::spawn(async move {
            let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
            s.spool(
                envelope(&rcpts),
                format!("Subject: {i}\r\n\r\nhi\r\n").into_bytes(),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("spooled");
    }
    let claimed = store.claim_received(100, 60).await.expect("claim");
    assert_eq!(claimed.len(), 40);
    let mut tasks = Vec::new();
    for m in claimed.clone() {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let decisions = m
                .recipients
                .iter()
                .enumerate()
                .map(|(j, (id, address))| RecipientDecision {
                    recipient_id: *id,
                    route: if j % 2 == 0 {
                        veilpost_store::Route::Plain
                    } else {
                        veilpost_store::Route::Tls
                    },
                    reasons: vec![address.clone()],
                    state: veilpost_store::RecipientState::Queued,
                    blob: None,
                })
                .collect();
            let p = Processed {
                verdict: "clean".into(),
                findings: serde_json::json!([]),
                out_prefix: Some(m.id.as_bytes().to_vec()),
                decisions,
                audit: vec![veilpost_store::AuditEvent {
                    actor: "veilpost".into(),
                    action: "send.plain".into(),
                    subject: Some(m.id.clone()),
                    ..Default::default()
                }],
                ..Processed::default()
            };
            s.finish_processing(&m.id, p).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("processed");
    }
    let due = store.claim_deliveries(500, 60).await.expect("deliveries");
    assert_eq!(due.len(), (0..40).map(|i| i % 3 + 1).sum::<usize>());
    for d in &due {
        assert_eq!(
            d.prefix,
            d.message_id.as_bytes(),
            "each message its own prefix"
        );
    }
    let mut tasks = Vec::new();
    for (k, d) in due.iter().enumerate() {
        let s = store.clone();
        let (id, address) = (d.recipient_id, d.address.clone());
        tasks.push(tokio::spawn(async move {
            let outcome = match k % 3 {
                0 => DeliveryOutcome::Delivered { detail: address },
                1 => DeliveryOutcome::Failed { error: address },
                _ => DeliveryOutcome::Deferred {
                    error: address,
                    next_at: now() + 3600,
                },
            };
            s.delivery_done(id, &outcome).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("recorded");
    }
    let states: std::collections::HashMap<i64, usize> = due
        .iter()
        .enumerate()
        .map(|(k, d)| (d.recipient_id, k % 3))
        .collect();
    for m in &claimed {
        let trace = store.trace(&m.id).await.expect("trace");
        assert_eq!(trace.len(), m.recipients.len());
        for (j, (r, (id, address))) in trace.iter().zip(&m.recipients).enumerate() {
            assert_eq!(&r.address, address, "recipients in order");
            assert_eq!(r.reasons, vec![address.clone()]);
            let route = if j % 2 == 0 { "plain" } else { "tls" };
            assert_eq!(r.route.map(|r| r.as_str()), Some(route));
            assert_eq!(r.last_error.as_ref(), Some(address));
            assert_eq!(r.attempts, 1);
            let state = ["delivered", "failed", "queued"][states[id]];
            assert_eq!(r.state.as_str(), state, "{address}");
        }
    }
    let check = store.verify_audit().await.expect("verify");
    assert_eq!((check.entries, check.broken), (40, None));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn spool_process_deliver(engine: Db) {
    let place = Place::new(engine, "flow");
    let dir = place.dir.clone();
    let store = place.open().await;
    // Many concurrent spools commit in groups and all come back.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.spool(
                envelope(&["x@ext.test", "y@ext.test"]),
                format!("Subject: {i}\r\n\r\nhi\r\n").into_bytes(),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("spooled");
    }
    assert_eq!(store.backlog().await.expect("backlog"), (50, 100));
    assert!(store.spool(envelope(&[]), b"x".to_vec()).await.is_err());

    let batch = store.claim_received(10, 60).await.expect("claim");
    assert_eq!(batch.len(), 10);
    // Leased: not handed out twice.
    let again = store.claim_received(100, 60).await.expect("claim");
    assert_eq!(again.len(), 40);
    assert!(
        store
            .claim_received(100, 60)
            .await
            .expect("claim")
            .is_empty()
    );

    let m = &batch[0];
    assert_eq!(m.recipients.len(), 2);
    let body = store.read_blob(&m.blob).await.expect("blob");
    assert!(body.starts_with(b"Subject: "));
    let out = store.blobs().write(b"signed".to_vec()).await.expect("out");
    let key = MasterKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").expect("key");
    let sealed = key.seal("v1", &body).expect("seal");
    let vblob = store
        .blobs()
        .write(sealed.ciphertext.clone())
        .await
        .expect("vault blob");
    let token = new_token();
    let note = store
        .blobs()
        .write(b"notification".to_vec())
        .await
        .expect("note");
    let p = Processed {
        verdict: "sensitive".into(),
        findings: serde_json::json!([
            {"kind": "bsn", "location": "body"},
            {"kind": "health", "location": "attachment/uitslag_Jansen_14-02-1961.pdf/page 2"},
        ]),
        out_blob: Some(out.clone()),
        out_prefix: None,
        decisions: vec![
            RecipientDecision {
                recipient_id: m.recipients[0].0,
                route: veilpost_store::Route::Tls,
                reasons: vec!["sensitive content: bsn".into()],
                state: veilpost_store::RecipientState::Queued,
                blob: None,
            },
            RecipientDecision {
                recipient_id: m.recipients[1].0,
                route: veilpost_store::Route::Portal,
                reasons: vec!["no authenticated TLS".into()],
                state: veilpost_store::RecipientState::Portal,
                blob: None,
            },
        ],
        generated: vec![Generated {
            envelope: Envelope {
                origin: Origin::Notification,
                mail_from: String::new(),
                rcpt_to: vec!["y@ext.test".into()],
                auth_user: None,
                client_ip: None,
                intent: None,
            },
            blob: note.clone(),
            size: 12,
            route: veilpost_store::Route::Plain,
        }],
        vault: vec![VaultEntry {
            id: "v1".into(),
            message_id: m.id.clone(),
            recipient: "y@ext.test".into(),
            sender: "a.jansen@praktijk.test".into(),
            token_hash: token_hash(&token),
            blob: vblob.clone(),
            wrapped_key: sealed.wrapped_key.clone(),
            key_id: sealed.key_id.clone(),
            expires_at: now() + 86_400,
            ..Default::default()
        }],
        audit: vec![veilpost_store::AuditEvent {
            actor: "a.jansen@praktijk.test".into(),
            action: "send.tls".into(),
            subject: Some("x@ext.test".into()),
            detail: Some(format!("message {}", m.id)),
            ..Default::default()
        }],
    };
    store
        .finish_processing(&m.id, p.clone())
        .await
        .expect("finish");
    // The audit event went in with the decisions.
    let n: i64 = place
        .scalar("SELECT count(*) FROM audit WHERE action = 'send.tls'")
        .await;
    assert_eq!(n, 1);
    let info = store
        .vault_by_token(&token)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(info.recipient, "y@ext.test");
    assert!(
        store
            .vault_by_token("nope")
            .await
            .expect("lookup")
            .is_none()
    );

    let due = store.claim_deliveries(10, 60).await.expect("deliveries");
    assert_eq!(due.len(), 2, "{due:?}");
    let tls = due.iter().find(|d| d.route == "tls").expect("tls");
    assert_eq!(tls.blob, out);
    let plain = due
        .iter()
        .find(|d| d.route == "plain")
        .expect("notification");
    assert_eq!(plain.blob, note);
    assert_eq!(plain.mail_from, "");
    assert!(
        store
            .claim_deliveries(10, 60)
            .await
            .expect("leased")
            .is_empty()
    );

    store
        .delivery_done(
            tls.recipient_id,
            &DeliveryOutcome::Deferred {
                error: "no STARTTLS".into(),
                next_at: now() - 1,
            },
        )
        .await
        .expect("defer");
    let retry = store.claim_deliveries(10, 60).await.expect("retry");
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 1);
    store
        .delivery_done(
            retry[0].recipient_id,
            &DeliveryOutcome::Delivered {
                detail: "250 ok".into(),
            },
        )
        .await
        .expect("done");
    let trace = store.trace(&m.id).await.expect("trace");
    assert_eq!(trace[0].state, "delivered");
    assert_eq!(trace[1].state, "portal");
    assert_eq!(trace[0].reasons, vec!["sensitive content: bsn".to_string()]);

    // Content leaves the spool once every recipient is done; the vault's encrypted copy
    // and a still-queued notification stay, and so does the trace.
    assert_eq!(store.purge_finished(100).await.expect("purge"), 1);
    assert!(
        store.read_blob(&m.blob).await.is_err(),
        "received copy removed"
    );
    assert!(
        store.read_blob(&out).await.is_err(),
        "delivered copy removed"
    );
    assert!(store.read_blob(&vblob).await.is_ok(), "vault copy kept");
    assert!(
        store.read_blob(&note).await.is_ok(),
        "the notification is still queued"
    );
    assert_eq!(store.trace(&m.id).await.expect("trace").len(), 2);
    assert_eq!(store.purge_finished(100).await.expect("purge"), 0);
    // Issue 16, point 14: with the content, the attachment names leave the findings
    // (a name like "uitslag_Jansen_14-02-1961.pdf" is personal data too); kinds stay.
    let findings: String = place
        .scalar(&format!(
            "SELECT findings FROM messages WHERE id = '{}'",
            m.id
        ))
        .await;
    assert!(!findings.contains("Jansen"), "{findings}");
    let findings: serde_json::Value = serde_json::from_str(&findings).expect("json");
    assert_eq!(
        findings,
        serde_json::json!([
            {"kind": "bsn", "location": "body"},
            {"kind": "health", "location": "attachment"},
        ])
    );

    // The audit log refuses changes.
    store.audit("test", "x", None, None).await.expect("audit");
    assert!(place.exec("DELETE FROM audit").await.is_err());
    assert!(place.exec("UPDATE audit SET actor = 'y'").await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

async fn accounts(engine: Db) {
    let place = Place::new(engine, "users");
    let dir = place.dir.clone();
    let store = place.open().await;
    let today = time::macros::date!(2026 - 11 - 26);
    store
        .add_user(
            "a.jansen@praktijk.test",
            "lang genoeg wachtwoord",
            veilpost_store::Role::Staff,
            None,
        )
        .await
        .expect("add");
    assert!(
        store
            .add_user(
                "a.jansen@praktijk.test",
                "lang genoeg wachtwoord",
                veilpost_store::Role::Staff,
                None
            )
            .await
            .is_err()
    );
    assert!(
        store
            .add_user("b@praktijk.test", "kort", veilpost_store::Role::Staff, None)
            .await
            .is_err()
    );
    assert!(
        store
            .add_user(
                "geen-adres",
                "lang genoeg wachtwoord",
                veilpost_store::Role::Staff,
                None
            )
            .await
            .is_err()
    );
    store
        .add_user(
            "tijdelijk@praktijk.test",
            "lang genoeg wachtwoord",
            veilpost_store::Role::Staff,
            Some(time::macros::date!(2026 - 11 - 25)),
        )
        .await
        .expect("add");
    let ok = store
        .authenticate("A.Jansen@praktijk.test", "lang genoeg wachtwoord", today)
        .await
        .expect("auth");
    assert!(ok.is_some(), "case-insensitive address");
    assert!(
        store
            .authenticate("a.jansen@praktijk.test", "fout", today)
            .await
            .expect("auth")
            .is_none()
    );
    assert!(
        store
            .authenticate("niemand@praktijk.test", "x", today)
            .await
            .expect("auth")
            .is_none()
    );
    assert!(
        store
            .authenticate("tijdelijk@praktijk.test", "lang genoeg wachtwoord", today)
            .await
            .expect("auth")
            .is_none(),
        "past its end date"
    );
    assert!(
        store
            .disable_user("a.jansen@praktijk.test")
            .await
            .expect("disable")
    );
    assert!(
        store
            .authenticate("a.jansen@praktijk.test", "lang genoeg wachtwoord", today)
            .await
            .expect("auth")
            .is_none()
    );
    assert!(
        !store
            .disable_user("niemand@praktijk.test")
            .await
            .expect("disable")
    );
    let users = store.list_users().await.expect("list");
    assert_eq!(users.len(), 2);
    assert!(users[0].disabled);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn the_audit_log_is_a_hash_chain(engine: Db) {
    let place = Place::new(engine, "audit");
    let store = place.open().await;
    assert_eq!(store.verify_audit().await.expect("empty").entries, 0);
    // Concurrent writers still make one unbroken chain.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.audit(
                "smtp",
                "login.failed",
                Some(&format!("u{i}@x.test")),
                Some("127.0.0.1"),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("audit");
    }
    let check = store.verify_audit().await.expect("verify");
    assert_eq!(check.entries, 40);
    assert_eq!(check.broken, None);
    assert_eq!(check.last_hash.as_deref().map(str::len), Some(64));

    // The triggers refuse changes; someone with the database file can drop them, and
    // then the chain shows what they did.
    assert!(
        place
            .exec("UPDATE audit SET detail = 'x' WHERE id = 7")
            .await
            .is_err()
    );
    place.drop_trigger("audit_no_update").await;
    place.drop_trigger("audit_no_delete").await;
    place
        .exec("UPDATE audit SET detail = '10.0.0.1' WHERE id = 7")
        .await
        .expect("tamper");
    let check = store.verify_audit().await.expect("verify");
    assert_eq!(check.entries, 6);
    assert_eq!(check.broken, Some((7, AuditFault::Changed)));

    // In another log, remove an entry in the middle.
    let place2 = Place::new(engine, "audit2");
    let store2 = place2.open().await;
    for i in 0..5 {
        store2
            .audit("web", "view", Some(&i.to_string()), None)
            .await
            .expect("audit");
    }
    place2.drop_trigger("audit_no_delete").await;
    place2
        .exec("DELETE FROM audit WHERE id = 3")
        .await
        .expect("delete");
    let check = store2.verify_audit().await.expect("verify");
    assert_eq!(check.broken, Some((4, AuditFault::Gap { after: 2 })));
    // Retention removes from the start: the rest still verifies.
    let place3 = Place::new(engine, "audit3");
    let store3 = place3.open().await;
    for i in 0..5 {
        store3
            .audit("web", "view", Some(&i.to_string()), None)
            .await
            .expect("audit");
    }
    place3.drop_trigger("audit_no_delete").await;
    place3
        .exec("DELETE FROM audit WHERE id <= 2")
        .await
        .expect("delete");
    let check = store3.verify_audit().await.expect("verify");
    assert_eq!((check.entries, check.broken), (3, None));

    // The retention job: nothing younger than the cut-off goes, and with the trigger in
    // place; everything older goes except the last entry, which anchors the next one.
    let place4 = Place::new(engine, "audit4");
    let store4 = place4.open().await;
    for i in 0..5 {
        store4
            .audit("web", "view", Some(&i.to_string()), None)
            .await
            .expect("audit");
    }
    let an_hour_ago = veilpost_store::now() - 3600;
    assert_eq!(
        store4
            .audit_retention(an_hour_ago)
            .await
            .expect("retention"),
        0
    );
    assert!(
        place4.exec("DELETE FROM audit WHERE id = 5").await.is_err(),
        "young entries stay append-only"
    );
    let later = veilpost_store::now() + 10;
    assert_eq!(store4.audit_retention(later).await.expect("retention"), 4);
    store4
        .audit("web", "view", Some("after"), None)
        .await
        .expect("audit");
    let check = store4.verify_audit().await.expect("verify");
    assert_eq!((check.entries, check.broken), (2, None));
}

/// The CLI opens the store while the server runs: two pools, two committers, one file.
/// A deferred transaction that reads (the audit chain's last hash) and then writes
/// failed at once with SQLITE_BUSY_SNAPSHOT when the other side committed in between
/// (seen in CI: `veilpost user offboard` beside a running gateway).
async fn two_processes_on_one_store_both_write(engine: Db) {
    let place = Place::new(engine, "two-writers");
    let dir = place.dir.clone();
    let server = place.open().await;
    let cli = place.open().await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let s = if i % 2 == 0 {
            server.clone()
        } else {
            cli.clone()
        };
        tasks.push(tokio::spawn(async move {
            s.audit("cli", "user.offboard", Some(&format!("u{i}@x.test")), None)
                .await?;
            s.spool(
                envelope(&["x@ext.test"]),
                b"Subject: t\r\n\r\nhi\r\n".to_vec(),
            )
            .await?;
            s.release_leases().await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("every write lands");
    }
    let check = server.verify_audit().await.expect("verify");
    assert_eq!(check.entries, 60);
    assert_eq!(check.broken, None, "one unbroken chain from two writers");
    assert_eq!(server.backlog().await.expect("backlog").0, 60);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn sessions_scopes_leavers_and_end_dates(engine: Db) {
    let store = Place::new(engine, "staff").open().await;
    store
        .add_user(
            "a@praktijk.nl",
            "correct horse battery",
            veilpost_store::Role::Staff,
            None,
        )
        .await
        .expect("add");
    let update = veilpost_store::UserUpdate {
        name: Some("A. Jansen".into()),
        role: veilpost_store::Role::Staff,
        valid_until: veilpost_store::users_parse_date("2026-01-31"),
        scopes: vec![" Info@Praktijk.nl ".into()],
    };
    assert!(
        store
            .update_user("a@praktijk.nl", &update)
            .await
            .expect("update")
    );
    // A role is one of three, by type; text from a form or the CLI is parsed first.
    assert!(matches!(
        "root".parse::<veilpost_store::Role>(),
        Err(veilpost_store::UserError::BadRole(_))
    ));
    for role in veilpost_store::Role::ALL {
        assert_eq!(
            role.as_str().parse::<veilpost_store::Role>().ok(),
            Some(role)
        );
    }
    let u = store
        .user("a@praktijk.nl")
        .await
        .expect("user")
        .expect("some");
    assert_eq!(u.scopes, vec!["info@praktijk.nl".to_string()]);
    assert!(u.may_send_as("info@praktijk.nl") && !u.may_send_as("x@praktijk.nl"));

    let (token, csrf) = store
        .create_staff_session("a@praktijk.nl", veilpost_store::Stage::Full)
        .await
        .expect("session");
    let s = store
        .staff_session(&token)
        .await
        .expect("get")
        .expect("some");
    assert_eq!(s.stage, veilpost_store::Stage::Full);
    assert_eq!(s.csrf, csrf);
    assert!(
        store
            .staff_session("f".repeat(64).as_str())
            .await
            .expect("get")
            .is_none()
    );

    // The end date passes: sessions gone, reported once.
    let gone = store
        .expire_accounts(veilpost_store::users_parse_date("2026-02-01").expect("date"))
        .await
        .expect("expire");
    assert_eq!(gone, vec!["a@praktijk.nl".to_string()]);
    assert!(store.staff_session(&token).await.expect("get").is_none());
    let later = veilpost_store::users_parse_date("2026-02-02").expect("date");
    assert!(
        store
            .expire_accounts(later)
            .await
            .expect("again")
            .is_empty()
    );
    assert!(
        !store
            .user("a@praktijk.nl")
            .await
            .expect("u")
            .expect("s")
            .active_on(later)
    );

    assert_eq!(store.leaver("a@praktijk.nl").await.expect("leaver"), None);
    store
        .mark_offboarded("a@praktijk.nl", Some("b@praktijk.nl"))
        .await
        .expect("offboard");
    assert_eq!(
        store.leaver("A@praktijk.nl").await.expect("leaver"),
        Some(Some("b@praktijk.nl".to_string()))
    );
}

async fn audit_filters_take_wildcards_literally(engine: Db) {
    let store = Place::new(engine, "auditq").open().await;
    store
        .audit("web", "login.failed", Some("a_b@x.nl"), None)
        .await
        .expect("a");
    store
        .audit("web", "login.succeeded", Some("axb@x.nl"), None)
        .await
        .expect("b");
    let f = veilpost_store::AuditFilter {
        subject: Some("a_b".into()),
        ..veilpost_store::AuditFilter::default()
    };
    let rows = store.audit_query(&f, 10, 0).await.expect("query");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "login.failed");
    let f = veilpost_store::AuditFilter {
        action: Some("login.".into()),
        ..veilpost_store::AuditFilter::default()
    };
    assert_eq!(store.audit_query(&f, 10, 0).await.expect("q").len(), 2);
    assert_eq!(
        store.audit_query(&f, 1, 1).await.expect("q")[0].action,
        "login.failed"
    );
}

/// First-admin links (issue 16): an hour, the newest only, void once an admin exists, and
/// one link makes one admin however many submit it at once.
async fn a_first_admin_link_makes_one_admin_within_the_hour(engine: Db) {
    let (t, clock) = adjustable_clock();
    let store = Place::new(engine, "first-admin").open_with(clock).await;
    // Older than an hour: closed.
    let old = store.first_admin_link().await.expect("link");
    assert!(store.first_admin_link_open(&old).await.expect("open?"));
    t.fetch_add(veilpost_store::FIRST_ADMIN_LINK_SECONDS, Ordering::SeqCst);
    assert!(!store.first_admin_link_open(&old).await.expect("open?"));
    // The newest replaces the one before.
    let first = store.first_admin_link().await.expect("link");
    let second = store.first_admin_link().await.expect("link");
    assert!(!store.first_admin_link_open(&first).await.expect("open?"));
    assert!(store.first_admin_link_open(&second).await.expect("open?"));
    assert!(matches!(
        store
            .add_first_admin(&first, "a@praktijk.test", "lang genoeg wachtwoord")
            .await,
        Err(veilpost_store::UserError::LinkClosed)
    ));
    // Ten submissions at once: one admin.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (store, token) = (store.clone(), second.clone());
        tasks.push(tokio::spawn(async move {
            store
                .add_first_admin(
                    &token,
                    &format!("admin{i}@praktijk.test"),
                    "lang genoeg wachtwoord",
                )
                .await
        }));
    }
    let mut made = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(()) => made += 1,
            Err(veilpost_store::UserError::LinkClosed) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(made, 1);
    let admins = store
        .users_with_role(veilpost_store::Role::Admin)
        .await
        .expect("admins");
    assert_eq!(admins.len(), 1);
    // An admin exists: a fresh link does not work at all.
    let late = store.first_admin_link().await.expect("link");
    assert!(!store.first_admin_link_open(&late).await.expect("open?"));
}

/// Issue 16, point 5: a flood of sign-ins (here 60 at once, known and unknown accounts)
/// runs at most a few Argon2 hashes at a time, so memory stays bounded.
async fn password_checks_run_a_few_at_a_time(engine: Db) {
    let store = Place::new(engine, "argon2").open().await;
    store
        .add_user(
            "a.jansen@praktijk.test",
            "lang genoeg wachtwoord",
            veilpost_store::Role::Staff,
            None,
        )
        .await
        .expect("add");
    let today = time::macros::date!(2026 - 11 - 26);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let store = store.clone();
        tasks.spawn(async move {
            let who = if i % 2 == 0 {
                "a.jansen@praktijk.test".to_string()
            } else {
                format!("niemand{i}@praktijk.test")
            };
            store.authenticate(&who, "fout", today).await
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert!(r.expect("task").expect("check").is_none());
    }
    let peak = veilpost_store::argon2_peak();
    assert!(
        (1..=veilpost_store::ARGON2_AT_ONCE).contains(&peak),
        "{peak} Argon2 runs at once"
    );
}

/// The inbound verdict reads the blocked senders with every message: they are kept for a
/// few seconds, a block through this store acts at once, and one made by another process
/// on the same database within those seconds.
async fn blocks_act_at_once_here_and_within_seconds_elsewhere(engine: Db) {
    let (t, clock) = adjustable_clock();
    let place = Place::new(engine, "blocks");
    let store = place.open_with(clock).await;
    assert!(store.blocked_senders().await.expect("blocks").is_empty());
    store
        .block_sender("Info@Bank-Veilig.test", "admin@praktijk.test")
        .await
        .expect("block");
    assert_eq!(
        &*store.blocked_senders().await.expect("blocks"),
        ["info@bank-veilig.test"]
    );
    // Another process (the CLI, another node) on the same database.
    let other = place.open().await;
    other
        .block_sender("partnar.test", "cli")
        .await
        .expect("block");
    assert_eq!(store.blocked_senders().await.expect("blocks").len(), 1);
    t.fetch_add(veilpost_store::BLOCKS_READ_EVERY, Ordering::SeqCst);
    assert_eq!(
        &*store.blocked_senders().await.expect("blocks"),
        ["info@bank-veilig.test", "partnar.test"]
    );

    // The address book's domains (what the double-check compares recipients with) are
    // kept the same way: a change here shows at once, one made elsewhere within seconds.
    assert!(store.address_book_domains().await.expect("book").is_empty());
    store
        .put_contact("Kees@Apotheek.test", None, None)
        .await
        .expect("contact");
    store
        .put_partner_domain("ggz-regio.test", "required", None)
        .await
        .expect("partner");
    assert_eq!(
        &*store.address_book_domains().await.expect("book"),
        ["apotheek.test", "ggz-regio.test"]
    );
    other
        .remember_contact("jan@jeugdzorg.test")
        .await
        .expect("elsewhere");
    assert_eq!(store.address_book_domains().await.expect("book").len(), 2);
    t.fetch_add(veilpost_store::BOOK_READ_EVERY, Ordering::SeqCst);
    assert_eq!(store.address_book_domains().await.expect("book").len(), 3);
    assert!(
        store
            .delete_partner_domain("ggz-regio.test")
            .await
            .expect("delete")
    );
    assert!(
        store
            .delete_contact("kees@apotheek.test")
            .await
            .expect("delete")
    );
    assert_eq!(
        &*store.address_book_domains().await.expect("book"),
        ["jeugdzorg.test"]
    );

    // The whole address book (what the inbound verdict compares senders with) is kept
    // the same way: a colleague's name given here shows at once.
    let book = store.address_book().await.expect("book");
    assert_eq!(book.contacts.len(), 1);
    assert!(book.staff.is_empty() && book.partners.is_empty());
    store
        .add_user(
            "els@praktijk.test",
            "een lang wachtwoord 123",
            veilpost_store::Role::Staff,
            None,
        )
        .await
        .expect("user");
    let update = veilpost_store::UserUpdate {
        name: Some("Els de Boer".into()),
        role: veilpost_store::Role::Staff,
        valid_until: None,
        scopes: Vec::new(),
    };
    assert!(
        store
            .update_user("els@praktijk.test", &update)
            .await
            .expect("update")
    );
    let book = store.address_book().await.expect("book");
    assert_eq!(
        book.staff,
        [("Els de Boer".to_string(), "els@praktijk.test".to_string())]
    );
    // Unchanged, it is the same copy: users of it may keep what they made from it.
    assert!(Arc::ptr_eq(
        &book,
        &store.address_book().await.expect("book")
    ));
    // The policy settings the mail path reads per message are kept the same way.
    let cached = async |store: &Store| store.policy_setting("doublecheck").await.expect("read");
    assert_eq!(cached(&store).await, None);
    store
        .put_setting("doublecheck", "{\"a\":1}", "beheer")
        .await
        .expect("put");
    assert_eq!(cached(&store).await.as_deref(), Some("{\"a\":1}"));
    other
        .put_setting("doublecheck", "{\"a\":2}", "cli")
        .await
        .expect("put elsewhere");
    assert_eq!(cached(&store).await.as_deref(), Some("{\"a\":1}"));
    assert_eq!(
        store.setting("doublecheck").await.expect("read").as_deref(),
        Some("{\"a\":2}")
    );
    t.fetch_add(veilpost_store::SETTINGS_READ_EVERY, Ordering::SeqCst);
    assert_eq!(cached(&store).await.as_deref(), Some("{\"a\":2}"));
}

/// A DMARC report of `rows` (source IP, count, SPF aligned, DKIM aligned).
fn dmarc_report(
    reporter: &str,
    id: &str,
    domain: &str,
    end: i64,
    rows: &[(&str, u32, bool, bool)],
) -> veilpost_reports::Report {
    veilpost_reports::Report::Dmarc(veilpost_reports::DmarcReport {
        reporter: reporter.into(),
        report_id: id.into(),
        domain: domain.into(),
        begin: end - 86_400,
        end,
        rows: rows
            .iter()
            .map(|(ip, count, spf, dkim)| veilpost_reports::DmarcRow {
                source_ip: ip.parse().ok(),
                count: *count,
                spf_aligned: *spf,
                dkim_aligned: *dkim,
                header_from: domain.into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

async fn reports_count_once_add_up_per_source_and_age_out(engine: Db) {
    use veilpost_store::{Counted, NewAside};
    let store = Place::new(engine, "authreports").open().await;
    let day = 86_400;
    let t0 = 1_796_083_200;
    let a = dmarc_report(
        "google.com",
        "1",
        "praktijk.nl",
        t0,
        &[
            ("192.0.2.1", 10, true, true),
            ("192.0.2.9", 2, false, false),
        ],
    );
    let b = dmarc_report(
        "Microsoft.com",
        "x-7",
        "praktijk.nl",
        t0 + day,
        &[("192.0.2.1", 5, true, false)],
    );
    let same_as_a = dmarc_report(
        "GOOGLE.COM",
        "1",
        "praktijk.nl",
        t0,
        &[("192.0.2.1", 99, true, true)],
    );
    let counted = store
        .add_auth_reports(&[(&a, "import"), (&b, "mail"), (&same_as_a, "import")])
        .await
        .expect("store");
    assert!(matches!(counted[0], Counted::New(_)));
    assert!(matches!(counted[1], Counted::New(_)));
    assert_eq!(counted[2], Counted::Duplicate);
    // Again later: still once.
    assert_eq!(
        store
            .add_auth_reports(&[(&a, "mail")])
            .await
            .expect("store"),
        [Counted::Duplicate]
    );

    let mut sources = store.dmarc_sources("praktijk.nl", 0).await.expect("store");
    sources.sort_by(|x, y| x.ip.cmp(&y.ip));
    assert_eq!(sources.len(), 2);
    assert_eq!(
        (
            sources[0].ip.as_str(),
            sources[0].count,
            sources[0].spf_aligned,
            sources[0].dkim_aligned,
            sources[0].dmarc_pass
        ),
        ("192.0.2.1", 15, 15, 10, 15)
    );
    assert_eq!((sources[1].count, sources[1].dmarc_pass), (2, 0));
    // Since: only the later report.
    let later = store.dmarc_sources("praktijk.nl", t0).await.expect("store");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].count, 5);
    assert!(
        store
            .dmarc_sources("other.example", 0)
            .await
            .expect("store")
            .is_empty()
    );
    assert_eq!(
        store
            .dmarc_rows("praktijk.nl", 0, 10)
            .await
            .expect("store")
            .len(),
        3
    );
    assert_eq!(
        store.report_domains().await.expect("store"),
        ["praktijk.nl"]
    );

    // Set aside with the input kept.
    let id = store
        .set_report_aside(&NewAside {
            via: "mail",
            origin: "noreply@reporter.example",
            reason: "not_our_domain",
            detail: "",
            report: Some(&a),
            raw: Some(b"the report"),
        })
        .await
        .expect("store");
    let aside = store.reports_aside(10).await.expect("store");
    assert_eq!(aside.len(), 1);
    assert_eq!(
        (
            aside[0].reason.as_str(),
            aside[0].reporter.as_str(),
            aside[0].domain.as_str()
        ),
        ("not_our_domain", "google.com", "praktijk.nl")
    );
    assert_eq!(
        store.report_aside_raw(&id).await.expect("store").as_deref(),
        Some(&b"the report"[..])
    );

    // Retention: the first report's period ended before the cut, the second's did not.
    assert_eq!(store.purge_auth_reports(t0 + 1).await.expect("store"), 1);
    let left = store.dmarc_sources("praktijk.nl", 0).await.expect("store");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].count, 5);
}

/// Every other query once, with outcomes that show it read and wrote the right rows: the
/// SQL each engine accepts differs in places (types, case, literals), and most of these
/// are otherwise exercised only through the web and gateway tests, on SQLite.
async fn every_query_runs(engine: Db) {
    use veilpost_store::{Milestone, NewReport, Role, SessionKind, Stage, TotpHolder, UserUpdate};
    let store = Place::new(engine, "every").open().await;
    let t = store.now();

    // A message to a portal recipient, with its vault entry.
    let id = store
        .spool(
            envelope(&["Pat@Extern.test", "b@extern.test"]),
            b"Subject: x\r\n\r\nhi\r\n".to_vec(),
        )
        .await
        .expect("spool");
    let m = store.claim_received(1, 60).await.expect("claim").remove(0);
    assert_eq!(m.id, id);
    let token = new_token();
    let status = new_token();
    store
        .finish_processing(
            &m.id,
            Processed {
                verdict: "sensitive".into(),
                findings: serde_json::json!([]),
                decisions: vec![
                    RecipientDecision {
                        recipient_id: m.recipients[0].0,
                        route: veilpost_store::Route::Portal,
                        reasons: vec![],
                        state: veilpost_store::RecipientState::Portal,
                        blob: None,
                    },
                    RecipientDecision {
                        recipient_id: m.recipients[1].0,
                        route: veilpost_store::Route::Tls,
                        reasons: vec![],
                        state: veilpost_store::RecipientState::Queued,
                        blob: None,
                    },
                ],
                vault: vec![VaultEntry {
                    id: "vault-1".into(),
                    message_id: m.id.clone(),
                    recipient: "Pat@Extern.test".into(),
                    sender: "A.Jansen@praktijk.test".into(),
                    token_hash: token_hash(&token),
                    blob: m.blob.clone(),
                    wrapped_key: vec![1, 2, 3],
                    key_id: "k1".into(),
                    expires_at: t + 3600,
                    phone: Some("+31612345678".into()),
                    access_code: None,
                    email_code: true,
                    status_token_hash: Some(token_hash(&status)),
                    read_receipt: false,
                    upload: true,
                    subject: None,
                }],
                ..Processed::default()
            },
        )
        .await
        .expect("finish");
    let v = store
        .portal_by_token(&token)
        .await
        .expect("by token")
        .expect("entry");
    assert!(v.email_code && v.upload && !v.read_receipt);
    assert!(
        store
            .portal_by_status_token(&status)
            .await
            .expect("status")
            .is_some()
    );
    assert!(store.portal_by_id("vault-1").await.expect("id").is_some());
    assert_eq!(store.portal_by_message(&m.id).await.expect("msg").len(), 1);
    assert!(
        store
            .save_login("vault-1", "{}", v.login_version)
            .await
            .expect("login")
    );
    assert!(
        !store
            .save_login("vault-1", "{}", v.login_version)
            .await
            .expect("stale")
    );
    assert!(
        store
            .portal_milestone("vault-1", Milestone::Opened)
            .await
            .expect("opened")
    );
    assert!(
        !store
            .portal_milestone("vault-1", Milestone::Opened)
            .await
            .expect("twice")
    );
    store
        .add_portal_reply("reply-1", "vault-1", "blob-r", &[9])
        .await
        .expect("reply");
    assert_eq!(
        store
            .portal_replies("vault-1")
            .await
            .expect("replies")
            .len(),
        1
    );
    assert!(
        store
            .portal_expired(t + 7200, 10)
            .await
            .expect("expired")
            .len()
            == 1
    );
    store.reset_login("vault-1").await.expect("reset");
    assert_eq!(
        store
            .sent_by("a.jansen@PRAKTIJK.test", 10)
            .await
            .expect("sent")
            .len(),
        1
    );
    assert_eq!(
        store
            .received_by("pat@extern.test", 10)
            .await
            .expect("recv")
            .len(),
        1
    );
    assert_eq!(
        store
            .messages_from("A.JANSEN@praktijk.test", 10)
            .await
            .expect("from")
            .len(),
        1
    );
    assert!(store.message_info(&m.id).await.expect("info").is_some());

    // Portal sessions.
    let (session, _csrf) = store
        .create_session("vault-1", "sms")
        .await
        .expect("session");
    assert!(store.session(&session).await.expect("read").is_some());
    store
        .touch_session(SessionKind::Portal, &session)
        .await
        .expect("touch");
    // One table, two kinds: a recipient's token is no staff session nor the other way
    // round, and ending one as the other kind leaves it be.
    let (staff, _) = store
        .create_staff_session("ann@praktijk.test", veilpost_store::Stage::Full)
        .await
        .expect("staff session");
    assert!(store.session(&staff).await.expect("read").is_none());
    assert!(store.staff_session(&session).await.expect("read").is_none());
    store
        .end_session(SessionKind::Staff, &session)
        .await
        .expect("end as staff");
    store
        .end_session(SessionKind::Portal, &staff)
        .await
        .expect("end as portal");
    assert!(store.session(&session).await.expect("read").is_some());
    assert!(store.staff_session(&staff).await.expect("read").is_some());
    store
        .end_session(SessionKind::Portal, &session)
        .await
        .expect("end");
    assert!(store.session(&session).await.expect("read").is_none());
    // Shredding the message ends the sessions reading it.
    let (reading, _) = store
        .create_session("vault-1", "sms")
        .await
        .expect("session");
    assert!(store.shred("vault-1", "revoked").await.expect("shred"));
    assert!(store.session(&reading).await.expect("read").is_none());
    assert!(store.staff_session(&staff).await.expect("read").is_some());
    assert!(
        store
            .portal_replies("vault-1")
            .await
            .expect("replies")
            .is_empty()
    );

    // The queue as the admin pages see it.
    let rows = store.queue_list(10).await.expect("queue");
    assert_eq!(rows.len(), 1);
    assert!(store.queue_retry(rows[0].id).await.expect("retry"));
    assert!(store.queue_cancel(rows[0].id).await.expect("cancel"));
    assert!(!store.queue_cancel(rows[0].id).await.expect("again"));
    store.mark_delay_notified(rows[0].id).await.expect("delay");
    assert!(
        store
            .known_recipient("PAT@extern.test")
            .await
            .expect("known")
    );

    // Held for the double-check, then quarantine of inbound mail.
    let held = store
        .spool(
            envelope(&["c@extern.test"]),
            b"Subject: h\r\n\r\nhi\r\n".to_vec(),
        )
        .await
        .expect("spool");
    store.claim_received(1, 60).await.expect("claim");
    store
        .hold_message(&held, &token_hash("hold-token"), "[\"new\"]")
        .await
        .expect("hold");
    assert!(
        store
            .held_by_token("hold-token")
            .await
            .expect("held")
            .is_some()
    );
    assert_eq!(
        store
            .held_by_sender("A.JANSEN@PRAKTIJK.TEST")
            .await
            .expect("by")
            .len(),
        1
    );
    assert!(store.release_held(&held).await.expect("release"));
    assert!(!store.unhold(&held).await.expect("not held now"));
    let inbound = store
        .spool(
            Envelope {
                origin: Origin::Inbound,
                ..envelope(&["Staff@praktijk.test"])
            },
            b"Subject: q\r\n\r\nhi\r\n".to_vec(),
        )
        .await
        .expect("spool inbound");
    store
        .note_inbound(&inbound, Some("<m1@x>"), Some("quarantine"))
        .await
        .expect("note");
    assert!(
        store
            .inbound_by_message_id("<m1@x>")
            .await
            .expect("by id")
            .is_some()
    );
    store
        .quarantine(&inbound, "sealed-blob", &[7], "[]")
        .await
        .expect("quarantine");
    assert!(store.is_quarantined(&inbound).await.expect("is"));
    assert_eq!(store.quarantine_recipients().await.expect("rcpts").len(), 1);
    assert!(
        store
            .quarantined_blob(&inbound)
            .await
            .expect("blob")
            .is_some()
    );
    assert!(store.sealed_key(&inbound).await.expect("key").is_some());
    assert!(
        store
            .quarantined_one(&inbound, Some("staff@PRAKTIJK.test"))
            .await
            .expect("one")
            .is_some()
    );
    assert_eq!(
        store
            .quarantined_for("STAFF@praktijk.test", 5)
            .await
            .expect("for")
            .len(),
        1
    );
    assert_eq!(store.held_inbound(5).await.expect("held").len(), 1);
    assert!(
        store
            .unseal(&inbound, "clear-blob")
            .await
            .expect("unseal")
            .is_some()
    );
    assert!(store.cancel_held(&inbound).await.expect("cancel"));

    // Phishing reports and blocks.
    store
        .add_report(
            "r1",
            &NewReport {
                reporter: "staff@praktijk.test".into(),
                shape: "attached".into(),
                original_id: Some("<m1@x>".into()),
                sender: Some("x@phish.test".into()),
                verdict: None,
                linked_message: Some(inbound.clone()),
                blob: "b".into(),
                sealed_key: vec![1],
            },
        )
        .await
        .expect("report");
    assert_eq!(store.reports(10).await.expect("reports").len(), 1);
    assert!(store.report("r1").await.expect("one").is_some());
    assert!(store.handle_report("r1", "admin").await.expect("handle"));
    store
        .remember_senders(&["spf:x.test".into(), "addr:a@x.test".into()])
        .await
        .expect("seen");
    assert!(
        store
            .sender_seen(&["addr:a@x.test".into()])
            .await
            .expect("seen?")
    );

    // The contact form.
    let intake = store
        .create_intake("patient@thuis.test", "{}")
        .await
        .expect("intake");
    let row = store.intake(&intake).await.expect("read").expect("row");
    assert!(
        store
            .save_intake_login(&intake, "{}", row.login_version)
            .await
            .expect("save")
    );
    store.verify_intake(&intake).await.expect("verify");
    store
        .keep_intake_files(&intake, "kept", &[1])
        .await
        .expect("keep");
    assert!(
        store
            .take_intake_files(&intake)
            .await
            .expect("take")
            .is_some()
    );
    assert!(
        store
            .intake_submitted(&intake, &id)
            .await
            .expect("submitted")
    );
    store.forget_intakes(t + 10).await.expect("forget");

    // Contacts, partners, settings, MTA-STS.
    store
        .put_contact("Jan@Partner.test", Some("Jan"), Some("+31600000000"))
        .await
        .expect("c");
    store
        .put_contact("jan@partner.test", None, Some("+31611111111"))
        .await
        .expect("again");
    assert_eq!(store.list_contacts().await.expect("list").len(), 1);
    assert_eq!(
        store
            .contact_phone("JAN@partner.test")
            .await
            .expect("phone")
            .as_deref(),
        Some("+31611111111")
    );
    store
        .remember_contact("JAN@PARTNER.TEST")
        .await
        .expect("remember");
    assert!(
        store
            .contact_domains()
            .await
            .expect("domains")
            .contains(&"partner.test".into())
    );
    assert!(
        store
            .delete_contact("Jan@partner.test")
            .await
            .expect("delete")
    );
    store
        .put_partner_domain("Zorg.Test", "dane", None)
        .await
        .expect("partner");
    assert!(store.is_partner_domain("zorg.test").await.expect("is"));
    assert_eq!(store.partner_domains().await.expect("list").len(), 1);
    assert!(
        store
            .delete_partner_domain("ZORG.test")
            .await
            .expect("delete")
    );
    store
        .put_setting("hold", "{\"a\":1}", "admin")
        .await
        .expect("set");
    store
        .put_setting("hold", "{\"a\":2}", "admin")
        .await
        .expect("set again");
    assert_eq!(
        store.setting("hold").await.expect("get").as_deref(),
        Some("{\"a\":2}")
    );
    let policy = veilpost_store::CachedStsPolicy {
        id: "1".into(),
        mode: "enforce".into(),
        mx: vec!["mx.zorg.test".into()],
        max_age: 86400,
        fetched_at: t,
    };
    store.mta_sts_put("zorg.test", &policy).await.expect("put");
    assert_eq!(
        store
            .mta_sts_get("zorg.test")
            .await
            .expect("get")
            .map(|p| p.mx),
        Some(policy.mx)
    );
    store.mta_sts_delete("zorg.test").await.expect("delete");

    // Staff: sessions, TOTP, passkeys, offboarding.
    store
        .add_user(
            "Els@praktijk.test",
            "een lang wachtwoord",
            Role::Staff,
            None,
        )
        .await
        .expect("add");
    assert!(matches!(
        store
            .add_user(
                "els@PRAKTIJK.test",
                "een lang wachtwoord",
                Role::Staff,
                None
            )
            .await,
        Err(veilpost_store::UserError::Exists(_))
    ));
    let (staff, _) = store
        .create_staff_session("els@praktijk.test", Stage::Full)
        .await
        .expect("s");
    assert!(store.staff_session(&staff).await.expect("read").is_some());
    store
        .set_ceremony(&staff, "{\"c\":1}")
        .await
        .expect("ceremony");
    assert_eq!(
        store.take_ceremony(&staff).await.expect("take").as_deref(),
        Some("{\"c\":1}")
    );
    assert_eq!(store.take_ceremony(&staff).await.expect("twice"), None);
    store
        .start_oidc_flow("state-1", "{\"f\":1}")
        .await
        .expect("oidc");
    assert!(
        store
            .take_oidc_flow("state-1", 600)
            .await
            .expect("take")
            .is_some()
    );
    assert!(
        store
            .take_oidc_flow("state-1", 600)
            .await
            .expect("twice")
            .is_none()
    );
    let els = TotpHolder::Staff("ELS@praktijk.test");
    assert!(
        store
            .register_totp(els, &[1], &[2], "k1", 5)
            .await
            .expect("totp")
    );
    assert!(store.totp(els).await.expect("read").is_some());
    assert!(store.use_totp_step(els, 6).await.expect("step"));
    assert!(!store.use_totp_step(els, 6).await.expect("replay"));
    let pat = TotpHolder::Recipient("Pat@Extern.test");
    assert!(
        store
            .register_totp(pat, &[1], &[2], "k1", 5)
            .await
            .expect("totp")
    );
    assert!(
        store
            .totp(TotpHolder::Recipient("pat@extern.test"))
            .await
            .expect("r")
            .is_some()
    );
    store
        .reset_staff_totp("els@praktijk.test")
        .await
        .expect("reset");
    assert!(
        store
            .add_first_passkey("Els@praktijk.test", "cred-1", "{}")
            .await
            .expect("passkey")
    );
    let keys = store.passkeys("els@praktijk.test").await.expect("passkeys");
    assert_eq!(keys.len(), 1);
    store
        .passkey_used(keys[0].0, "{\"n\":2}")
        .await
        .expect("used");
    assert!(
        store
            .user("ELS@praktijk.test")
            .await
            .expect("user")
            .expect("els")
            .has_passkey
    );
    store
        .update_user(
            "els@praktijk.test",
            &UserUpdate {
                name: Some("Els".into()),
                role: Role::Staff,
                valid_until: None,
                scopes: vec!["info@praktijk.test".into()],
            },
        )
        .await
        .expect("update");
    assert_eq!(
        store
            .user("els@praktijk.test")
            .await
            .expect("user")
            .expect("els")
            .scopes,
        ["info@praktijk.test"]
    );
    assert!(
        store
            .set_password("els@praktijk.test", "nog een lang wachtwoord")
            .await
            .expect("pw")
    );
    assert_eq!(
        store
            .users_with_role(Role::Staff)
            .await
            .expect("role")
            .len(),
        1
    );
    store
        .end_staff_sessions("ELS@praktijk.test")
        .await
        .expect("end");
    assert!(store.staff_session(&staff).await.expect("read").is_none());
    store
        .offboard("els@praktijk.test", Some("info@praktijk.test"))
        .await
        .expect("offboard");
    assert_eq!(
        store
            .leaver("ELS@praktijk.test")
            .await
            .expect("leaver")
            .flatten()
            .as_deref(),
        Some("info@praktijk.test")
    );
    store
        .expire_accounts(time::macros::date!(2030 - 01 - 01))
        .await
        .expect("expire");

    // Limit counts several nodes share.
    let now = store.now();
    store
        .add_event("staff-failures", "els@praktijk.test", "192.0.2.0")
        .await
        .expect("add");
    store
        .add_event("staff-failures", "els@praktijk.test", "198.51.100.0")
        .await
        .expect("add");
    let (n, oldest) = store
        .count_events(
            "staff-failures",
            "els@praktijk.test",
            Some("192.0.2.0"),
            now - 60,
        )
        .await
        .expect("count");
    assert_eq!((n, oldest.is_some()), (1, true));
    let (n, _) = store
        .count_events("staff-failures", "els@praktijk.test", None, now - 60)
        .await
        .expect("count");
    assert_eq!(n, 2);
    store
        .forget_events("staff-failures", "els@praktijk.test")
        .await
        .expect("forget");
    store
        .add_event("per-ip", "192.0.2.0", "")
        .await
        .expect("add");
    // (The clock read again: the steps above may have taken past a second boundary.)
    assert_eq!(store.purge_events(store.now() + 1).await.expect("purge"), 1);
    assert_eq!(
        store
            .count_events("per-ip", "192.0.2.0", None, 0)
            .await
            .expect("count")
            .0,
        0
    );
}

/// A node renews the leases of what it works on; what a dead node held comes back when
/// its lease runs out, to any node.
async fn leases_run_out_unless_renewed(engine: Db) {
    let (t, clock) = adjustable_clock();
    let place = Place::new(engine, "leases");
    let node_a = place.open_with(clock.clone()).await;
    let node_b = place.open_with(clock).await;
    for i in 0..2 {
        node_a
            .spool(
                envelope(&["x@ext.test"]),
                format!("Subject: {i}\r\n\r\n.\r\n").into_bytes(),
            )
            .await
            .expect("spool");
    }
    let taken = node_a.claim_received(2, 10).await.expect("claim");
    assert_eq!(taken.len(), 2);
    assert!(
        node_b
            .claim_received(10, 10)
            .await
            .expect("none free")
            .is_empty()
    );
    t.fetch_add(5, Ordering::SeqCst);
    node_a
        .renew_leases(&[taken[0].id.clone()], &[], 10)
        .await
        .expect("renew");
    t.fetch_add(7, Ordering::SeqCst);
    // Node A went quiet about the second one: node B takes it up; the first is still A's.
    let again = node_b.claim_received(10, 10).await.expect("claim");
    assert_eq!(
        again.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [taken[1].id.as_str()]
    );
    t.fetch_add(11, Ordering::SeqCst);
    assert_eq!(node_b.claim_received(10, 10).await.expect("claim").len(), 2);
}

/// The next announced work, within seconds.
async fn next(heard: &mut veilpost_store::WorkListener) -> veilpost_store::Work {
    tokio::time::timeout(std::time::Duration::from_secs(10), heard.next())
        .await
        .expect("announced within seconds")
        .expect("listener")
}

/// On PostgreSQL a node hears at once when another commits work (LISTEN/NOTIFY); on
/// SQLite there is no other node to hear.
async fn work_is_announced_to_the_other_nodes(engine: Db) {
    let place = Place::new(engine, "announce");
    let node_a = place.open().await;
    let node_b = place.open().await;
    let Some(mut heard) = node_b.work_listener().await.expect("listen") else {
        assert!(matches!(engine, Db::Sqlite));
        return;
    };
    node_a
        .spool(
            envelope(&["x@ext.test"]),
            b"Subject: a\r\n\r\n.\r\n".to_vec(),
        )
        .await
        .expect("spool");
    assert_eq!(next(&mut heard).await, veilpost_store::Work::Received);
    let m = node_a.claim_received(1, 60).await.expect("claim").remove(0);
    node_a
        .finish_processing(&m.id, clean_to(m.recipients[0].0))
        .await
        .expect("finish");
    assert_eq!(next(&mut heard).await, veilpost_store::Work::Queued);
}
