//! Master-key rotation: every data key wrapped by the master key, wrapped by a new one
//! instead, in one transaction; the ciphertexts are not touched. Rows already under the new
//! key are left (a rotation cut short is run again with the same new key).

use crate::vault::MasterKey;
use crate::{Error, Result, Store};

/// Each place a wrapped data key is kept: table, key column, row key, how the row key
/// makes the wrap's context, and the column naming the master key's id (if any).
struct Place {
    table: &'static str,
    column: &'static str,
    id: &'static str,
    context: fn(&str) -> String,
    key_id: Option<&'static str>,
}

const PLACES: &[Place] = &[
    Place {
        table: "vault",
        column: "wrapped_key",
        id: "id",
        context: |id| id.to_string(),
        key_id: Some("key_id"),
    },
    Place {
        table: "vault",
        column: "subject_key",
        id: "id",
        context: |id| format!("subject:{id}"),
        key_id: None,
    },
    Place {
        table: "portal_replies",
        column: "wrapped_key",
        id: "id",
        context: |id| format!("reply:{id}"),
        key_id: None,
    },
    Place {
        table: "recipient_totp",
        column: "wrapped",
        id: "address",
        context: |a| format!("totp:{}", a.trim().to_lowercase()),
        key_id: Some("key_id"),
    },
    Place {
        table: "users",
        column: "totp_wrapped",
        id: "email",
        context: |a| format!("staff-totp:{}", a.trim().to_lowercase()),
        key_id: Some("totp_key_id"),
    },
    Place {
        table: "intake",
        column: "kept_key",
        id: "id",
        context: |id| format!("intake-files:{id}"),
        key_id: None,
    },
    Place {
        table: "messages",
        column: "sealed_key",
        id: "id",
        context: |id| format!("quarantine:{id}"),
        key_id: None,
    },
    Place {
        table: "blob_keys",
        column: "wrapped",
        id: "id",
        context: crate::vault::blob_key_context,
        key_id: Some("key_id"),
    },
    Place {
        table: "phishing_reports",
        column: "sealed_key",
        id: "id",
        context: |id| format!("report:{id}"),
        key_id: None,
    },
];

impl Store {
    /// Wrap every data key `old` wrapped by `new` instead; how many per table and column.
    /// A key neither opens is an error and nothing changes.
    pub async fn rewrap_keys(
        &self,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<Vec<(String, u64)>> {
        let mut tx = self.pool.write_tx().await?;
        let mut counts = Vec::new();
        for p in PLACES {
            let select = format!(
                "SELECT {id}, {col} FROM {t} WHERE {col} IS NOT NULL",
                id = p.id,
                col = p.column,
                t = p.table
            );
            let rows: Vec<(String, Vec<u8>)> = crate::db::on_tx!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(select))
                .fetch_all(&mut *c).await)?;
            // With a key-id column, the new key's id goes there too ($3).
            let update = format!(
                "UPDATE {t} SET {col} = $1{key_id} WHERE {id} = $2",
                t = p.table,
                col = p.column,
                id = p.id,
                key_id = p.key_id.map(|k| format!(", {k} = $3")).unwrap_or_default(),
            );
            let mut done = 0u64;
            for (id, wrapped) in rows {
                // Shredded entries keep an empty key: nothing to wrap.
                if wrapped.is_empty() {
                    continue;
                }
                let context = (p.context)(&id);
                let rewrapped = match old.rewrap(new, &context, &wrapped) {
                    Ok(w) => w,
                    Err(_) if new.unwraps(&context, &wrapped) => continue,
                    Err(_) => {
                        return Err(Error::Crypto(format!(
                            "{}.{} of {id}: neither the old nor the new master key opens it",
                            p.table, p.column
                        )));
                    }
                };
                crate::db::on_tx!(&mut tx, c => {
                    let q = sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                        .bind(&rewrapped)
                        .bind(&id);
                    let q = if p.key_id.is_some() { q.bind(new.id()) } else { q };
                    q.execute(&mut *c).await.map(|r| r.rows_affected())
                })?;
                done += 1;
            }
            counts.push((format!("{}.{}", p.table, p.column), done));
        }
        tx.commit().await?;
        Ok(counts)
    }
}
