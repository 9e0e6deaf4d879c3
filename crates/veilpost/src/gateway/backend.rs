//! The SMTP server's view of Veilpost: who may relay, logins against the staff accounts
//! (read at every login, so disabling works at once), sender ownership, a per-account
//! hourly limit, and the spool.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_parser::{HeaderName, HeaderValue};
use veilpost_smtp::{Backend, Recipient, Refusal, Transaction};
use veilpost_store::{Envelope, Origin};

use super::Shared;
use crate::config::in_cidr;

#[derive(Clone)]
pub struct SmtpBackend {
    shared: Arc<Shared>,
    sent: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
    /// Shared with the web: the sign-in guard counts SMTP AUTH failures too.
    limits: Arc<Mutex<veilpost_web::Limits>>,
}

impl SmtpBackend {
    pub fn new(shared: Arc<Shared>, limits: Arc<Mutex<veilpost_web::Limits>>) -> SmtpBackend {
        SmtpBackend {
            shared,
            sent: Arc::new(Mutex::new(HashMap::new())),
            limits,
        }
    }

    /// Count one message for `who`; false when over the hourly limit.
    fn within_rate(&self, who: &str) -> bool {
        let limit = self.shared.config.smtp.max_messages_per_hour as usize;
        let Ok(mut sent) = self.sent.lock() else {
            return true;
        };
        let now = Instant::now();
        let q = sent.entry(who.to_ascii_lowercase()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3600))
        {
            q.pop_front();
        }
        if q.len() >= limit {
            return false;
        }
        q.push_back(now);
        true
    }
}

/// The `Received` field Veilpost adds to what it takes in (RFC 5321 §4.4), with the
/// client's HELO name (printable ASCII, at most 100 characters) and address.
pub(super) fn received_field(shared: &Shared, t: &Transaction, peer: SocketAddr) -> String {
    let protocol = match (t.auth_user.is_some(), t.tls) {
        (true, _) => "ESMTPSA",
        (false, true) => "ESMTPS",
        (false, false) => "ESMTP",
    };
    let helo: String = t
        .helo
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(100)
        .collect();
    format!(
        "Received: from {helo} ({ip})\r\n\tby {host} (Veilpost) with {protocol};\r\n\t{date}\r\n",
        ip = peer.ip(),
        host = shared.config.smtp.hostname,
        date = veilpost_text::dates::rfc5322(shared.store.now()),
    )
}

/// The envelope a listener spools a transaction under: addresses normalised, the client
/// and the account (if any) kept.
pub(super) fn envelope_of(t: &Transaction, peer: SocketAddr, origin: Origin) -> Envelope {
    Envelope {
        origin,
        mail_from: veilpost_policy::domain::normalize_address(&t.mail_from),
        rcpt_to: t
            .rcpt_to
            .iter()
            .map(|r| veilpost_policy::domain::normalize_address(r))
            .collect(),
        auth_user: t.auth_user.clone(),
        client_ip: Some(peer.ip().to_string()),
        intent: None,
    }
}

/// Every address a message names as its author (From: and Sender:), in header order;
/// `None` when such a header cannot be read as addresses (fail closed: refused).
/// Display names are not addresses and play no part.
fn header_senders(data: &[u8]) -> Option<Vec<String>> {
    let message = mail_parser::MessageParser::new().parse_headers(data)?;
    let mut senders = Vec::new();
    for header in message.headers() {
        if !matches!(header.name, HeaderName::From | HeaderName::Sender) {
            continue;
        }
        let HeaderValue::Address(list) = &header.value else {
            return None;
        };
        for addr in list.iter() {
            senders.push(addr.address()?.to_string());
        }
    }
    Some(senders)
}

