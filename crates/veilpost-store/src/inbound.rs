//! What the MX listener remembers: senders seen before (by address, DKIM domain and SPF
//! domain), for the verdict's first-time-sender note.

use crate::{Result, Store};

impl Store {
    /// Has any of these keys sent mail before?
    pub async fn sender_seen(&self, keys: &[String]) -> Result<bool> {
        let keys: Vec<&String> = keys.iter().filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            return Ok(false);
        }
        // Only placeholders are put into the text; the keys are bound.
        let marks = (1..=keys.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT 1 FROM inbound_senders WHERE key IN ({marks}) LIMIT 1");
        let found = crate::db::on!(&self.pool, ex => {
            let mut query = sqlx::query_scalar::<_, i32>(sqlx::AssertSqlSafe(sql));
            for key in keys {
                query = query.bind(key);
            }
            query.fetch_optional(ex).await
        })?;
        Ok(found.is_some())
    }

    /// Remember these keys as having sent mail now.
    pub async fn remember_senders(&self, keys: &[String]) -> Result<()> {
        let t = self.now();
        // In one order, so that two nodes writing the same keys never wait on each other
        // in a circle (PostgreSQL row locks).
        let mut keys: Vec<&String> = keys.iter().filter(|k| !k.is_empty()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut tx = self.lease_pool.write_tx().await?;
        for key in keys {
            crate::db::on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO inbound_senders (key, first_at, last_at) VALUES ($1, $2, $3)
                 ON CONFLICT(key) DO UPDATE SET last_at = excluded.last_at,
                                                messages = inbound_senders.messages + 1",
            )
            .bind(key)
            .bind(t)
            .bind(t)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn senders_are_remembered_by_any_key() {
        let dir = std::env::temp_dir().join(format!("veilpost-inbound-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = crate::Store::open(&dir).await.expect("store");
        let keys = ["addr:a@x.nl".to_string(), "dkim:x.nl".into(), "spf:".into()];
        assert!(!store.sender_seen(&keys).await.expect("seen"));
        store.remember_senders(&keys).await.expect("remember");
        store.remember_senders(&keys).await.expect("again");
        assert!(
            store
                .sender_seen(&["dkim:x.nl".into()])
                .await
                .expect("seen")
        );
        assert!(
            !store
                .sender_seen(&["addr:b@x.nl".into()])
                .await
                .expect("seen")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
