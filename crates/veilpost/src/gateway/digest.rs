//! The daily quarantine digest (issue 18, point 5): once a day at `inbound.digest_hour`
//! (Dutch time) everyone with quarantined mail waiting gets a list of it (sender, time,
//! why; never a subject) with the way to the quarantine page; administrators get all of
//! it, on their mailboxes through the organisation's mail server.
//!
//! Whether it is time is decided in pure code ([`due`]); the day it last went is kept in
//! the settings table, so a restart does not send it twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use veilpost_store::Role;
use veilpost_text::mails;

use super::Shared;

/// The settings key of the day the digest last went (`2026-12-03`).
const LAST_SENT: &str = "quarantine.digest_day";

/// Today's date (Dutch time) when the digest is due now: at or after `hour` o'clock and
/// not yet sent today. A negative hour: never.
pub(super) fn due(now: i64, hour: i32, last_sent: Option<&str>) -> Option<String> {
    let t = veilpost_text::dates::dutch(now)?;
    if hour < 0 || i32::from(t.hour()) < hour {
        return None;
    }
    let today = format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
    (last_sent != Some(today.as_str())).then_some(today)
}

/// Send the digest if it is due; nothing happens without an inbound relay (nothing can
/// be quarantined then) or when nothing waits.
pub(super) async fn run_if_due(shared: &Arc<Shared>) -> Result<()> {
    let config = &shared.config;
    if config.inbound.relay_to.is_empty() {
        return Ok(());
    }
    let store = &shared.store;
    let last = store.setting(LAST_SENT).await?;
    let Some(today) = due(store.now(), config.inbound.digest_hour, last.as_deref()) else {
        return Ok(());
    };
    let held = store.held_inbound(1000).await?;
    if !held.is_empty() {
        send(shared, &held).await?;
    }
    store.put_setting(LAST_SENT, &today, "veilpost").await?;
    Ok(())
}

async fn send(shared: &Arc<Shared>, held: &[veilpost_store::Held]) -> Result<()> {
    let store = &shared.store;
    let words = |names: &[String], lang| -> String {
        let mut w: Vec<&str> = names
            .iter()
            .map(|n| veilpost_web::labels::finding(lang, n))
            .collect();
        w.dedup();
        w.join("; ")
    };
    let item = |h: &veilpost_store::Held| {
        let names: Vec<String> = h
            .held_reasons
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        mails::Waiting {
            sender: h.mail_from.clone(),
            received: veilpost_text::dates::when(h.received_at, true),
            why_nl: words(&names, veilpost_text::Lang::Nl),
            why_en: words(&names, veilpost_text::Lang::En),
        }
    };
    // Who waits for what: recipients who are staff, and every administrator for all.
    let users: Vec<_> = store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .collect();
    let mut lists: BTreeMap<String, Vec<mails::Waiting>> = BTreeMap::new();
    let mut for_whom: std::collections::HashSet<(String, String)> = store
        .quarantine_recipients()
        .await?
        .into_iter()
        .map(|(id, a)| (id, a.to_ascii_lowercase()))
        .collect();
    for h in held {
        for u in &users {
            let key = (h.id.clone(), u.email.to_ascii_lowercase());
            if u.role == Role::Admin || for_whom.remove(&key) {
                lists.entry(u.email.clone()).or_default().push(item(h));
            }
        }
    }
    let notify_from = shared.config.notify_from();
    let from = mails::From {
        organisation: &shared.config.organisation.name,
        address: &notify_from,
    };
    let link = format!(
        "{}/quarantine",
        shared.config.web.public_url.trim_end_matches('/')
    );
    for (to, waiting) in &lists {
        let raw = mails::quarantine_digest(&from, to, waiting, &link)?;
        super::inbound::to_staff_mailbox(shared, to, &raw).await?;
    }
    tracing::info!(
        "quarantine digest: {} waiting, sent to {} people",
        held.len(),
        lists.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_due_once_a_day_from_its_hour_in_dutch_time() {
        // 3 December 2026, 06:59 and 07:00 UTC = 07:59 and 08:00 in the Netherlands (CET).
        let before = 1_796_281_140;
        let at = before + 60;
        assert_eq!(due(before, 8, None), None);
        assert_eq!(due(at, 8, None).as_deref(), Some("2026-12-03"));
        assert_eq!(
            due(at, 8, Some("2026-12-02")).as_deref(),
            Some("2026-12-03")
        );
        assert_eq!(due(at, 8, Some("2026-12-03")), None);
        // Later that day it is still due if it has not gone (the gateway was down at 8).
        assert_eq!(
            due(at + 5 * 3600, 8, Some("2026-12-02")).as_deref(),
            Some("2026-12-03")
        );
        // Off.
        assert_eq!(due(at, -1, None), None);
        // Summer time: 1 July 2026 06:00 UTC = 08:00 CEST.
        assert_eq!(due(1_782_885_600, 8, None).as_deref(), Some("2026-07-01"));
        assert_eq!(due(1_782_885_600 - 60, 8, None), None);
    }
}