impl SmtpBackend {
    /// An authenticated sender may put only addresses it may use (its own and its
    /// scopes, read now) in From: and Sender:, as for the envelope sender.
    async fn header_senders_allowed(&self, user: &str, data: &[u8]) -> Result<(), Refusal> {
        let account = match self.shared.store.user(user).await {
            Ok(Some(u)) => u,
            Ok(None) => return Err((553, "5.7.1".into(), "Unknown account".into())),
            Err(e) => {
                tracing::warn!("smtp: scope check failed: {e}");
                return Err(temporary("Cannot check the sender now"));
            }
        };
        match header_senders(data) {
            Some(senders) if senders.iter().all(|a| account.may_send_as(a)) => Ok(()),
            Some(_) => Err((
                553,
                "5.7.1".into(),
                "From: names an address this account may not use".into(),
            )),
            None => Err((
                553,
                "5.7.1".into(),
                "From: or Sender: cannot be read as addresses".into(),
            )),
        }
    }
}

fn temporary(text: &str) -> Refusal {
    (451, "4.3.0".into(), text.into())
}

impl Backend for SmtpBackend {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.shared.trusted.iter().any(|net| in_cidr(ip, *net))
    }

    async fn authenticate(&self, user: String, password: String, ip: IpAddr) -> Option<String> {
        let locked = veilpost_web::staff_check(&self.shared.store, &self.limits, &user, ip)
            .await
            .err();
        if let Some(locked) = locked {
            let user = veilpost_store::typed_login_for_log(&user);
            tracing::info!(
                "smtp: login for {user:?} from {ip} refused for {} s after failures",
                locked.retry_after
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            return None;
        }
        let today = time::OffsetDateTime::now_utc().date();
        match self
            .shared
            .store
            .authenticate(&user, &password, today)
            .await
        {
            // Every sign-in is in the audit log; one that cannot be written is refused.
            Ok(Some(u)) => match self
                .shared
                .store
                .audit_event(veilpost_store::AuditEvent {
                    actor: "smtp".into(),
                    action: "smtp.login".into(),
                    subject: Some(u.email.clone()),
                    detail: None,
                    ip: Some(ip.to_string()),
                    outcome: Some("ok".into()),
                })
                .await
            {
                Ok(_) => Some(u.email),
                Err(e) => {
                    tracing::error!("smtp: login of {} not audited, refused: {e}", u.email);
                    None
                }
            },
            Ok(None) => {
                if let Err(e) =
                    veilpost_web::staff_failed(&self.shared.store, &self.limits, &user, ip).await
                {
                    tracing::warn!("smtp: failed login not counted: {e}");
                }
                let user = veilpost_store::typed_login_for_log(&user);
                tracing::info!("smtp: failed login for {user:?} from {ip}");
                let _ = self
                    .shared
                    .store
                    .audit("smtp", "login.failed", Some(&user), Some(&ip.to_string()))
                    .await;
                // Slow down guessing.
                tokio::time::sleep(Duration::from_millis(500)).await;
                None
            }
            Err(e) => {
                tracing::warn!("smtp: login check failed: {e}");
                None
            }
        }
    }

    async fn sender_allowed(&self, user: String, mail_from: String) -> bool {
        // Read at every MAIL: a scope taken away works at once.
        match self.shared.store.user(&user).await {
            Ok(Some(u)) => u.may_send_as(&mail_from),
            Ok(None) => false,
            Err(e) => {
                tracing::warn!("smtp: scope check failed: {e}");
                false
            }
        }
    }

    async fn recipient(&self, address: String) -> Recipient {
        // One spelling before any decision: `Oud@Praktijk.NL.` is a leaver too.
        let address = veilpost_policy::domain::normalize_address(&address);
        let domain = veilpost_policy::domain::domain_of(&address);
        if !self.shared.config.is_own_domain(&domain) {
            return Recipient::Accept;
        }
        let successor = match self.shared.store.leaver(&address).await {
            Ok(None) => return Recipient::Accept,
            Ok(Some(s)) => s,
            Err(e) => {
                tracing::warn!("smtp: leaver check failed: {e}");
                return Recipient::Refuse(temporary("Cannot check the recipient now"));
            }
        };
        let config = &self.shared.config;
        let answer = match self.shared.leaver_answer().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("smtp: policy read failed: {e}");
                return Recipient::Refuse(temporary("Cannot check the recipient now"));
            }
        };
        if answer == "forward"
            && let Some(to) = successor
        {
            let _ = self
                .shared
                .store
                .audit("smtp", "mail.forwarded", Some(&address), Some(&to))
                .await;
            return Recipient::Forward(to);
        }
        let _ = self
            .shared
            .store
            .audit(
                "smtp",
                "mail.refused",
                Some(&address),
                Some("left the organisation"),
            )
            .await;
        let general = config.general_address();
        Recipient::Refuse((
            550,
            "5.1.1".into(),
            format!(
                "{address} werkt niet meer bij {org}; schrijf naar {general} / no longer works here, please write to {general}",
                org = config.organisation.name
            ),
        ))
    }

    async fn deliver(&self, t: Transaction, peer: SocketAddr) -> Result<String, Refusal> {
        let started = std::time::Instant::now();
        let id = self.take(t, peer).await?;
        super::metrics::accepted("submission", started.elapsed());
        Ok(id)
    }
}

