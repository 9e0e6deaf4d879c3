//! Audit entries to a SIEM (`audit.syslog`): every entry after the last one shipped, in
//! order, as RFC 5424 messages, once a second; where shipping got to is kept in the
//! settings table, so a restart goes on where it stopped and a receiver that was away
//! gets what it missed. Checkpoints go the same way ([`checkpoint`]).

use std::sync::Arc;
use std::time::Duration;

use veilpost_adapters::syslog::{Record, Sender, format};
use veilpost_store::AuditEntry;
use veilpost_store::checkpoint::Checkpoint;

use super::Shared;

/// Where shipping got to (the last entry sent), in the settings table.
const CURSOR: &str = "audit.syslog.cursor";

/// The syslog sender, when `audit.syslog` is set.
pub fn sender(config: &crate::config::Config) -> Option<tokio::sync::Mutex<Sender>> {
    veilpost_adapters::syslog::Target::parse(&config.audit.syslog)
        .ok()
        .map(|t| tokio::sync::Mutex::new(Sender::new(t)))
}

/// An entry as a syslog record: MSGID the action, every field as a parameter, the detail
/// as text.
fn record<'a>(e: &'a AuditEntry, hash: Option<&str>) -> Record<'a> {
    let mut params = vec![("id", e.id.to_string()), ("actor", e.actor.clone())];
    for (name, value) in [
        ("subject", &e.subject),
        ("ip", &e.ip),
        ("outcome", &e.outcome),
    ] {
        if let Some(v) = value {
            params.push((name, v.clone()));
        }
    }
    if let Some(h) = hash {
        params.push(("hash", h.to_string()));
    }
    Record {
        at: e.at,
        msgid: &e.action,
        params,
        text: e.detail.clone().unwrap_or_default(),
    }
}

fn message(shared: &Shared, e: &AuditEntry, hash: Option<&str>) -> String {
    format(
        &record(e, hash),
        &shared.config.smtp.hostname,
        "veilpost",
        std::process::id(),
    )
}

/// Ship entries until the process ends.
pub async fn run(shared: Arc<Shared>) {
    let Some(sender) = shared.syslog.as_ref() else {
        return;
    };
    let mut cursor = match shared.store.setting(CURSOR).await {
        Ok(Some(v)) => v.parse::<i64>().unwrap_or(0),
        // First time: from the entries written from now on.
        _ => match shared.store.audit_head().await {
            Ok(head) => head.map_or(0, |(id, _)| id),
            Err(e) => {
                tracing::error!("syslog: cannot read the audit log: {e}");
                0
            }
        },
    };
    let mut failing = false;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let batch = match shared.store.audit_since(cursor, 500).await {
            Ok(b) if b.is_empty() => continue,
            Ok(b) => b,
            Err(e) => {
                tracing::error!("syslog: cannot read the audit log: {e}");
                continue;
            }
        };
        let messages: Vec<String> = batch
            .iter()
            .map(|(e, h)| message(&shared, e, h.as_deref()))
            .collect();
        match sender.lock().await.send(&messages).await {
            Ok(()) => {
                if failing {
                    tracing::info!("syslog: sending again");
                    failing = false;
                }
                cursor = batch.last().map_or(cursor, |(e, _)| e.id);
                if let Err(e) = shared
                    .store
                    .put_setting(CURSOR, &cursor.to_string(), "veilpost")
                    .await
                {
                    tracing::warn!("syslog: where shipping got to is not kept: {e}");
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!("syslog: {e}; entries are kept and sent when it answers");
                    failing = true;
                }
            }
        }
    }
}

/// A checkpoint as a syslog message (MSGID `checkpoint`), when syslog is on.
pub async fn checkpoint(shared: &Shared, c: &Checkpoint) {
    let Some(sender) = shared.syslog.as_ref() else {
        return;
    };
    let r = Record {
        at: c.at,
        msgid: "checkpoint",
        params: vec![
            ("entry", c.entry.to_string()),
            ("hash", c.hash.clone()),
            ("signature", c.signature.clone()),
        ],
        text: "audit chain checkpoint".into(),
    };
    let line = format(
        &r,
        &shared.config.smtp.hostname,
        "veilpost",
        std::process::id(),
    );
    if let Err(e) = sender.lock().await.send(&[line]).await {
        tracing::warn!("syslog: checkpoint not sent: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_carries_every_field() {
        let e = AuditEntry {
            id: 9,
            at: 0,
            actor: "ann@praktijk.nl".into(),
            action: "message.revoked".into(),
            subject: Some("b@x.nl".into()),
            detail: Some("portal message 7".into()),
            ip: None,
            outcome: Some("ok".into()),
        };
        let r = record(&e, Some("ab"));
        let names: Vec<&str> = r.params.iter().map(|p| p.0).collect();
        assert_eq!(names, ["id", "actor", "subject", "outcome", "hash"]);
        assert_eq!(r.text, "portal message 7");
    }
}
