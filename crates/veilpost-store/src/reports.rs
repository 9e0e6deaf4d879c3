//! Phishing reports from staff, the senders and domains blocked after them, and the
//! Message-ID that links a report to the inbound message it is about.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, FromRow};

use crate::{Result, Store};

/// A report as stored (its content sealed apart).
#[derive(Debug, Clone, FromRow)]
pub struct PhishingReport {
    pub id: String,
    pub reported_at: i64,
    pub reporter: String,
    /// How the original came: `attached`, `arf`, `inline`, `unknown`.
    pub shape: String,
    /// The original's Message-ID.
    pub original_id: Option<String>,
    /// The original's From address.
    pub sender: Option<String>,
    /// The verdict the original got when it came in.
    pub verdict: Option<String>,
    /// Our inbound message with that Message-ID, if we have it.
    pub linked_message: Option<String>,
    /// Its state now (`held` = in quarantine), if linked.
    pub linked_state: Option<String>,
    pub blob: String,
    pub sealed_key: Vec<u8>,
    pub handled_at: Option<i64>,
}

/// What a new report says, for [`Store::add_report`].
#[derive(Debug, Clone, Default)]
pub struct NewReport {
    pub reporter: String,
    pub shape: String,
    pub original_id: Option<String>,
    pub sender: Option<String>,
    pub verdict: Option<String>,
    /// The inbound message the report is about (see [`Store::inbound_by_message_id`]).
    pub linked_message: Option<String>,
    /// The report, sealed under context `report:<id>` with `sealed_key`.
    pub blob: String,
    pub sealed_key: Vec<u8>,
}

/// A report with the state of the message it is linked to (a fixed text: no input).
const REPORT_SELECT: &str = "SELECT r.id, r.reported_at, r.reporter, r.shape, r.original_id,
        r.sender, r.verdict, r.linked_message, m.state AS linked_state, r.blob, r.sealed_key,
        r.handled_at
   FROM phishing_reports r LEFT JOIN messages m ON m.id = r.linked_message";

/// How long (seconds) the blocked senders are used before they are read again.
pub const BLOCKS_READ_EVERY: i64 = 5;

impl Store {
    /// Keep what a report finds an inbound message by: its Message-ID (if it has one) and
    /// the verdict it got.
    pub async fn note_inbound(
        &self,
        id: &str,
        message_id: Option<&str>,
        verdict: Option<&str>,
    ) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query("UPDATE messages SET header_message_id = $1, inbound_verdict = $2 WHERE id = $3")
            .bind(message_id)
            .bind(verdict)
            .bind(id)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The newest inbound message with this Message-ID, if we have it: its id and the
    /// verdict it got.
    pub async fn inbound_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT id, inbound_verdict FROM messages
              WHERE header_message_id = $1 AND origin = 'inbound'
              ORDER BY received_at DESC LIMIT 1",
        )
        .bind(message_id)
        .fetch_optional(ex).await)?)
    }

    /// Store a report under `id` (the id its content was sealed for).
    pub async fn add_report(&self, id: &str, r: &NewReport) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO phishing_reports (id, reported_at, reporter, shape, original_id, sender,
                    verdict, linked_message, blob, sealed_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(self.now())
        .bind(&r.reporter)
        .bind(&r.shape)
        .bind(&r.original_id)
        .bind(&r.sender)
        .bind(&r.verdict)
        .bind(&r.linked_message)
        .bind(&r.blob)
        .bind(&r.sealed_key)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Reports, open ones first, newest first (at most `limit`).
    pub async fn reports(&self, limit: i64) -> Result<Vec<PhishingReport>> {
        let sql = format!(
            "{REPORT_SELECT} ORDER BY r.handled_at IS NOT NULL, r.reported_at DESC LIMIT $1"
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(ex).await)?,
        )
    }

    /// One report.
    pub async fn report(&self, id: &str) -> Result<Option<PhishingReport>> {
        let sql = format!("{REPORT_SELECT} WHERE r.id = $1");
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(ex).await)?,
        )
    }

    /// Mark a report handled; false if there is no such open report.
    pub async fn handle_report(&self, id: &str, by: &str) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE phishing_reports SET handled_at = $1, handled_by = $2
              WHERE id = $3 AND handled_at IS NULL",
        )
        .bind(self.now())
        .bind(by)
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Block a sender address or a domain (lower case) from now on.
    pub async fn block_sender(&self, value: &str, by: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO inbound_blocks (value, added_at, added_by) VALUES ($1, $2, $3)
             ON CONFLICT(value) DO NOTHING",
        )
        .bind(value.trim().to_ascii_lowercase())
        .bind(self.now())
        .bind(by)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        self.blocked.forget();
        Ok(())
    }

    /// Every blocked sender and domain. Read again at most every
    /// [`BLOCKS_READ_EVERY`] seconds, and at once after a block made through this store:
    /// a block made elsewhere (another process on the same database) acts within that.
    pub async fn blocked_senders(&self) -> Result<Arc<[String]>> {
        let now = self.now();
        if let Some(list) = self.blocked.fresh(now) {
            return Ok(list);
        }
        let list: Vec<String> = crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT value FROM inbound_blocks ORDER BY value")
                .fetch_all(ex).await)?;
        let list: Arc<[String]> = list.into();
        self.blocked.keep(now, list.clone());
        Ok(list)
    }
}