impl SmtpBackend {
    /// Check a submitted or relayed message and spool it: its id once it is durable.
    async fn take(&self, t: Transaction, peer: SocketAddr) -> Result<String, Refusal> {
        if let Some(user) = &t.auth_user {
            self.header_senders_allowed(user, &t.data).await?;
        }
        // Per account; mail relayed by the organisation's own server counts per sender
        // address, so one runaway mailbox does not stop the whole practice.
        let who = t.auth_user.clone().unwrap_or_else(|| t.mail_from.clone());
        if !self.within_rate(&who) {
            return Err((
                451,
                "4.7.1".into(),
                "Too many messages this hour, try again later".into(),
            ));
        }
        let received = received_field(&self.shared, &t, peer);
        let mut data = Vec::with_capacity(received.len() + t.data.len());
        data.extend_from_slice(received.as_bytes());
        data.extend_from_slice(&t.data);
        let origin = if t.auth_user.is_some() {
            Origin::Submission
        } else {
            Origin::Relay
        };
        let envelope = envelope_of(&t, peer, origin);
        match self.shared.store.spool(envelope, data).await {
            Ok(id) => {
                self.shared.wake_processor.notify_one();
                tracing::info!(
                    queue_id = %id,
                    message_id = veilpost_store::header_message_id(&t.data).as_deref(),
                    from = %t.mail_from,
                    recipients = t.rcpt_to.len(),
                    "accepted"
                );
                Ok(id)
            }
            Err(e) => {
                tracing::error!("spool: {e}");
                Err(temporary("Temporary storage failure, try again later"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::header_senders;

    #[test]
    fn author_addresses_from_the_headers() {
        let table: &[(&str, Option<&[&str]>)] = &[
            ("From: ann@o.test\r\n\r\nx", Some(&["ann@o.test"])),
            (
                "From: Dokter Ann <ann@o.test>\r\n\r\nx",
                Some(&["ann@o.test"]),
            ),
            (
                "From: \"ann@o.test\" <ceo@o.test>\r\n\r\n",
                Some(&["ceo@o.test"]),
            ),
            (
                "From: a@o.test, b@o.test\r\n\r\n",
                Some(&["a@o.test", "b@o.test"]),
            ),
            (
                "From: a@o.test\r\nFrom: c@o.test\r\n\r\n",
                Some(&["a@o.test", "c@o.test"]),
            ),
            (
                "From: a@o.test\r\nSender: s@o.test\r\n\r\n",
                Some(&["a@o.test", "s@o.test"]),
            ),
            (
                "From: Team: a@o.test, b@o.test;\r\n\r\n",
                Some(&["a@o.test", "b@o.test"]),
            ),
            ("Subject: no author\r\n\r\nx", Some(&[])),
            ("From: Ann Jansen\r\n\r\n", None),
        ];
        for (data, want) in table {
            let got = header_senders(data.as_bytes());
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{data:?}");
        }
    }
}
