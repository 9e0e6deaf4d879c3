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
}

pub(crate) async fn insert_message(
    tx: &mut crate::db::Tx,
    m: &NewMessage,
    at: i64,
    state: &str,
) -> Result<(), sqlx::Error> {
    crate::db::on_tx!(tx, c => sqlx::query(
        "INSERT INTO messages (id, received_at, origin, mail_from, auth_user, client_ip, size, blob, state, intent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&m.id)
    .bind(at)
    .bind(m.envelope.origin)
    .bind(&m.envelope.mail_from)
    .bind(&m.envelope.auth_user)
    .bind(&m.envelope.client_ip)
    .bind(m.size as i64)
    .bind(&m.blob)
    .bind(state)
    .bind(&m.envelope.intent)
    .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    for rcpt in &m.envelope.rcpt_to {
        crate::db::on_tx!(tx, c => sqlx::query("INSERT INTO recipients (message_id, address, state) VALUES ($1, $2, 'new')")
            .bind(&m.id)
            .bind(rcpt)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// The writes of [`Store::finish_processing`], inside the committer's transaction.
pub(crate) async fn write_processed(
    tx: &mut crate::db::Tx,
    message_id: &str,
    p: &Processed,
    t: i64,
) -> Result<(), sqlx::Error> {
    crate::db::on_tx!(tx, c => sqlx::query(
        "UPDATE messages SET state = 'processed', lease_until = 0, verdict = $1, findings = $2,
                    out_blob = $3, out_prefix = $4, processed_at = $5 WHERE id = $6",
    )
    .bind(&p.verdict)
    .bind(p.findings.to_string())
    .bind(&p.out_blob)
    .bind(&p.out_prefix)
    .bind(t)
    .bind(message_id)
    .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    for d in &p.decisions {
        let done = if d.state == RecipientState::Queued {
            None
        } else {
            Some(t)
        };
        crate::db::on_tx!(tx, c => sqlx::query(
                "UPDATE recipients SET route = $1, reasons = $2, state = $3, blob = $4, next_attempt_at = $5,
                        done_at = $6 WHERE id = $7",
            )
            .bind(d.route)
            .bind(serde_json::to_string(&d.reasons).unwrap_or_default())
            .bind(d.state)
            .bind(&d.blob)
            .bind(t)
            .bind(done)
            .bind(d.recipient_id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    for v in &p.vault {
        crate::vault::insert(&mut *tx, v, t).await?;
    }
    for g in &p.generated {
        insert_generated(&mut *tx, &crate::new_id(), g, t).await?;
    }
    for a in &p.audit {
        crate::audit::insert_audit(&mut *tx, a, t).await?;
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

/// The write of [`Store::delivery_done`], inside the committer's transaction.
pub(crate) async fn write_delivery_done(
    tx: &mut crate::db::Tx,
    recipient_id: i64,
    outcome: &DeliveryOutcome,
    t: i64,
) -> Result<(), sqlx::Error> {
    match outcome {
        DeliveryOutcome::Delivered { detail } => {
            crate::db::on_tx!(tx, c => sqlx::query(
                    "UPDATE recipients SET state = 'delivered', attempts = attempts + 1, lease_until = 0,
                            last_error = $1, done_at = $2 WHERE id = $3",
                )
                .bind(detail)
                .bind(t)
                .bind(recipient_id)
                .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        DeliveryOutcome::Deferred { error, next_at } => {
            crate::db::on_tx!(tx, c => sqlx::query(
                "UPDATE recipients SET attempts = attempts + 1, lease_until = 0, last_error = $1,
                            next_attempt_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(next_at)
            .bind(recipient_id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        DeliveryOutcome::Failed { error } => {
            crate::db::on_tx!(tx, c => sqlx::query(
                "UPDATE recipients SET state = 'failed', attempts = attempts + 1, lease_until = 0,
                            last_error = $1, done_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(t)
            .bind(recipient_id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
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
