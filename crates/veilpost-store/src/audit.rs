//! The append-only audit log: every entry's hash covers the one before it, so a changed,
//! removed or inserted entry shows in [`Store::verify_audit`]; retention drops only a
//! prefix. The admin page's filtered reading is here too.

use sqlx::{FromRow, QueryBuilder};

use crate::{Result, Store};

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

/// Append entries in order, chained to the last: the chain's head read once, each entry
/// hashed onto the one before, all written in one statement (per `ROWS`). Only the group
/// committer calls this (in its transaction), so the chain has one writer.
pub(crate) async fn insert_audits(
    conn: &mut crate::db::Tx,
    events: &[&AuditEvent],
    at: i64,
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    // On PostgreSQL other nodes append too: one at a time, each after the last committed.
    conn.serial(crate::db::Serial::Audit).await?;
    let last: Option<(i64, Option<String>)> = crate::db::on_tx!(conn, c => sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *c).await)?;
    let (mut id, mut prev) = match last {
        Some((id, hash)) => (id, hash.unwrap_or_else(|| GENESIS.to_string())),
        None => (0, GENESIS.to_string()),
    };
    let mut rows = Vec::with_capacity(events.len());
    for a in events {
        id += 1;
        let hash = chain_hash(&prev, id, at, a);
        rows.push((id, *a, std::mem::replace(&mut prev, hash.clone()), hash));
    }
    for chunk in rows.chunks(crate::messages::ROWS) {
        crate::db::on_tx!(conn, c => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO audit (id, at, actor, action, subject, detail, ip, outcome, prev_hash, hash) ",
            );
            q.push_values(chunk, |mut row, (id, a, prev, hash)| {
                row.push_bind(*id)
                    .push_bind(at)
                    .push_bind(&a.actor)
                    .push_bind(&a.action)
                    .push_bind(&a.subject)
                    .push_bind(&a.detail)
                    .push_bind(&a.ip)
                    .push_bind(&a.outcome)
                    .push_bind(prev)
                    .push_bind(hash);
            });
            q.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// One audit-log entry.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    /// The client's IP address, for events a person caused over the network.
    pub ip: Option<String>,
    /// `ok`, `failed`, `refused`...
    pub outcome: Option<String>,
}

/// One audit log entry.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub outcome: Option<String>,
}

