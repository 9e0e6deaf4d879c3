//! The rows of a message and its recipients: where a message came from ([`Origin`]), its
//! envelope, what processing decided and what delivery did, and the row writers the spool,
//! the committer and the queues share.

use sqlx::FromRow;

use crate::vault::VaultEntry;
use crate::{AuditEvent, Result};

/// Where a message came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Origin {
    /// Authenticated submission by a staff member.
    Submission,
    /// Relayed for a trusted network (the organisation's own mail server).
    Relay,
    /// A portal notification Veilpost made.
    Notification,
    /// A delivery status notification Veilpost made.
    Dsn,
    /// A recipient's secure reply from the portal (processed like a submission).
    Reply,
    /// A mail the portal wrote (a code, a read receipt, a confirmation).
    Portal,
    /// A patient's message from the secure contact form.
    Intake,
    /// Mail from outside for the organisation, taken by the MX listener: checked and
    /// relayed to the organisation's own mail server.
    Inbound,
}

/// The SMTP envelope and where the message came from.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub origin: Origin,
    /// Reverse path; empty for the null sender.
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub auth_user: Option<String>,
    pub client_ip: Option<String>,
    /// What the sender asked for, as JSON (`veilpost_policy::Intent`), when it came as
    /// data (web compose) rather than as subject tags (SMTP); kept with the message.
    pub intent: Option<String>,
}

pub(crate) struct NewMessage {
    pub(crate) id: String,
    pub(crate) envelope: Envelope,
    pub(crate) size: usize,
    pub(crate) blob: String,
    pub(crate) header_message_id: Option<String>,
    /// The content, when it is kept in the database under `blob` (see
    /// [`crate::blob::INLINE_MAX`]): written in the same transaction as the row.
    pub(crate) inline: Option<Vec<u8>>,
}

/// How far into a message the `Message-ID` field is looked for.
const HEADER_SCAN: usize = 64 * 1024;

/// The `Message-ID` field of a message's header (`<id@host>`, unfolded), when it has one
/// within the first 64 KiB and it is printable ASCII of at most 998 characters: what the
/// log and a phishing report find the message by. Anything else gives `None`.
pub fn header_message_id(data: &[u8]) -> Option<String> {
    let head = &data[..data.len().min(HEADER_SCAN)];
    let mut lines = head.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        if !line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"message-id")
        {
            continue;
        }
        let mut value = line[colon + 1..].to_vec();
        while let Some(next) = lines.peek()
            && next.first().is_some_and(|b| *b == b' ' || *b == b'\t')
        {
            value.extend_from_slice(next.strip_suffix(b"\r").unwrap_or(next));
            lines.next();
        }
        let value = value.trim_ascii();
        let printable = value.iter().all(|b| b.is_ascii_graphic());
        return (printable && !value.is_empty() && value.len() <= 998)
            .then(|| String::from_utf8_lossy(value).into_owned());
    }
    None
}

pub(crate) async fn insert_message(
    tx: &mut crate::db::Tx,
    m: &NewMessage,
    at: i64,
    state: &str,
) -> Result<(), sqlx::Error> {
    insert_messages(tx, &[m], at, state).await
}

/// Rows per multi-row statement: SQLite takes at most 32,766 parameters, PostgreSQL 65,535.
pub(crate) const ROWS: usize = 500;

