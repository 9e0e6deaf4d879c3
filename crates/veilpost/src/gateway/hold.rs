//! The double-check at the gateway: gather what the rules need (which outside recipients
//! are known, the domains of contacts and partners, how many outside addresses every
//! recipient sees), ask the pure rules (`veilpost_policy::doublecheck`), and when one
//! holds, keep the message and mail its sender a link to confirm or cancel.

use std::collections::HashSet;

use anyhow::Result;
use veilpost_policy::doublecheck::{Hold, Outgoing, Rules, check};
use veilpost_store::vault::{new_token, token_hash};
use veilpost_store::{AuditEvent, Origin, Received};
use veilpost_text::Lang;
use veilpost_text::mails;

use super::Shared;
use super::processor::{domain_of, generated_mail};

/// Outside addresses in the To and Cc fields (what every recipient sees).
fn visible_outside(shared: &Shared, raw: &[u8]) -> usize {
    let Some(m) = mail_parser::MessageParser::new().parse_headers(raw) else {
        return 0;
    };
    [m.to(), m.cc()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .filter(|a| !shared.config.is_own_domain(&domain_of(a)))
        .count()
}

/// Run the double-check rules; when one holds, keep the message and mail its sender a
/// confirm/cancel link. True when held.
pub(super) async fn double_check(
    shared: &Shared,
    m: &Received,
    message: &[u8],
    sensitive: bool,
) -> Result<bool> {
    let rules = shared.doublecheck_rules().await?;
    if m.mail_from.is_empty()
        || !(rules.new_recipient || rules.look_alike || rules.many_visible > 0 || rules.free_mail)
    {
        return Ok(false);
    }
    let facts = gather(shared, &rules, m, message).await?;
    let holds = check(
        &rules,
        &Outgoing {
            recipients: &facts.outside,
            visible: facts.visible,
            sensitive,
        },
        |a| facts.known.contains(&a.to_lowercase()),
        &facts.known_domains,
    );
    if holds.is_empty() {
        return Ok(false);
    }
    let subject = super::processor::subject_field(message)
        .map(|(s, _)| s)
        .unwrap_or_default();
    hold(shared, m, &subject, &holds).await?;
    Ok(true)
}

/// What the rules need to know about a message's outside recipients.
struct Facts {
    /// The recipients outside the organisation's domains.
    outside: Vec<String>,
    /// Outside addresses every recipient sees (To and Cc).
    visible: usize,
    /// Outside recipients written to before (lower case).
    known: HashSet<String>,
    /// Domains of contacts and partners (what a look-alike resembles).
    known_domains: Vec<String>,
}

/// Ask the store only for what the enabled rules need.
async fn gather(shared: &Shared, rules: &Rules, m: &Received, message: &[u8]) -> Result<Facts> {
    let outside: Vec<String> = m
        .recipients
        .iter()
        .map(|(_, a)| a.clone())
        .filter(|a| !shared.config.is_own_domain(&domain_of(a)))
        .collect();
    let mut known_domains = Vec::new();
    if rules.look_alike {
        known_domains = shared.store.address_book_domains().await?.to_vec();
        let live = shared.live();
        known_domains.extend(live.policy.partner_domains.iter().cloned());
        known_domains.extend(live.policy.zip_domains.iter().cloned());
    }
    // Whether an address is known matters for the new-recipient rule, and for a look-alike
    // (a confirmed look-alike is not held again): ask the store only then.
    let mut known = HashSet::new();
    for a in &outside {
        let domain = domain_of(a);
        let matters = rules.new_recipient
            || (rules.look_alike
                && veilpost_policy::doublecheck::look_alike(&domain, &known_domains).is_some());
        if matters && shared.store.known_recipient(a).await? {
            known.insert(a.to_lowercase());
        }
    }
    let visible = if rules.many_visible > 0 {
        visible_outside(shared, message)
    } else {
        0
    };
    Ok(Facts {
        outside,
        visible,
        known,
        known_domains,
    })
}

/// Hold the message, audit it, and queue the sender's notice with the confirm/cancel link
/// (the hold is undone when the notice cannot be queued).
async fn hold(shared: &Shared, m: &Received, subject: &str, holds: &[Hold]) -> Result<()> {
    let lines: Vec<(String, String)> = holds
        .iter()
        .map(|h| (h.describe(Lang::Nl), h.describe(Lang::En)))
        .collect();
    let token = new_token();
    let link = format!(
        "{}/h/{token}",
        shared.config.web.public_url.trim_end_matches('/')
    );
    let notify_from = shared.config.notify_from();
    let from = mails::From {
        organisation: &shared.config.organisation.name,
        address: &notify_from,
    };
    let raw = mails::hold_notice(&from, &m.mail_from, subject, &lines, &link)?;
    // Held and audited before the notice exists, so its link never finds a message that
    // is not held yet; if the notice cannot be queued, the hold is undone and the message
    // processed again later (it is never left held without the sender knowing).
    let reasons = serde_json::to_string(holds)?;
    shared
        .store
        .hold_message(&m.id, &token_hash(&token), &reasons)
        .await?;
    shared
        .store
        .audit_event(AuditEvent {
            actor: m.auth_user.clone().unwrap_or_else(|| m.mail_from.clone()),
            action: "doublecheck.held".into(),
            subject: Some(format!("message {}", m.id)),
            detail: Some(reasons),
            ip: m.client_ip.clone(),
            outcome: Some("held".into()),
        })
        .await?;
    let queued =
        match generated_mail(shared, raw, String::new(), &m.mail_from, Origin::Portal).await {
            Ok(g) => shared
                .store
                .enqueue_generated(g)
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
    if let Err(e) = queued {
        shared.store.unhold(&m.id).await?;
        return Err(e);
    }
    shared.wake_delivery.notify_one();
    tracing::info!("message {} held for the sender's confirmation", m.id);
    Ok(())
}
