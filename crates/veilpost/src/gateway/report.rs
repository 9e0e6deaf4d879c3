//! The report address (`inbound.phishing_address`, default `phishing@` the first domain;
//! issue 18, point 6). Staff forward suspicious mail there, as an attachment, an abuse
//! report (ARF) or inline; Veilpost keeps the report sealed, reads what it says about the
//! original ([`veilpost_verdict::report`]), links it by Message-ID to the inbound message
//! it came as, shows it on the administrators' triage page, and thanks the reporter.
//!
//! Reports are taken from the organisation's own staff only: an authenticated submission
//! (or the organisation's mail server relaying for a staff address), or inbound mail from
//! a staff address that passed DMARC for our domain. Anything else sent there is not a
//! report: it is audited and goes no further.

use std::sync::Arc;

use anyhow::Result;
use veilpost_store::{
    AuditEvent, NewReport, Origin, Processed, Received, RecipientDecision, RecipientState, Route,
};
use veilpost_text::mails;

use super::Shared;
use super::processor::domain_of;

/// Is `address` the report address?
fn is_report_address(shared: &Shared, address: &str) -> bool {
    address.eq_ignore_ascii_case(&shared.config.phishing_address())
}

/// The account a message to the report address speaks for, if it is one of our staff.
async fn reporter(shared: &Shared, m: &Received, raw: &[u8]) -> Result<Option<String>> {
    let claimed = match m.origin {
        Origin::Submission | Origin::Relay => m.auth_user.clone().unwrap_or(m.mail_from.clone()),
        Origin::Inbound => {
            // From outside the submission port: only with our domain's DMARC pass, in
            // the Authentication-Results we wrote ourselves (forged ones were removed).
            let ours = veilpost_verdict::headers::first_value(raw, "Authentication-Results")
                .unwrap_or_default()
                .to_ascii_lowercase();
            let from = veilpost_verdict::gather(raw).from;
            let passed = ours.starts_with(&shared.config.authserv_id().to_ascii_lowercase())
                && ours.contains("dmarc=pass")
                && shared.config.is_own_domain(&domain_of(&from));
            if !passed {
                return Ok(None);
            }
            from
        }
        _ => return Ok(None),
    };
    Ok(shared
        .store
        .user(&claimed)
        .await?
        .filter(|u| !u.disabled)
        .map(|u| u.email))
}

/// Take a message to the report address as a report. `Ok(true)`: it was for the report
/// address only and is finished here; `Ok(false)`: it goes on through processing as well
/// (other recipients, or none of them the report address).
pub(super) async fn intake(shared: &Arc<Shared>, m: &Received) -> Result<bool> {
    let to_us = m
        .recipients
        .iter()
        .filter(|(_, a)| is_report_address(shared, a))
        .count();
    if to_us == 0 {
        return Ok(false);
    }
    let store = &shared.store;
    let raw = store.read_blob(&m.blob).await?;
    let id = veilpost_store::vault::short_id();
    match reporter(shared, m, &raw).await? {
        Some(who) => {
            let said = veilpost_verdict::report::reported(&raw);
            let found = match &said.message_id {
                Some(mid) => store.inbound_by_message_id(mid).await?,
                None => None,
            };
            // The verdict as the report shows it, or as we gave it when the mail came in.
            let (linked, given) = found.unzip();
            let verdict = said.verdict.clone().or(given.flatten());
            let sealed = shared.master_key.seal(&format!("report:{id}"), &raw)?;
            let blob = store.blobs().write(sealed.ciphertext).await?;
            store
                .add_report(
                    &id,
                    &NewReport {
                        reporter: who.clone(),
                        shape: said.shape.as_str().into(),
                        original_id: said.message_id.clone(),
                        sender: said.from.clone(),
                        verdict,
                        linked_message: linked,
                        blob,
                        sealed_key: sealed.wrapped_key,
                    },
                )
                .await?;
            audit(
                shared,
                m,
                &who,
                "report.received",
                &id,
                said.from.as_deref(),
            )
            .await?;
            thank(shared, &who, said.subject.as_deref()).await?;
            tracing::info!("phishing report {id} from {who}");
        }
        None => {
            let who = m.auth_user.clone().unwrap_or(m.mail_from.clone());
            audit(
                shared,
                m,
                &who,
                "report.refused",
                &id,
                Some("not from staff"),
            )
            .await?;
            tracing::warn!("mail to the report address from {who} is not a staff report");
        }
    }
    finished_if_only(shared, m, to_us, "phishing report").await
}

/// A message Veilpost took for itself (a report): when `taken` is every recipient, mark
/// it processed (every recipient done, nothing sent on, `reason` in the trace) and say
/// `true`; otherwise it goes on through processing for the others (`false`).
pub(super) async fn finished_if_only(
    shared: &Shared,
    m: &Received,
    taken: usize,
    reason: &str,
) -> Result<bool> {
    if taken < m.recipients.len() {
        return Ok(false);
    }
    shared
        .store
        .finish_processing(
            &m.id,
            Processed {
                verdict: "report".into(),
                findings: serde_json::json!([]),
                decisions: m
                    .recipients
                    .iter()
                    .map(|(rid, _)| RecipientDecision {
                        recipient_id: *rid,
                        route: Route::Plain,
                        reasons: vec![reason.into()],
                        state: RecipientState::Delivered,
                        blob: None,
                    })
                    .collect(),
                ..Processed::default()
            },
        )
        .await?;
    Ok(true)
}

async fn audit(
    shared: &Shared,
    m: &Received,
    who: &str,
    action: &str,
    id: &str,
    detail: Option<&str>,
) -> Result<()> {
    shared
        .store
        .audit_event(AuditEvent {
            actor: who.to_string(),
            action: action.into(),
            subject: Some(format!("report {id}")),
            detail: detail.map(str::to_string),
            ip: m.client_ip.clone(),
            outcome: Some(
                if action == "report.received" {
                    "kept"
                } else {
                    "refused"
                }
                .into(),
            ),
        })
        .await?;
    Ok(())
}

/// A short thank-you to the reporter's mailbox.
async fn thank(shared: &Arc<Shared>, to: &str, subject: Option<&str>) -> Result<()> {
    let notify_from = shared.config.notify_from();
    let from = mails::From {
        organisation: &shared.config.organisation.name,
        address: &notify_from,
    };
    let raw = mails::report_thanks(&from, to, subject.unwrap_or(""))?;
    super::inbound::to_staff_mailbox(shared, to, &raw).await
}
