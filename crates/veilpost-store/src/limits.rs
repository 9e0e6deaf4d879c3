//! Rate-limit hits and sign-in failures as rows, for nodes that share one database: the
//! rules stay in `veilpost-portal` (pure); these are only the counts they read. On one
//! node (SQLite) the counts are kept in memory and these are not used.

use crate::{Engine, Result, Store};

impl Store {
    /// Are limits counted here (several nodes share this database)?
    pub fn shares_limits(&self) -> bool {
        self.engine() == Engine::Postgres
    }

    /// Events of `bucket` for `subject` (and only from `key`, when given) after `since`:
    /// how many, and when the oldest of them was.
    pub async fn count_events(
        &self,
        bucket: &str,
        subject: &str,
        key: Option<&str>,
        since: i64,
    ) -> Result<(i64, Option<i64>)> {
        Ok(crate::db::on!(&self.lease_pool, ex => sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM limit_events
              WHERE bucket = $1 AND subject = $2 AND ($3 IS NULL OR key = $3) AND at > $4",
        )
        .bind(bucket)
        .bind(subject)
        .bind(key)
        .bind(since)
        .fetch_one(ex).await)?)
    }

    /// Count one event now.
    pub async fn add_event(&self, bucket: &str, subject: &str, key: &str) -> Result<()> {
        crate::db::on!(&self.lease_pool, ex => sqlx::query(
            "INSERT INTO limit_events (bucket, subject, key, at) VALUES ($1, $2, $3, $4)",
        )
        .bind(bucket)
        .bind(subject)
        .bind(key)
        .bind(self.now())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forget `subject`'s events in `bucket` (the account's owner proved who they are).
    pub async fn forget_events(&self, bucket: &str, subject: &str) -> Result<()> {
        crate::db::on!(&self.lease_pool, ex => sqlx::query(
            "DELETE FROM limit_events WHERE bucket = $1 AND subject = $2",
        )
        .bind(bucket)
        .bind(subject)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Drop events from before `before` (no limit looks back that far).
    pub async fn purge_events(&self, before: i64) -> Result<u64> {
        Ok(crate::db::on!(&self.lease_pool, ex => sqlx::query(
            "DELETE FROM limit_events WHERE at < $1",
        )
        .bind(before)
        .execute(ex).await.map(|r| r.rows_affected()))?)
    }
}
