//! Moving up (`veilpost migrate`): a single node's SQLite database and blob directory
//! copied into PostgreSQL and, when given, an object store, so a practice that grows does
//! not start over.
//!
//! - Tables are copied in the order their references need, in batches, row by row as the
//!   target's columns say (integers, flags, bytes, JSON, text). Rows already there are
//!   brought up to date (the audit log's are never changed: it is append-only), so a run
//!   that stopped half-way, or one made again after the node was stopped, finishes the
//!   work without doubling anything.
//! - Blobs are copied first (sealed into the object store, where their names change: the
//!   old-to-new names are kept in the target database for the next run) and the rows'
//!   references follow.
//! - At the end the row counts of every table must match and the audit chain must verify
//!   in the target with the same last hash; otherwise the migration is reported as failed.

use std::collections::HashMap;

use sqlx::Row;

use crate::db::Pool;
use crate::{Blobs, Error, Result, Store};

/// Tables in the order their references need; their key columns (none: replaced whole).
const TABLES: &[(&str, &[&str])] = &[
    ("users", &["id"]),
    ("messages", &["id"]),
    ("inline_blobs", &["name"]),
    ("recipients", &["id"]),
    ("vault", &["id"]),
    ("mta_sts", &["domain"]),
    ("setup_tokens", &["token_hash"]),
    ("audit", &["id"]),
    ("audit_retention", &[]),
    ("sessions", &["id_hash"]),
    ("recipient_totp", &["address"]),
    ("contacts", &["address"]),
    ("intake", &["id"]),
    ("partner_domains", &["domain"]),
    ("staff_passkeys", &["id"]),
    ("settings", &["key"]),
    ("portal_replies", &["id"]),
    ("inbound_senders", &["key"]),
    ("phishing_reports", &["id"]),
    ("inbound_blocks", &["value"]),
    ("auth_reports", &["id"]),
    ("dmarc_rows", &[]),
    ("tls_rows", &[]),
    ("reports_aside", &["id"]),
    ("ip_names", &["ip"]),
    ("limit_events", &[]),
];

/// Columns that name a blob.
const BLOB_COLUMNS: &[(&str, &str)] = &[
    ("messages", "blob"),
    ("messages", "out_blob"),
    ("recipients", "blob"),
    ("vault", "blob"),
    ("portal_replies", "blob"),
    ("intake", "kept_blob"),
    ("phishing_reports", "blob"),
];

/// Keys PostgreSQL keeps in lower case (SQLite compares them with NOCASE).
const LOWER_CASE_KEYS: &[(&str, &str)] = &[("contacts", "address"), ("recipient_totp", "address")];

/// Identity columns whose sequences must go past the copied ids.
const IDENTITIES: &[&str] = &["users", "recipients", "staff_passkeys"];

/// Rows per batch.
const BATCH: i64 = 500;

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// (table, rows in the source, rows in the target).
    pub tables: Vec<(String, i64, i64)>,
    /// Blobs copied now, and those a former run had copied.
    pub blobs_copied: u64,
    pub blobs_already: u64,
    /// Audit entries, and the last hash both chains end in.
    pub audit_entries: u64,
    pub audit_last_hash: Option<String>,
}

/// A value as the target column takes it.
enum Value {
    Int(Option<i64>),
    Flag(Option<bool>),
    Bytes(Option<Vec<u8>>),
    Json(Option<sqlx::types::Json<serde_json::Value>>),
    Text(Option<String>),
}

impl Store {
    /// Copy this (SQLite) store into `target` (PostgreSQL, with its blobs where `target`
    /// keeps them), then verify. `progress` hears each step.
    pub async fn migrate_to(
        &self,
        target: &Store,
        mut progress: impl FnMut(&str),
    ) -> Result<Migrated> {
        let Pool::Sqlite(source, _) = &self.pool else {
            return Err(Error::Invalid("migrate copies from an SQLite store".into()));
        };
        let Pool::Pg(pg) = &target.pool else {
            return Err(Error::Invalid("migrate copies into PostgreSQL".into()));
        };
        let mut done = Migrated::default();
        let renamed = self
            .copy_blobs(target, pg, &mut done, &mut progress)
            .await?;
        for (table, keys) in TABLES {
            let n = copy_table(source, pg, table, keys, &renamed).await?;
            progress(&format!("{table}: {n} rows"));
        }
        for table in IDENTITIES {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pg).await?;
        }
        // Verify: every table's count, and the audit chain with the same last hash.
        for (table, _) in TABLES {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let here: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_one(source)
                .await?;
            let there: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pg)
                .await?;
            done.tables.push((table.to_string(), here, there));
            if here != there {
                return Err(Error::Invalid(format!(
                    "{table}: {here} rows here, {there} in the target"
                )));
            }
        }
        let ours = self.verify_audit().await?;
        let theirs = target.verify_audit().await?;
        if theirs.broken.is_some()
            || theirs.entries != ours.entries
            || theirs.last_hash != ours.last_hash
        {
            return Err(Error::Invalid(format!(
                "the audit chain in the target ({} entries, {:?}) is not this one ({} entries, {:?})",
                theirs.entries, theirs.last_hash, ours.entries, ours.last_hash
            )));
        }
        done.audit_entries = theirs.entries;
        done.audit_last_hash = theirs.last_hash;
        Ok(done)
    }

    /// Copy every blob into the target's object store (nothing to do when the target keeps
    /// blobs in this same directory); returns old name → new name.
    async fn copy_blobs(
        &self,
        target: &Store,
        pg: &sqlx::PgPool,
        done: &mut Migrated,
        progress: &mut impl FnMut(&str),
    ) -> Result<HashMap<String, String>> {
        let (Blobs::Dir(dir), Blobs::Object(_)) = (&self.blobs, &target.blobs) else {
            return Ok(HashMap::new());
        };
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS migrate_blobs (old TEXT PRIMARY KEY, new TEXT NOT NULL)",
        )
        .execute(pg)
        .await?;
        let mut renamed: HashMap<String, String> =
            sqlx::query_as::<_, (String, String)>("SELECT old, new FROM migrate_blobs")
                .fetch_all(pg)
                .await?
                .into_iter()
                .collect();
        done.blobs_already = renamed.len() as u64;
        let names = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || dir.names())
                .await
                .map_err(|e| Error::Invalid(format!("listing blobs: {e}")))??
        };
        for name in names {
            if renamed.contains_key(&name) {
                continue;
            }
            let bytes = dir.read(&name).await?;
            let new = target.blobs.write(bytes).await?;
            sqlx::query(
                "INSERT INTO migrate_blobs (old, new) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&name)
            .bind(&new)
            .execute(pg)
            .await?;
            renamed.insert(name, new);
            done.blobs_copied += 1;
            if done.blobs_copied.is_multiple_of(1000) {
                progress(&format!("blobs: {} copied", done.blobs_copied));
            }
        }
        progress(&format!(
            "blobs: {} copied, {} from an earlier run",
            done.blobs_copied, done.blobs_already
        ));
        Ok(renamed)
    }
}

