//! The spool: a message is stored (content and rows committed, a large message's blob
//! fsync'd first) before the SMTP server answers 250.

use crate::blob::INLINE_MAX;
use crate::messages::NewMessage;
use crate::{Blobs, Envelope, Error, Result, Store, new_id};

impl Store {
    /// Store a received message durably; returns its id. When this returns `Ok`, the
    /// message survives a crash.
    pub async fn spool(&self, envelope: Envelope, data: Vec<u8>) -> Result<String> {
        if envelope.rcpt_to.is_empty() {
            return Err(Error::Invalid("no recipients".into()));
        }
        let size = data.len();
        let header_message_id = crate::messages::header_message_id(&data);
        // Content that fits is kept in the database, made durable by the group commit's
        // one fsync with the rows; larger content is a blob of its own, durable first.
        let (blob, inline) = if size <= INLINE_MAX && matches!(self.blobs, Blobs::Dir(_)) {
            (format!("{}.i", new_id()), Some(data))
        } else {
            (self.blobs.write(data).await?, None)
        };
        // Processing reads it back in a moment, and delivery after that.
        let recent = inline.as_deref().map(std::sync::Arc::<[u8]>::from);
        let id = new_id();
        self.committer
            .spool(NewMessage {
                id: id.clone(),
                envelope,
                size,
                blob: blob.clone(),
                header_message_id,
                inline,
            })
            .await?;
        if let Some(content) = recent {
            self.recent.keep(&blob, content);
        }
        Ok(id)
    }

    /// How many messages are waiting to be processed, and recipients waiting for delivery.
    pub async fn backlog(&self) -> Result<(i64, i64)> {
        let (m,): (i64,) = crate::db::on!(&self.pool, ex => sqlx::query_as("SELECT count(*) FROM messages WHERE state != 'processed'")
                .fetch_one(ex).await)?;
        let (r,): (i64,) = crate::db::on!(&self.pool, ex => sqlx::query_as("SELECT count(*) FROM recipients WHERE state IN ('new', 'queued')")
                .fetch_one(ex).await)?;
        Ok((m, r))
    }
}