/// What the audit log page filters on (all optional; text matches are substrings).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    /// Unix times, inclusive from, exclusive to.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Like `%text%` for LIKE, with the wildcards in `text` taken literally.
fn like(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    /// Remove audit entries older than `cutoff` (retention), oldest first, so that the
    /// rest of the chain stays verifiable. Returns how many went.
    pub async fn audit_retention(&self, cutoff: i64) -> Result<u64> {
        let mut tx = self.pool.write_tx().await?;
        crate::db::on_tx!(&mut tx, c => sqlx::query("UPDATE audit_retention SET cutoff = CASE WHEN cutoff < $1 THEN $1 ELSE cutoff END")
            .bind(cutoff)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        // Only a prefix: an old entry after a newer one (a clock step) stays, and so does
        // the last entry, which anchors the chain for the next one.
        let first_kept: Option<i64> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT MIN(id) FROM audit WHERE at >= $1 OR id = (SELECT MAX(id) FROM audit)",
        )
        .bind(cutoff)
        .fetch_one(&mut *c).await)?;
        let gone = crate::db::on_tx!(&mut tx, c => sqlx::query("DELETE FROM audit WHERE at < $1 AND id < COALESCE($2, 9223372036854775807)")
                .bind(cutoff)
                .bind(first_kept)
                .execute(&mut *c).await.map(|r| r.rows_affected()))?;
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
            let page = crate::db::on!(&self.pool, ex => sqlx::query_as::<_, AuditRow>(
                "SELECT id, at, actor, action, subject, detail, ip, outcome, prev_hash, hash FROM audit
                  WHERE id > $1 ORDER BY id LIMIT 10000",
            )
            .bind(after)
            .fetch_all(ex).await)?;
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

    /// Entries after `after` (by id), oldest first, at most `limit`, with their hashes:
    /// what is shipped to syslog.
    pub async fn audit_since(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(AuditEntry, Option<String>)>> {
        let rows = crate::db::on!(&self.pool, ex => sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, actor, action, subject, detail, ip, outcome, prev_hash, hash FROM audit
              WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(ex).await)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    AuditEntry {
                        id: r.id,
                        at: r.at,
                        actor: r.actor,
                        action: r.action,
                        subject: r.subject,
                        detail: r.detail,
                        ip: r.ip,
                        outcome: r.outcome,
                    },
                    r.hash,
                )
            })
            .collect())
    }

    /// The chain's head: the last entry's id and hash (none while the log is empty).
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        let row: Option<(i64, Option<String>)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(ex).await)?;
        Ok(row.and_then(|(id, hash)| hash.map(|h| (id, h))))
    }

    /// Hold the chain in the database against signed checkpoints (made with the key whose
    /// raw public half is `public_key`): every checkpoint must be signed by it, and its
    /// entry must still carry the hash it signed, unless retention removed the entry.
    pub async fn verify_checkpoints(
        &self,
        checkpoints: &[crate::checkpoint::Checkpoint],
        public_key: &[u8],
    ) -> Result<crate::checkpoint::CheckpointCheck> {
        let mut check = crate::checkpoint::CheckpointCheck::default();
        let first: Option<i64> = crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT MIN(id) FROM audit")
            .fetch_one(ex).await)?;
        let mut sorted: Vec<&crate::checkpoint::Checkpoint> = checkpoints.iter().collect();
        sorted.sort_by_key(|c| c.entry);
        for c in sorted {
            if !c.signed_by(public_key) {
                check.unsigned.push(c.entry);
                continue;
            }
            if first.is_none_or(|f| c.entry < f) {
                // Before the first entry kept (retention), or the log was emptied: an
                // emptied log with checkpoints is a mismatch unless retention explains it.
                if first.is_none() {
                    check.mismatch.get_or_insert(c.entry);
                } else {
                    check.pruned += 1;
                }
                continue;
            }
            let hash: Option<Option<String>> = crate::db::on!(&self.pool, ex => sqlx::query_scalar(
                "SELECT hash FROM audit WHERE id = $1",
            )
            .bind(c.entry)
            .fetch_optional(ex).await)?;
            if hash.flatten().as_deref() == Some(c.hash.as_str()) {
                check.matched += 1;
            } else {
                check.mismatch.get_or_insert(c.entry);
            }
        }
        Ok(check)
    }

    /// Audit entries matching `f`, newest first (`limit` from `offset`).
    pub async fn audit_query(
        &self,
        f: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuditEntry>> {
        Ok(crate::db::on!(&self.pool, ex => {
            let mut q = QueryBuilder::new(
                "SELECT id, at, actor, action, subject, detail, ip, outcome FROM audit WHERE 1 = 1",
            );
            for (column, value) in [
                ("actor", &f.actor),
                ("action", &f.action),
                ("subject", &f.subject),
            ] {
                if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    q.push(format_args!(" AND lower({column}) LIKE lower("));
                    q.push_bind(like(v));
                    q.push(")");
                    q.push(" ESCAPE '\\'");
                }
            }
            if let Some(from) = f.from {
                q.push(" AND at >= ").push_bind(from);
            }
            if let Some(to) = f.to {
                q.push(" AND at < ").push_bind(to);
            }
            q.push(" ORDER BY id DESC LIMIT ")
                .push_bind(limit)
                .push(" OFFSET ")
                .push_bind(offset);
            q.build_query_as::<AuditEntry>().fetch_all(ex).await
        })?)
    }
}
