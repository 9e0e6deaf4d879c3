//! Signed checkpoints of the audit chain, made every `audit.checkpoint_minutes` when the
//! chain has grown, appended to `audit.checkpoint_file` (fsync'd) and logged (for the
//! SIEM), with a key that is not in the database (see `veilpost_store::checkpoint`).
//! `veilpost audit verify --checkpoints FILE` holds the chain against them.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use veilpost_store::checkpoint::CheckpointKey;

use super::Shared;

/// Make checkpoints until the process ends; the first right away.
pub async fn run(shared: Arc<Shared>, key: CheckpointKey) {
    let minutes = shared.config.audit.checkpoint_minutes;
    if minutes == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(minutes.saturating_mul(60)));
    let mut last: Option<(i64, String)> = None;
    loop {
        tick.tick().await;
        match one(&shared, &key, last.as_ref()).await {
            Ok(Some(head)) => last = Some(head),
            Ok(None) => {}
            Err(e) => tracing::error!("audit checkpoint: {e:#}"),
        }
    }
}

/// A checkpoint of the head unless it is `last`; the head it signed.
async fn one(
    shared: &Shared,
    key: &CheckpointKey,
    last: Option<&(i64, String)>,
) -> Result<Option<(i64, String)>> {
    let Some(head) = shared.store.audit_head().await? else {
        return Ok(None);
    };
    if last == Some(&head) {
        return Ok(None);
    }
    let checkpoint = key.sign(head.0, &head.1, shared.store.now());
    let line = checkpoint.to_line();
    let path = shared.config.checkpoint_file();
    let write = {
        let path = path.clone();
        let line = line.clone();
        move || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            writeln!(f, "{line}")?;
            f.sync_all()
        }
    };
    tokio::task::spawn_blocking(write)
        .await?
        .with_context(|| format!("cannot append to {}", path.display()))?;
    super::syslog::checkpoint(shared, &checkpoint).await;
    tracing::info!(
        target: "veilpost::audit",
        entry = checkpoint.entry,
        hash = %checkpoint.hash,
        signature = %checkpoint.signature,
        "audit checkpoint"
    );
    Ok(Some(head))
}