/// Push the `INSERT` statements for `ms` onto the query builder `$q` (either engine's):
/// the messages, their recipients and the content kept inline, one multi-row statement per
/// [`ROWS`] rows of each; `$end` runs after each statement (executing it, or separating it
/// from the next in one batch).
macro_rules! push_inserts {
    ($q:ident, $ms:expr, $at:expr, $state:expr, $end:block) => {{
        let ms: &[&NewMessage] = $ms;
        for chunk in ms.chunks(ROWS) {
            $q.push(
                "INSERT INTO messages (id, received_at, origin, mail_from, auth_user, client_ip, size, blob, state, intent, header_message_id) ",
            );
            $q.push_values(chunk, |mut row, m| {
                row.push_bind(&m.id)
                    .push_bind($at)
                    .push_bind(m.envelope.origin)
                    .push_bind(&m.envelope.mail_from)
                    .push_bind(&m.envelope.auth_user)
                    .push_bind(&m.envelope.client_ip)
                    .push_bind(m.size as i64)
                    .push_bind(&m.blob)
                    .push_bind($state)
                    .push_bind(&m.envelope.intent)
                    .push_bind(&m.header_message_id);
            });
            $end
        }
        let recipients: Vec<(&str, &str)> = ms
            .iter()
            .flat_map(|m| {
                m.envelope
                    .rcpt_to
                    .iter()
                    .map(|r| (m.id.as_str(), r.as_str()))
            })
            .collect();
        for chunk in recipients.chunks(ROWS) {
            $q.push("INSERT INTO recipients (message_id, address, state) ");
            $q.push_values(chunk, |mut row, (id, address)| {
                row.push_bind(*id).push_bind(*address).push("'new'");
            });
            $end
        }
        let inline: Vec<(&str, &[u8])> = ms
            .iter()
            .filter_map(|m| m.inline.as_deref().map(|data| (m.blob.as_str(), data)))
            .collect();
        for chunk in inline.chunks(ROWS) {
            $q.push("INSERT INTO inline_blobs (name, data) ");
            $q.push_values(chunk, |mut row, (name, data)| {
                row.push_bind(*name).push_bind(*data);
            });
            $end
        }
    }};
}

/// Insert messages and their recipients: one statement for each table (per [`ROWS`]),
/// however many messages a group commit carries; on SQLite all of them in one batch (one
/// round trip to its worker thread).
pub(crate) async fn insert_messages(
    tx: &mut crate::db::Tx,
    ms: &[&NewMessage],
    at: i64,
    state: &str,
) -> Result<(), sqlx::Error> {
    if ms.is_empty() {
        return Ok(());
    }
    match tx {
        crate::db::Tx::Sqlite(t, _) => {
            let mut q = sqlx::QueryBuilder::new("");
            push_inserts!(q, ms, at, state, {
                q.push(";\n");
            });
            q.build().execute(&mut **t).await?;
        }
        crate::db::Tx::Pg(t) => {
            let mut q = sqlx::QueryBuilder::new("");
            push_inserts!(q, ms, at, state, {
                q.build().execute(&mut **t).await?;
                q.reset();
            });
        }
    }
    Ok(())
}

/// The spool's group commit on SQLite in one round trip to the database's worker thread:
/// `BEGIN IMMEDIATE`, the inserts and `COMMIT` as one batch, at the spool's turn at the
/// gate (ahead of the other writers). Each round trip is two thread wake-ups, and on busy
/// cores each can wait milliseconds for a core while every other writer waits for the
/// gate. When a statement fails, the transaction is rolled back before the connection goes
/// back to the pool.
pub(crate) async fn spool_in_one_trip(
    pool: &sqlx::SqlitePool,
    gate: &crate::db::Gate,
    ms: &[&NewMessage],
    at: i64,
) -> Result<(), sqlx::Error> {
    let _turn = gate.turn(true).await?;
    let mut conn = pool.acquire().await?;
    let mut q = sqlx::QueryBuilder::new("BEGIN IMMEDIATE;\n");
    push_inserts!(q, ms, at, "received", {
        q.push(";\n");
    });
    q.push("COMMIT");
    let done = q.build().execute(&mut *conn).await;
    if let Err(e) = done {
        // Whichever statement failed, nothing of the batch stays (a failed COMMIT leaves
        // the transaction open too).
        if let Err(r) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
            // Failing to roll back (no transaction open is one reason): not back to the
            // pool in a state no one knows.
            tracing::debug!("rollback after a failed spool batch: {r}");
            conn.close_on_drop();
        }
        return Err(e);
    }
    Ok(())
}