/// Copy one table in batches; returns the rows read.
async fn copy_table(
    source: &sqlx::SqlitePool,
    pg: &sqlx::PgPool,
    table: &str,
    keys: &[&str],
    renamed: &HashMap<String, String>,
) -> Result<u64> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pg)
    .await?;
    if columns.is_empty() {
        return Err(Error::Invalid(format!("{table}: not in the target schema")));
    }
    let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let list = names.join(", ");
    let mut tx = pg.begin().await?;
    if keys.is_empty() {
        // No key to match rows by: the table is replaced whole, in one transaction.
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *tx)
            .await?;
    }
    let on_conflict = if keys.is_empty() {
        String::new()
    } else if table == "audit" {
        " ON CONFLICT DO NOTHING".to_string()
    } else {
        let updates: Vec<String> = names
            .iter()
            .filter(|c| !keys.contains(c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        if updates.is_empty() {
            format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", "))
        } else {
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                keys.join(", "),
                updates.join(", ")
            )
        }
    };
    let select =
        format!("SELECT rowid, {list} FROM {table} WHERE rowid > $1 ORDER BY rowid LIMIT {BATCH}");
    let mut after = 0i64;
    let mut total = 0u64;
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
            .bind(after)
            .fetch_all(source)
            .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.try_get::<i64, _>(0)?;
        let mut values: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut out = Vec::with_capacity(columns.len());
            for (i, (column, kind)) in columns.iter().enumerate() {
                out.push(read_value(row, i + 1, table, column, kind, renamed)?);
            }
            values.push(out);
        }
        let mut q =
            sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("INSERT INTO {table} ({list}) "));
        q.push_values(values, |mut b, row| {
            for v in row {
                match v {
                    Value::Int(x) => b.push_bind(x),
                    Value::Flag(x) => b.push_bind(x),
                    Value::Bytes(x) => b.push_bind(x),
                    Value::Json(x) => b.push_bind(x),
                    Value::Text(x) => b.push_bind(x),
                };
            }
        });
        q.push(on_conflict.as_str());
        q.build().execute(&mut *tx).await?;
        total += rows.len() as u64;
    }
    tx.commit().await?;
    Ok(total)
}

/// Column `i` of an SQLite row as PostgreSQL's column of type `kind` takes it.
fn read_value(
    row: &sqlx::sqlite::SqliteRow,
    i: usize,
    table: &str,
    column: &str,
    kind: &str,
    renamed: &HashMap<String, String>,
) -> Result<Value> {
    Ok(match kind {
        "bigint" | "integer" => Value::Int(row.try_get(i)?),
        "boolean" => Value::Flag(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
        "bytea" => Value::Bytes(row.try_get(i)?),
        "jsonb" | "json" => match row.try_get::<Option<String>, _>(i)? {
            Some(text) => Value::Json(Some(sqlx::types::Json(
                serde_json::from_str(&text)
                    .map_err(|e| Error::Invalid(format!("{table}.{column}: not JSON: {e}")))?,
            ))),
            None => Value::Json(None),
        },
        _ => Value::Text(row.try_get::<Option<String>, _>(i)?.map(|text| {
            let text = match renamed.get(&text) {
                Some(new) if BLOB_COLUMNS.contains(&(table, column)) => new.clone(),
                _ => text,
            };
            if LOWER_CASE_KEYS.contains(&(table, column)) {
                text.to_ascii_lowercase()
            } else {
                text
            }
        })),
    })
}
