//! The portal handoff: a message sealed for one recipient and stored in the vault, its
//! subject sealed apart for the sender's list, and the branded notification queued, saying
//! who it is from (a colleague, an outsider's reply, the contact form). Also the internal
//! link's vault entry, which gets no notification.

use anyhow::Result;
use veilpost_policy::Intent;
use veilpost_store::vault::{VaultEntry, new_token, short_id, token_hash};
use veilpost_store::{Origin, Processed, Received};
use veilpost_text::mails;

use super::Shared;
use super::processor::{domain_of, generated_mail, subject_field};

/// A reply an outside recipient wrote in the portal (or a contact-form message): its
/// "sender" is outside, so it gets
/// no confirmation, access code or read receipt (staff replying in the portal do).
pub(super) fn outside_reply(shared: &Shared, m: &Received) -> bool {
    (matches!(m.origin, Origin::Reply | Origin::Intake))
        && !shared.config.is_own_domain(&domain_of(&m.mail_from))
}

/// Store the message encrypted for `recipient`, queue the notification, and say what the
/// sender's confirmation should tell about this recipient.
pub(super) async fn portal_handoff(
    shared: &Shared,
    m: &Received,
    message: &[u8],
    recipient: &str,
    phone: Option<String>,
    intent: &Intent,
    processed: &mut Processed,
) -> Result<mails::Confirmed> {
    let (confirmed, _) = vault_handoff(
        shared, m, message, recipient, phone, intent, false, processed,
    )
    .await?;
    Ok(confirmed)
}

/// Store the message encrypted for `recipient`; with `notify` a notification mail goes
/// to them (the portal route), without it the caller puts the link in what it delivers
/// (internal links: a colleague opens it with an e-mailed code). Returns what the sender's
/// confirmation says, and the link.
#[allow(clippy::too_many_arguments)]
pub(super) async fn vault_handoff(
    shared: &Shared,
    m: &Received,
    message: &[u8],
    recipient: &str,
    phone: Option<String>,
    intent: &Intent,
    internal: bool,
    processed: &mut Processed,
) -> Result<(mails::Confirmed, String)> {
    let upload = intent.upload;
    let factors = &shared.config.portal.factors;
    let allows = |f: &str| factors.iter().any(|x| x == f);
    let own = shared.config.is_own_domain(&domain_of(recipient));
    let is_reply = outside_reply(shared, m);
    let phone = phone.filter(|_| allows("sms"));
    // An access code only makes sense where a sender can pass it on.
    let access_code = (allows("access_code") && !is_reply && !internal)
        .then(|| veilpost_portal::login::make_access_code(veilpost_store::random_u32));
    let mut salt = [0u8; 16];
    veilpost_store::random(&mut salt);
    let status_token = new_token();
    let id = short_id();
    let token = new_token();
    let sealed = shared.master_key.seal(&id, message)?;
    let id_for_subject = id.clone();
    let subject = subject_field(message).map(|(s, _)| s).unwrap_or_default();
    let blob = shared.store.blobs().write(sealed.ciphertext).await?;
    let expires_at = shared.store.now() + (shared.config.portal.expiry_days.max(1) * 86_400) as i64;
    let sender = if m.mail_from.is_empty() {
        shared.config.organisation.name.clone()
    } else {
        m.mail_from.clone()
    };
    processed.vault.push(VaultEntry {
        id,
        message_id: m.id.clone(),
        recipient: recipient.to_string(),
        sender: sender.clone(),
        token_hash: token_hash(&token),
        blob,
        wrapped_key: sealed.wrapped_key,
        key_id: sealed.key_id,
        expires_at,
        phone: phone.clone(),
        access_code: access_code
            .as_deref()
            .map(|c| veilpost_portal::login::StoredCode::new(c, salt).to_json()),
        email_code: allows("email") || own,
        status_token_hash: Some(token_hash(&status_token)),
        read_receipt: shared.config.portal.read_receipt && !is_reply && !internal,
        upload,
        subject: Some(shared.master_key.seal_subject(&id_for_subject, &subject)?),
    });
    let link = format!(
        "{}/p/{token}",
        shared.config.web.public_url.trim_end_matches('/')
    );
    let confirmed = mails::Confirmed {
        recipient: recipient.to_string(),
        status_link: format!(
            "{}/s/{status_token}",
            shared.config.web.public_url.trim_end_matches('/')
        ),
        access_code,
        phone: phone.as_deref().map(veilpost_text::phone::mask),
    };
    if internal {
        return Ok((confirmed, link));
    }
    let notify_from = shared.config.notify_from();
    // An outsider's reply names what it answers (the staff member's own subject); a
    // contact-form message says where it came in. Neither is shown as the organisation's.
    let about = match m.origin {
        Origin::Intake if is_reply => mails::About::ContactForm,
        Origin::Reply if is_reply => mails::About::Reply {
            topic: mails::topic(&subject),
        },
        _ => mails::About::Staff,
    };
    // A staff sender by name where the account has one (a lookup that fails only costs
    // the name); the reference is the one they chose on the web.
    let sender_name = match about {
        mails::About::Staff => match shared.store.user(&sender).await {
            Ok(user) => user.and_then(|u| u.name),
            Err(e) => {
                tracing::warn!("message {}: sender's name: {e}", m.id);
                None
            }
        },
        _ => None,
    };
    let raw = mails::notification(&mails::Notification {
        from: mails::From {
            organisation: &shared.config.organisation.name,
            address: &notify_from,
        },
        brand: &shared.brand,
        sender_name: sender_name.as_deref(),
        reference: intent.reference.as_deref(),
        about,
        sender: &sender,
        recipient,
        link: &link,
        expires_at,
        upload,
    })?;
    let reverse_path = notification_sender(
        &m.mail_from,
        shared.config.is_own_domain(&domain_of(&m.mail_from)),
        &notify_from,
    );
    processed
        .generated
        .push(generated_mail(shared, raw, reverse_path, recipient, Origin::Notification).await?);
    Ok((confirmed, link))
}

/// The envelope sender of a notification: the sender's own address when it is one of
/// the organisation's (bounces go to them), else the organisation's notification address.
/// Never an outsider's address (a portal reply, the contact form): mail we send with their
/// reverse path fails SPF and bounces to them.
fn notification_sender(mail_from: &str, own_domain: bool, notify_from: &str) -> String {
    if own_domain && !mail_from.is_empty() {
        mail_from.to_string()
    } else {
        notify_from.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16, point 13: a notification never leaves with an outsider's reverse path.
    #[test]
    fn notifications_leave_with_the_organisations_envelope_sender() {
        let notify = "noreply@praktijk.test";
        assert_eq!(
            notification_sender("ann@praktijk.test", true, notify),
            "ann@praktijk.test"
        );
        assert_eq!(
            notification_sender("piet@example.net", false, notify),
            notify
        );
        assert_eq!(notification_sender("", true, notify), notify);
    }
}