/// The writes of [`Store::finish_processing`] for every processed message of a group
/// commit: the messages in one statement, their recipients' decisions in another (rows
/// matched by id through `UPDATE … FROM (VALUES …)`, which both engines take; the
/// columns of a `VALUES` list are `column1`, `column2`, … in both); vault entries and
/// generated mail one by one; the audit entries go with the committer's.
pub(crate) async fn write_processed(
    tx: &mut crate::db::Tx,
    processed: &[(&str, &Processed)],
    t: i64,
) -> Result<(), sqlx::Error> {
    for chunk in processed.chunks(ROWS) {
        crate::db::on_tx!(tx, c => {
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE messages SET state = 'processed', lease_until = 0, verdict = v.column2,
                        findings = v.column3, out_blob = v.column4, out_prefix = v.column5,
                        processed_at = v.column6 FROM (",
            );
            q.push_values(chunk, |mut row, (id, p)| {
                row.push_bind(*id)
                    .push_bind(&p.verdict)
                    .push_bind(p.findings.to_string())
                    .push_bind(&p.out_blob)
                    .push_bind(&p.out_prefix)
                    .push_bind(t);
            });
            q.push(") AS v WHERE messages.id = v.column1");
            q.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    let decisions: Vec<&RecipientDecision> =
        processed.iter().flat_map(|(_, p)| &p.decisions).collect();
    for chunk in decisions.chunks(ROWS) {
        crate::db::on_tx!(tx, c => {
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE recipients SET route = v.column2, reasons = v.column3, state = v.column4,
                        blob = v.column5, next_attempt_at = v.column6, done_at = v.column7 FROM (",
            );
            q.push_values(chunk, |mut row, d| {
                let done = (d.state != RecipientState::Queued).then_some(t);
                row.push_bind(d.recipient_id)
                    .push_bind(d.route)
                    .push_bind(serde_json::to_string(&d.reasons).unwrap_or_default())
                    .push_bind(d.state)
                    .push_bind(&d.blob)
                    .push_bind(t)
                    .push_bind(done);
            });
            q.push(") AS v WHERE recipients.id = v.column1");
            q.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    for (_, p) in processed {
        for v in &p.vault {
            crate::vault::insert(&mut *tx, v, t).await?;
        }
        for g in &p.generated {
            insert_generated(&mut *tx, &crate::new_id(), g, t).await?;
        }
    }
    Ok(())
}

/// A message Veilpost made, stored as processed and queued for delivery.
pub(crate) async fn insert_generated(
    tx: &mut crate::db::Tx,
    id: &str,
    g: &Generated,
    t: i64,
) -> Result<(), sqlx::Error> {
    let m = NewMessage {
        id: id.to_string(),
        envelope: g.envelope.clone(),
        size: g.size,
        blob: g.blob.clone(),
        header_message_id: None,
        inline: None,
    };
    insert_message(&mut *tx, &m, t, "processed").await?;
    crate::db::on_tx!(tx, c => sqlx::query(
        "UPDATE messages SET out_blob = blob, processed_at = $1, verdict = 'clean' WHERE id = $2",
    )
    .bind(t)
    .bind(id)
    .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    crate::db::on_tx!(tx, c => sqlx::query(
        "UPDATE recipients SET route = $1, state = 'queued', next_attempt_at = $2 WHERE message_id = $3",
    )
    .bind(g.route)
    .bind(t)
    .bind(id)
    .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The writes of [`Store::delivery_done`] for a batch of finished attempts, in one
/// statement (per [`ROWS`]): delivered and failed recipients are done; a deferred one
/// stays queued with its next attempt.
pub(crate) async fn write_delivery_done(
    tx: &mut crate::db::Tx,
    outcomes: &[&(i64, DeliveryOutcome)],
    t: i64,
) -> Result<(), sqlx::Error> {
    for chunk in outcomes.chunks(ROWS) {
        crate::db::on_tx!(tx, c => {
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE recipients SET state = COALESCE(v.column2, recipients.state),
                        attempts = recipients.attempts + 1, lease_until = 0, last_error = v.column3,
                        done_at = COALESCE(v.column4, recipients.done_at),
                        next_attempt_at = COALESCE(v.column5, recipients.next_attempt_at) FROM (",
            );
            q.push_values(chunk, |mut row, (id, outcome)| {
                let (state, text, done, next) = match outcome {
                    DeliveryOutcome::Delivered { detail } => (Some("delivered"), detail, Some(t), None),
                    DeliveryOutcome::Failed { error } => (Some("failed"), error, Some(t), None),
                    DeliveryOutcome::Deferred { error, next_at } => (None, error, None, Some(*next_at)),
                };
                row.push_bind(*id)
                    .push_bind(state)
                    .push_bind(text)
                    .push_bind(done)
                    .push_bind(next);
            });
            q.push(") AS v WHERE recipients.id = v.column1");
            q.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// A spooled message waiting for the scan and the policy.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub origin: Origin,
    pub mail_from: String,
    pub auth_user: Option<String>,
    pub client_ip: Option<String>,
    pub received_at: i64,
    pub blob: String,
    /// (recipient row id, address).
    pub recipients: Vec<(i64, String)>,
    /// The sender confirmed it after a double-check hold: no second hold.
    pub confirmed: bool,
    /// The sender's intent as data (JSON), when it did not come in the subject.
    pub intent: Option<String>,
    /// The message's `Message-ID` field, for the log.
    pub header_message_id: Option<String>,
}

/// How a recipient's copy travels, as the queue and the trace keep it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(rename_all = "kebab-case")]
#[sqlx(type_name = "text", rename_all = "kebab-case")]
pub enum Route {
    /// Delivered with opportunistic TLS.
    Plain,
    /// Delivered only over authenticated TLS 1.2+.
    Tls,
    /// Stored encrypted in the vault; the recipient got a notification.
    Portal,
    /// Not sent; the sender got a report.
    Block,
    /// To a colleague, with the attachments kept in the vault behind a link.
    InternalLink,
    /// The attachments as one AES-256 ZIP, the password by SMS.
    EncryptedAttachment,
}

impl Route {
    pub const ALL: [Route; 6] = [
        Route::Plain,
        Route::Tls,
        Route::Portal,
        Route::Block,
        Route::InternalLink,
        Route::EncryptedAttachment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Plain => "plain",
            Route::Tls => "tls",
            Route::Portal => "portal",
            Route::Block => "block",
            Route::InternalLink => "internal-link",
            Route::EncryptedAttachment => "encrypted-attachment",
        }
    }

    /// The route a stored name stands for. A queued recipient without a route, or with
    /// one this version does not know, needs authenticated TLS (fail closed).
    pub fn from_stored(name: Option<&str>) -> Route {
        Route::ALL
            .into_iter()
            .find(|r| Some(r.as_str()) == name)
            .unwrap_or(Route::Tls)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compared with its stored name (`== "reply"`).
impl PartialEq<&str> for Origin {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compared with its stored name (`== "queued"` in templates).
impl PartialEq<&str> for Route {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Where a message is in processing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum MessageState {
    /// Spooled, waiting for processing.
    Received,
    /// A processor holds its lease.
    Processing,
    /// The double-check holds it for the sender's confirmation.
    Held,
    /// Decided; recipients are queued, in the vault, blocked or cancelled.
    Processed,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Received => "received",
            MessageState::Processing => "processing",
            MessageState::Held => "held",
            MessageState::Processed => "processed",
        }
    }
}

impl std::fmt::Display for MessageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a recipient of a message is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum RecipientState {
    /// Received, not processed yet.
    New,
    /// Waiting for (another) delivery attempt.
    Queued,
    Delivered,
    /// In the vault; the notification went out.
    Portal,
    /// The policy refused it.
    Blocked,
    /// Delivery failed for good.
    Failed,
    /// The sender cancelled a held message, or its sender left.
    Cancelled,
}

impl RecipientState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::New => "new",
            RecipientState::Queued => "queued",
            RecipientState::Delivered => "delivered",
            RecipientState::Portal => "portal",
            RecipientState::Blocked => "blocked",
            RecipientState::Failed => "failed",
            RecipientState::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for RecipientState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compared with its stored name (`== "queued"` in templates).
impl PartialEq<&str> for RecipientState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The policy's outcome for one recipient.
#[derive(Debug, Clone)]
pub struct RecipientDecision {
    pub recipient_id: i64,
    pub route: Route,
    pub reasons: Vec<String>,
    /// `Queued` (to be delivered), `Portal`, `Blocked` or `Failed`.
    pub state: RecipientState,
    /// Content for this recipient, when not the message's delivered form.
    pub blob: Option<String>,
}

/// A message Veilpost made while processing (a notification, a DSN): stored and queued
/// in the same transaction as the decisions.
#[derive(Debug, Clone)]
pub struct Generated {
    pub envelope: Envelope,
    pub blob: String,
    pub size: usize,
    /// The route each recipient takes (`Plain` for notifications and DSNs).
    pub route: Route,
}

/// Everything processing decided about one message.
#[derive(Debug, Clone, Default)]
pub struct Processed {
    pub verdict: String,
    pub findings: serde_json::Value,
    /// The message as it is delivered, when it differs from the received one by more
    /// than a prefix (a stripped subject tag).
    pub out_blob: Option<String>,
    /// Or: the received message with this in front (the DKIM-Signature header).
    pub out_prefix: Option<Vec<u8>>,
    pub decisions: Vec<RecipientDecision>,
    pub generated: Vec<Generated>,
    pub vault: Vec<VaultEntry>,
    /// Audit events, written in the same transaction.
    pub audit: Vec<AuditEvent>,
}

/// A recipient due for delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub recipient_id: i64,
    pub message_id: String,
    pub address: String,
    pub route: Route,
    pub mail_from: String,
    pub origin: Origin,
    /// The blob to send, after `prefix`.
    pub blob: String,
    pub prefix: Vec<u8>,
    pub attempts: i64,
    pub received_at: i64,
    pub delay_notified: bool,
    /// The message's `Message-ID` field, for the log.
    pub header_message_id: Option<String>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered {
        detail: String,
    },
    /// Try again at `next_at`.
    Deferred {
        error: String,
        next_at: i64,
    },
    /// Permanent failure.
    Failed {
        error: String,
    },
}

pub(crate) type TraceRow = (
    String,
    Option<Route>,
    Option<String>,
    RecipientState,
    i64,
    Option<String>,
);

/// What happened to one recipient of a message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecipientTrace {
    pub address: String,
    pub route: Option<Route>,
    pub reasons: Vec<String>,
    pub state: RecipientState,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// One recipient in the delivery queue.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct QueueRow {
    pub id: i64,
    pub message_id: String,
    pub mail_from: String,
    pub address: String,
    pub route: Option<Route>,
    pub state: RecipientState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub received_at: i64,
}

/// A message as the trace shows it (the envelope and the verdict; never the content).
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct MessageInfo {
    pub id: String,
    pub received_at: i64,
    pub origin: Origin,
    pub mail_from: String,
    pub auth_user: Option<String>,
    pub client_ip: Option<String>,
    pub size: i64,
    pub state: MessageState,
    pub verdict: Option<String>,
    pub findings: Option<String>,
    pub held_reasons: Option<String>,
    pub processed_at: Option<i64>,
}

impl Origin {
    /// Parse the stored word.
    pub fn parse(s: &str) -> Option<Origin> {
        match s {
            "submission" => Some(Origin::Submission),
            "relay" => Some(Origin::Relay),
            "notification" => Some(Origin::Notification),
            "dsn" => Some(Origin::Dsn),
            "reply" => Some(Origin::Reply),
            "portal" => Some(Origin::Portal),
            "intake" => Some(Origin::Intake),
            "inbound" => Some(Origin::Inbound),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Submission => "submission",
            Origin::Relay => "relay",
            Origin::Notification => "notification",
            Origin::Dsn => "dsn",
            Origin::Reply => "reply",
            Origin::Portal => "portal",
            Origin::Intake => "intake",
            Origin::Inbound => "inbound",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spool's one-trip batch on SQLite commits a whole group or nothing, and a batch
    /// that fails leaves no transaction open on its connection: the next group commits
    /// (an open transaction would hold SQLite's write lock, or refuse the next `BEGIN`).
    #[tokio::test]
    async fn a_failed_spool_batch_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("veilpost-spool-batch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = crate::Store::open(&dir).await.expect("store");
        let crate::db::Pool::Sqlite(pool, gate) = &store.pool else {
            panic!("a SQLite pool")
        };
        let message = |id: &str, blob: &str| NewMessage {
            id: id.into(),
            envelope: Envelope {
                origin: Origin::Relay,
                mail_from: "ann@praktijk.test".into(),
                rcpt_to: vec!["bob@partner.test".into(), "eva@partner.test".into()],
                auth_user: None,
                client_ip: None,
                intent: None,
            },
            size: 5,
            blob: blob.into(),
            header_message_id: None,
            inline: Some(b"hallo".to_vec()),
        };
        let counts = || async {
            let mut n = Vec::new();
            for count in [
                "SELECT count(*) FROM messages",
                "SELECT count(*) FROM recipients",
                "SELECT count(*) FROM inline_blobs",
            ] {
                let (c,): (i64,) = sqlx::query_as(count).fetch_one(pool).await.expect("count");
                n.push(c);
            }
            n
        };
        // The second message's content clashes with the first's in the batch's last
        // statement, after both messages and their recipients went in.
        let (a, b) = (message("a", "a.i"), message("b", "a.i"));
        let failed = spool_in_one_trip(pool, gate, &[&a, &b], 1).await;
        assert!(failed.is_err(), "{failed:?}");
        assert_eq!(counts().await, [0, 0, 0]);
        let next = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            spool_in_one_trip(pool, gate, &[&b], 2),
        )
        .await;
        assert!(
            matches!(next, Ok(Ok(()))),
            "the next group after a failed one: {next:?}"
        );
        assert_eq!(counts().await, [1, 2, 1]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stored_routes_read_back_and_unknown_ones_need_tls() {
        for route in Route::ALL {
            assert_eq!(Route::from_stored(Some(route.as_str())), route);
            assert!(route == route.as_str());
        }
        // A queued recipient with no route or one this version does not know is never
        // sent in plain text.
        assert_eq!(Route::from_stored(None), Route::Tls);
        assert_eq!(Route::from_stored(Some("")), Route::Tls);
        assert_eq!(Route::from_stored(Some("PLAIN ")), Route::Tls);
        assert_eq!(Route::from_stored(Some("carrier-pigeon")), Route::Tls);
        assert_eq!(
            serde_json::to_string(&Route::EncryptedAttachment)
                .ok()
                .as_deref(),
            Some("\"encrypted-attachment\"")
        );
        assert_eq!(
            serde_json::to_string(&RecipientState::Cancelled)
                .ok()
                .as_deref(),
            Some("\"cancelled\"")
        );
    }
}

#[cfg(test)]
mod header_tests {
    use super::header_message_id;

    #[test]
    fn message_id_from_the_header_only() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (
                b"From: a@b\r\nMessage-ID: <x1@host>\r\n\r\nbody",
                Some("<x1@host>"),
            ),
            (b"message-id:<x2@host>\n\nbody", Some("<x2@host>")),
            (b"Message-Id:\r\n <x3@host>\r\n\r\n", Some("<x3@host>")),
            // Folded inside the id: not an id.
            (b"Message-Id: <x3@\r\n host>\r\n\r\n", None),
            // In the body, not the header.
            (b"From: a@b\r\n\r\nMessage-ID: <x4@host>\r\n", None),
            (b"Subject: no id\r\n\r\n", None),
            (b"Message-ID: <has space@host>\r\n\r\n", None),
            (b"Message-ID: <\xff@host>\r\n\r\n", None),
            (b"Message-ID:\r\n\r\n", None),
            (b"", None),
            (b":::\r\n\r\n", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                header_message_id(raw).as_deref(),
                *want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        let long = format!("Message-ID: <{}@h>\r\n\r\n", "a".repeat(2000));
        assert_eq!(header_message_id(long.as_bytes()), None);
        // A header without an end, bigger than what is looked at.
        let mut huge = b"X: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 200_000));
        assert_eq!(header_message_id(&huge), None);
    }
}
