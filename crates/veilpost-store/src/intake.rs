//! The secure contact form: a patient's address confirmed with a code, then one message.

use sqlx::FromRow;

use crate::vault::token_hash;
use crate::{Result, Store, hex, random, random_token};

/// One use of the secure contact form.
#[derive(Debug, Clone, FromRow)]
pub struct Intake {
    pub id: String,
    pub email: String,
    pub login: String,
    pub login_version: i64,
    pub session_hash: Option<String>,
    pub csrf: Option<String>,
    pub created_at: i64,
    pub verified_at: Option<i64>,
    pub submitted_at: Option<i64>,
}

impl Store {
    /// Begin a contact-form use for `email` with this login state; its id.
    pub async fn create_intake(&self, email: &str, login: &str) -> Result<String> {
        let mut raw = [0u8; 16];
        random(&mut raw);
        let id = hex(&raw);
        crate::db::on!(&self.pool, ex => sqlx::query("INSERT INTO intake (id, email, login, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(email)
            .bind(login)
            .bind(self.now())
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(id)
    }

    /// A contact-form use by id.
    pub async fn intake(&self, id: &str) -> Result<Option<Intake>> {
        if id.len() != 32 {
            return Ok(None);
        }
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, Intake>(
            "SELECT id, email, login, login_version, session_hash, csrf, created_at, verified_at,
                    submitted_at FROM intake WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(ex).await)?,
        )
    }

    /// Store the login state if unchanged since `version` (see [`Store::save_login`]).
    pub async fn save_intake_login(&self, id: &str, login: &str, version: i64) -> Result<bool> {
        self.save_login_in("intake", id, login, version).await
    }

    /// The address is verified: a browser session begins; (cookie token, CSRF token).
    pub async fn verify_intake(&self, id: &str) -> Result<(String, String)> {
        let token = random_token();
        let csrf = random_token();
        crate::db::on!(&self.pool, ex => sqlx::query("UPDATE intake SET session_hash = $1, csrf = $2, verified_at = $3 WHERE id = $4")
            .bind(token_hash(&token))
            .bind(&csrf)
            .bind(self.now())
            .bind(id)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok((token, csrf))
    }

    /// Forget contact-form uses begun before `cutoff` (the patient's address and login
    /// state, files kept for a fix; what was sent lives on as a message). Returns how
    /// many went.
    pub async fn forget_intakes(&self, cutoff: i64) -> Result<u64> {
        let mut tx = self.pool.write_tx().await?;
        let kept: Vec<String> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT kept_blob FROM intake WHERE created_at < $1 AND kept_blob IS NOT NULL",
        )
        .bind(cutoff)
        .fetch_all(&mut *c).await)?;
        let gone = crate::db::on_tx!(&mut tx, c => sqlx::query("DELETE FROM intake WHERE created_at < $1")
            .bind(cutoff)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        for blob in kept {
            let _ = self.blobs.remove(&blob).await;
        }
        Ok(gone)
    }

    /// Keep a form's files (sealed, written as `blob`) for its next try; the files kept
    /// before go.
    pub async fn keep_intake_files(&self, id: &str, blob: &str, key: &[u8]) -> Result<()> {
        let old = self.take_intake_files(id).await?;
        crate::db::on!(&self.pool, ex => sqlx::query("UPDATE intake SET kept_blob = $1, kept_key = $2 WHERE id = $3")
            .bind(blob)
            .bind(key)
            .bind(id)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        if let Some((old, _)) = old {
            let _ = self.blobs.remove(&old).await;
        }
        Ok(())
    }

    /// The files kept for a form (blob and wrapped key), taken off the form: the caller
    /// reads the blob, then removes it.
    pub async fn take_intake_files(&self, id: &str) -> Result<Option<(String, Vec<u8>)>> {
        let mut tx = self.pool.write_tx().await?;
        let kept: Option<(Option<String>, Option<Vec<u8>>)> = crate::db::on_tx!(&mut tx, c => sqlx::query_as("SELECT kept_blob, kept_key FROM intake WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c).await)?;
        crate::db::on_tx!(&mut tx, c => sqlx::query("UPDATE intake SET kept_blob = NULL, kept_key = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(match kept {
            Some((Some(blob), Some(key))) => Some((blob, key)),
            _ => None,
        })
    }

    /// The message was sent: the form is used up.
    pub async fn intake_submitted(&self, id: &str, message_id: &str) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE intake SET submitted_at = $1, message_id = $2, session_hash = NULL
              WHERE id = $3 AND submitted_at IS NULL",
        )
        .bind(self.now())
        .bind(message_id)
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
