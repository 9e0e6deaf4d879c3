//! Processing of spooled messages: scan, decide per recipient, transform (strip the secure
//! tag, DKIM-sign), and hand off: queue for delivery, store encrypted for the portal with a
//! notification, or refuse with a report to the sender. Everything a message leads to is
//! committed in one transaction; a crash before that commit means the message is processed
//! again after its lease.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use base64::Engine;
use tracing::Instrument;
use veilpost_dlp::{Reason, Verdict};
use veilpost_policy::plan::{self, Plan};
use veilpost_policy::{Intent, Recipient, Route, Scan, SecureTransport};
use veilpost_store::{
    AuditEvent, Envelope, Generated, Origin, Processed, Received, RecipientDecision,
    RecipientState, Route as StoredRoute,
};

use super::handoff::{outside_reply, portal_handoff, vault_handoff};
use super::{Shared, facts, hold, zipped};
use veilpost_text::mails::{self, DsnKind};

/// Messages taken from the spool at once: a claim is a write transaction, so the
/// processor takes a batch and works it off as slots free up, instead of one claim (and
/// one wait for SQLite's write lock) per message.
const BATCH: i64 = 64;

/// Messages in processing at once: most of a message's time is waiting for fsync, so
/// many are in flight while scans and signatures (CPU) are limited to the cores.
const IN_FLIGHT: usize = 64;

/// Process spooled messages until the process ends: a steady pipeline, each finished
/// message waking the delivery workers. Claimed messages wait in `taken` (held, so their
/// leases are renewed) until a slot is free.
pub async fn run(shared: Arc<Shared>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut taken: std::collections::VecDeque<(Received, super::leases::Holding)> =
        std::collections::VecDeque::new();
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        if taken.is_empty() {
            let lease = shared.config.store.lease_seconds as i64;
            match shared.store.claim_received(BATCH, lease).await {
                Ok(batch) => taken.extend(batch.into_iter().map(|m| {
                    let holding = shared.held.message(&m.id);
                    (m, holding)
                })),
                Err(e) => {
                    tracing::error!("processing queue: {e}");
                    drop(permit);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let Some((m, holding)) = taken.pop_front() else {
            drop(permit);
            let _ = tokio::time::timeout(Duration::from_secs(1), shared.wake_processor.notified())
                .await;
            continue;
        };
        let shared = shared.clone();
        // Every line of the message's processing names it.
        let span = tracing::info_span!(
            "message",
            queue_id = %m.id,
            message_id = m.header_message_id.as_deref(),
            remote = m.client_ip.as_deref(),
        );
        tokio::spawn(
            async move {
                let id = m.id.clone();
                let result = process(&shared, m).await;
                drop(holding);
                if let Err(e) = result {
                    // The lease runs out and the message is tried again.
                    tracing::error!("processing {id}: {e:#}");
                }
                drop(permit);
                shared.wake_delivery.notify_one();
            }
            .instrument(span),
        );
    }
}

/// RFC 2047 encoded-word for a header value when it is not ASCII.
fn encode_header(value: &str) -> String {
    if value.is_ascii() {
        return value.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// The message's subject, and the byte range of the whole Subject field.
pub(super) fn subject_field(raw: &[u8]) -> Option<(String, std::ops::Range<usize>)> {
    let msg = mail_parser::MessageParser::new().parse_headers(raw)?;
    let h = msg
        .headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case("Subject"))?;
    let text = msg.subject().unwrap_or_default().to_string();
    Some((text, h.offset_field() as usize..h.offset_end() as usize))
}

/// The domain of the first From address.
fn from_domain(raw: &[u8]) -> Option<String> {
    let msg = mail_parser::MessageParser::new().parse_headers(raw)?;
    let addr = msg.from()?.first()?.address()?.to_string();
    Some(addr.rsplit_once('@')?.1.to_ascii_lowercase())
}

pub(super) fn domain_of(address: &str) -> String {
    veilpost_policy::domain::domain_of(address)
}

/// The scan in the policy's terms. Each kind names the rule and evidence of its strongest
/// finding (`health [health.person: name+date_of_birth+diagnosis]`), so the trace and the
/// audit entry say why; contact details (phone, e-mail, postcode) only by kind.
fn policy_scan(report: &veilpost_dlp::Report) -> Scan {
    use veilpost_dlp::Kind;
    let mut strongest: std::collections::BTreeMap<&str, &veilpost_dlp::Finding> =
        std::collections::BTreeMap::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.kind != Kind::Uninspectable)
    {
        let entry = strongest.entry(f.kind_name()).or_insert(f);
        if f.confidence > entry.confidence {
            *entry = f;
        }
    }
    let kinds: Vec<String> = strongest
        .into_iter()
        .map(|(name, f)| match f.kind {
            Kind::Phone | Kind::EmailAddress | Kind::PostalAddress => name.to_string(),
            _ if f.evidence.is_empty() => format!("{name} [{}]", f.rule),
            _ => format!("{name} [{}: {}]", f.rule, f.evidence.join("+")),
        })
        .collect();
    Scan {
        sensitive: report.verdict == Verdict::Sensitive
            && report.reasons.iter().any(|r| *r != Reason::Uninspectable),
        uninspectable: report.reasons.contains(&Reason::Uninspectable),
        kinds,
    }
}

async fn process(shared: &Arc<Shared>, m: Received) -> Result<()> {
    // A report to the phishing address is kept for the administrators, not sent on.
    if super::report::intake(shared, &m).await? {
        return Ok(());
    }
    // DMARC and TLS reports are counted for the reports pages, not sent on.
    if super::authreports::intake(shared, &m).await? {
        return Ok(());
    }
    // Mail from outside for the organisation: judged at the listener, relayed or held.
    if m.origin == Origin::Inbound {
        return super::inbound::process(shared, m).await;
    }
    let raw = shared.store.read_blob(&m.blob).await?;
    // The CPU work in one go on a core: the scan (of the message as the sender wrote
    // it), the tags taken out, and the signature of what leaves (unused when the
    // double-check holds the message: then it is made again once confirmed).
    let (origin, given) = (m.origin, given_intent(&m));
    let ((report, scanned, intent, changed, signature), message) =
        on_a_core(shared, raw, move |s, message| {
            let started = std::time::Instant::now();
            let report = s.scanner.scan_message(message);
            let scanned = started.elapsed();
            let (intent, changed) = sender_intent(origin, given, message);
            let signature = signature(s, message);
            (report, scanned, intent, changed, signature)
        })
        .await?;
    super::metrics::scanned(&report, scanned);
    let scan = policy_scan(&report);

    // The double-check: a risky recipient holds the message until the sender confirms.
    if !m.confirmed
        && (matches!(m.origin, Origin::Submission | Origin::Relay))
        && hold::double_check(shared, &m, &message, scan.sensitive || scan.uninspectable).await?
    {
        return Ok(());
    }
    // Confirmed after a hold: its recipients are known from now on.
    if m.confirmed {
        for (_, address) in &m.recipients {
            if !shared.config.is_own_domain(&domain_of(address)) {
                shared.store.remember_contact(address).await?;
            }
        }
    }

    let (out_blob, out_prefix) = outgoing_copy(shared, &message, signature, changed).await?;
    let mut run = Run {
        shared,
        m: &m,
        message: &message,
        facts: plan::MessageFacts {
            scan: &scan,
            intent: &intent,
            from_own_domain: shared.config.is_own_domain(&domain_of(&m.mail_from)),
        },
        settings: plan::Settings {
            internal_links: shared.config.internal_links.enabled,
            internal_min_size: shared.config.internal_links.min_size as u64,
        },
        actor: m
            .auth_user
            .clone()
            .unwrap_or_else(|| format!("relay:{}", m.client_ip.clone().unwrap_or_default())),
        processed: Processed {
            verdict: report.verdict.as_str().to_string(),
            findings: findings_json(&report),
            out_blob,
            out_prefix,
            ..Processed::default()
        },
        confirmations: Vec::new(),
        zip_sent: Vec::new(),
        transports: HashMap::new(),
        zip_parts: None,
    };
    for (rid, address) in &m.recipients {
        run.recipient(*rid, address).await?;
    }
    run.tell_the_sender().await?;
    let processed = run.processed;
    let routes = processed
        .decisions
        .iter()
        .map(|d| d.route.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let chosen: Vec<_> = processed.decisions.iter().map(|d| d.route).collect();
    shared.store.finish_processing(&m.id, processed).await?;
    super::metrics::routed(chosen.into_iter());
    tracing::info!(verdict = report.verdict.as_str(), %routes, "processed");
    Ok(())
}

/// Run CPU-bound work on the message (a scan, an RSA signature: a millisecond or more,
/// which would stall every other task on an async worker) on one of the CPU threads; the
/// message goes there (to be read or changed) and comes back (no copy per message).
async fn on_a_core<T: Send + 'static>(
    shared: &Arc<Shared>,
    mut message: Vec<u8>,
    work: impl FnOnce(&Shared, &mut Vec<u8>) -> T + Send + 'static,
) -> Result<(T, Vec<u8>)> {
    let worker = shared.clone();
    shared
        .cores
        .run(move || (work(&worker, &mut message), message))
        .await
}

/// What the sender asked for, and whether the message changed (tags taken out): the
/// intent handed over as data (web compose), subject tags only in mail the
/// organisation's own people sent (an authenticated submission, or its own server on a
/// trusted network), and the secure route for what outsiders wrote in the portal or the
/// contact form, whose subjects (a name typed in a form) are never read as tags.
fn sender_intent(origin: Origin, given: Intent, message: &mut Vec<u8>) -> (Intent, bool) {
    match origin {
        Origin::Submission | Origin::Relay => match take_intent(message) {
            Some(tagged) => (given.and(tagged), true),
            None => (given, false),
        },
        Origin::Reply | Origin::Intake => (
            given.and(Intent {
                secure: true,
                ..Intent::default()
            }),
            false,
        ),
        Origin::Notification | Origin::Dsn | Origin::Portal | Origin::Inbound => (given, false),
    }
}

/// Subject tags (`[veilig]`, `[sms 06-…]`, `[zip]`, `[upload]`), parsed once into the
/// sender's intent and removed from the message before anyone sees them; `None` when
/// the subject has none (the message is then unchanged).
fn take_intent(message: &mut Vec<u8>) -> Option<Intent> {
    let (subject, range) = subject_field(message)?;
    let (intent, rest) = Intent::from_subject(&subject, veilpost_text::phone::normalize)?;
    let field = format!("Subject: {}\r\n", encode_header(&rest));
    message.splice(range, field.into_bytes());
    Some(intent)
}

/// The intent handed over as data (web compose). One that cannot be read asks for the
/// secure route (fail closed).
fn given_intent(m: &Received) -> Intent {
    match m.intent.as_deref() {
        None => Intent::default(),
        Some(json) => serde_json::from_str(json).unwrap_or_else(|e| {
            tracing::warn!("message {}: unreadable intent ({e}): secure route", m.id);
            Intent {
                secure: true,
                ..Intent::default()
            }
        }),
    }
}

/// The DKIM-Signature header for what plain and TLS deliveries send, when the From
/// domain is one of ours.
fn signature(shared: &Shared, message: &[u8]) -> Option<String> {
    from_domain(message)
        .filter(|d| shared.config.is_own_domain(d))
        .and_then(|d| shared.dkim.signature(&d, message))
}

/// What plain and TLS deliveries send: the message with its signature. Unchanged apart
/// from the signature, the received blob goes with the header in front (no second
/// durable copy); a stripped tag needs a copy of its own.
async fn outgoing_copy(
    shared: &Shared,
    message: &[u8],
    signature: Option<String>,
    changed: bool,
) -> Result<(Option<String>, Option<Vec<u8>>)> {
    Ok(if changed {
        let mut out = signature.unwrap_or_default().into_bytes();
        out.extend_from_slice(message);
        (Some(shared.store.blobs().write(out).await?), None)
    } else {
        (None, signature.map(String::into_bytes))
    })
}

/// The findings as the trace keeps them (never an excerpt).
fn findings_json(report: &veilpost_dlp::Report) -> serde_json::Value {
    serde_json::json!(
        report
            .findings
            .iter()
            .map(|f| serde_json::json!({
                "kind": f.kind_name(),
                "location": f.location,
                "confidence": f.confidence.as_str(),
                "rule": f.rule,
                "evidence": f.evidence,
            }))
            .collect::<Vec<_>>()
    )
}

/// One message's processing: the facts every recipient shares, and what has been done.
struct Run<'a> {
    shared: &'a Shared,
    m: &'a Received,
    message: &'a [u8],
    facts: plan::MessageFacts<'a>,
    settings: plan::Settings,
    actor: String,
    processed: Processed,
    confirmations: Vec<mails::Confirmed>,
    /// Recipients whose ZIP password went by SMS, with the masked number.
    zip_sent: Vec<(String, String)>,
    /// What each domain proves, looked up once per message.
    transports: HashMap<String, Vec<SecureTransport>>,
    /// Taken apart once, when a recipient's plan needs the attachments.
    zip_parts: Option<Option<zipped::Parts>>,
}

impl Run<'_> {
    /// Gather what the plan needs for one recipient, ask it, carry it out.
    async fn recipient(&mut self, rid: i64, address: &str) -> Result<()> {
        let shared = self.shared;
        let domain = domain_of(address);
        let blocked = facts::blocked(shared, &domain);
        let own_domain = shared.config.is_own_domain(&domain);
        let zip_domain = shared
            .live()
            .policy
            .zip_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain));
        let need = plan::needs(
            &self.facts,
            own_domain,
            zip_domain,
            blocked.is_some(),
            &self.settings,
        );
        let attachments = if need.attachments {
            clean_parts(shared, self.message, &mut self.zip_parts)
                .await?
                .map(|p| plan::Attachments {
                    text_clean: true,
                    bytes: p.attachment_bytes() as u64,
                })
        } else {
            None
        };
        let phone = if need.phone {
            recipient_phone(shared, &self.facts.intent.sms, address).await?
        } else {
            None
        };
        let secure = if need.transports {
            self.transports_of(&domain).await
        } else {
            Vec::new()
        };
        let facts = plan::RecipientFacts {
            recipient: Recipient {
                address: address.to_string(),
                secure,
                blocked,
            },
            own_domain,
            zip_domain,
            phone_known: phone.is_some(),
        };
        let decision = match plan::plan(&self.facts, &facts, attachments, &self.settings) {
            Plan::InternalLink => return self.internal_link(rid, address).await,
            Plan::EncryptedAttachment { fallback } => {
                match self
                    .encrypted_attachment(rid, address, phone.as_deref())
                    .await
                {
                    Ok(()) => return Ok(()),
                    // No SMS, no ZIP: the decision instead (the portal; fail closed).
                    Err(e) => {
                        tracing::warn!(
                            "message {} to {address}: encrypted attachment: {e:#}",
                            self.m.id
                        );
                        fallback
                    }
                }
            }
            Plan::Route(decision) => decision,
        };
        self.route(rid, address, decision).await
    }

    async fn transports_of(&mut self, domain: &str) -> Vec<SecureTransport> {
        if let Some(t) = self.transports.get(domain) {
            return t.clone();
        }
        let t = facts::secure_transports(self.shared, domain).await;
        self.transports.insert(domain.to_string(), t.clone());
        t
    }

    /// The whole message stays in the vault; the colleague's mail carries a link.
    async fn internal_link(&mut self, rid: i64, address: &str) -> Result<()> {
        let shared = self.shared;
        let Some(parts) = clean_parts(shared, self.message, &mut self.zip_parts).await? else {
            anyhow::bail!("message {}: the attachments went missing", self.m.id);
        };
        let (_, link) = vault_handoff(
            shared,
            self.m,
            self.message,
            address,
            None,
            &Intent::default(),
            true,
            &mut self.processed,
        )
        .await?;
        let blob = shared
            .store
            .blobs()
            .write(sign_own(shared, parts.rebuild_with_link(&link)?))
            .await?;
        let reasons = vec!["attachments kept in the vault: a link for the colleague".into()];
        own_route(
            &mut self.processed,
            self.m,
            &self.actor,
            (rid, address),
            StoredRoute::InternalLink,
            reasons,
            blob,
        );
        Ok(())
    }

    /// The attachments as one AES-256 ZIP, the password by SMS.
    async fn encrypted_attachment(
        &mut self,
        rid: i64,
        address: &str,
        phone: Option<&str>,
    ) -> Result<()> {
        let shared = self.shared;
        let (Some(phone), Some(parts)) = (
            phone,
            clean_parts(shared, self.message, &mut self.zip_parts).await?,
        ) else {
            anyhow::bail!("the ZIP's facts went missing");
        };
        let blob = encrypted_attachment(shared, self.m, parts, phone).await?;
        let masked = veilpost_text::phone::mask(phone);
        let reasons = vec![format!(
            "sensitive content only in attachments: AES-256 ZIP, password by SMS to {masked}"
        )];
        own_route(
            &mut self.processed,
            self.m,
            &self.actor,
            (rid, address),
            StoredRoute::EncryptedAttachment,
            reasons,
            blob,
        );
        self.zip_sent.push((address.to_string(), masked));
        Ok(())
    }

    /// Carry out a routing decision: queue, hand to the portal, or refuse with a report.
    async fn route(
        &mut self,
        rid: i64,
        address: &str,
        decision: veilpost_policy::Decision,
    ) -> Result<()> {
        let (shared, m) = (self.shared, self.m);
        let mut reasons = decision.reasons.clone();
        if let Some(t) = &decision.transport {
            reasons.push(format!(
                "transport: {}",
                serde_json::to_string(t).unwrap_or_default()
            ));
        }
        let state = match decision.route {
            Route::Plain | Route::Tls => RecipientState::Queued,
            Route::Portal => {
                let phone = recipient_phone(shared, &self.facts.intent.sms, address).await?;
                self.confirmations.push(
                    portal_handoff(
                        shared,
                        m,
                        self.message,
                        address,
                        phone,
                        self.facts.intent,
                        &mut self.processed,
                    )
                    .await?,
                );
                RecipientState::Portal
            }
            Route::Block => {
                if !m.mail_from.is_empty() {
                    let dsn = mails::dsn(&mails::Dsn {
                        kind: DsnKind::Blocked,
                        reporting_mta: &shared.config.smtp.hostname,
                        from: &shared.config.notify_from(),
                        to: &m.mail_from,
                        recipient: address,
                        status: "5.7.1",
                        diagnostic: &decision.reasons.join("; "),
                        original_headers: mails::returnable_headers(self.message),
                        arrival: m.received_at,
                        retry_until: None,
                    })?;
                    self.processed.generated.push(
                        generated_mail(shared, dsn, String::new(), &m.mail_from, Origin::Dsn)
                            .await?,
                    );
                }
                RecipientState::Blocked
            }
        };
        self.processed.decisions.push(RecipientDecision {
            recipient_id: rid,
            route: stored_route(decision.route),
            reasons: reasons.clone(),
            state,
            blob: None,
        });
        self.processed.audit.push(AuditEvent {
            actor: self.actor.clone(),
            action: format!("send.{}", decision.route.as_str()),
            subject: Some(address.to_string()),
            detail: Some(format!("message {}: {}", m.id, reasons.join("; "))),
            ip: m.client_ip.clone(),
            outcome: Some(
                if decision.route == Route::Block {
                    "refused"
                } else {
                    "accepted"
                }
                .into(),
            ),
        });
        Ok(())
    }

    /// The sender learns the message went through the portal, with a status link per
    /// recipient and the access codes to pass on (not for replies: their "sender" is the
    /// outside recipient, and staff read replies with an e-mailed code); and which
    /// numbers got the ZIP passwords.
    async fn tell_the_sender(&mut self) -> Result<()> {
        let (shared, m) = (self.shared, self.m);
        if m.mail_from.is_empty() {
            return Ok(());
        }
        let notify_from = shared.config.notify_from();
        // The sender is told which message (their own subject, tags taken off).
        let subject = subject_field(self.message)
            .map(|(s, _)| s)
            .unwrap_or_default();
        if !self.confirmations.is_empty()
            && shared.config.portal.sender_confirmation
            && !outside_reply(shared, m)
        {
            let from = mails::From {
                organisation: &shared.config.organisation.name,
                address: &notify_from,
            };
            let expires = veilpost_text::dates::when(
                shared.store.now() + (shared.config.portal.expiry_days.max(1) * 86_400) as i64,
                false,
            );
            let raw = mails::sender_confirmation(
                &from,
                &m.mail_from,
                &subject,
                &self.confirmations,
                &expires,
            )?;
            self.processed.generated.push(
                generated_mail(shared, raw, String::new(), &m.mail_from, Origin::Portal).await?,
            );
        }
        if !self.zip_sent.is_empty() {
            let from = mails::From {
                organisation: &shared.config.organisation.name,
                address: &notify_from,
            };
            let raw = mails::zip_confirmation(&from, &m.mail_from, &subject, &self.zip_sent)?;
            self.processed.generated.push(
                generated_mail(shared, raw, String::new(), &m.mail_from, Origin::Portal).await?,
            );
        }
        Ok(())
    }
}

/// A message Veilpost made, DKIM-signed when its From is one of our domains, stored.
pub(super) async fn generated_mail(
    shared: &Shared,
    raw: Vec<u8>,
    mail_from: String,
    to: &str,
    origin: Origin,
) -> Result<Generated> {
    let signed = sign_own(shared, raw);
    let size = signed.len();
    let blob = shared.store.blobs().write(signed).await?;
    Ok(Generated {
        envelope: Envelope {
            origin,
            mail_from,
            rcpt_to: vec![to.to_string()],
            auth_user: None,
            client_ip: None,
            intent: None,
        },
        blob,
        size,
        route: StoredRoute::Plain,
    })
}

/// The message taken apart for the attachment routes, once per message: `None` when it
/// has no attachments or its text without them is not clean.
async fn clean_parts<'a>(
    shared: &Shared,
    message: &[u8],
    cache: &'a mut Option<Option<zipped::Parts>>,
) -> Result<Option<&'a zipped::Parts>> {
    if cache.is_none() {
        let p = zipped::parts(message);
        let clean = match &p {
            Some(p) => p.text_is_clean(shared).await?,
            None => false,
        };
        *cache = Some(p.filter(|_| clean));
    }
    Ok(cache.as_ref().and_then(Option::as_ref))
}

/// DKIM-sign `raw` when its From is one of our domains.
fn sign_own(shared: &Shared, raw: Vec<u8>) -> Vec<u8> {
    from_domain(&raw)
        .filter(|d| shared.config.is_own_domain(d))
        .and_then(|d| shared.dkim.sign(&d, &raw))
        .unwrap_or(raw)
}

/// How the queue keeps a route the policy decided.
fn stored_route(route: Route) -> StoredRoute {
    match route {
        Route::Plain => StoredRoute::Plain,
        Route::Tls => StoredRoute::Tls,
        Route::Portal => StoredRoute::Portal,
        Route::Block => StoredRoute::Block,
    }
}

/// Record a route decided outside the policy crate (internal link, encrypted
/// attachment): its own content for this recipient, queued, audited.
fn own_route(
    processed: &mut Processed,
    m: &Received,
    actor: &str,
    (recipient_id, address): (i64, &str),
    route: StoredRoute,
    reasons: Vec<String>,
    blob: String,
) {
    processed.audit.push(AuditEvent {
        actor: actor.to_string(),
        action: format!("send.{route}"),
        subject: Some(address.to_string()),
        detail: Some(format!("message {}: {}", m.id, reasons.join("; "))),
        ip: m.client_ip.clone(),
        outcome: Some("accepted".into()),
    });
    processed.decisions.push(RecipientDecision {
        recipient_id,
        route,
        reasons,
        state: RecipientState::Queued,
        blob: Some(blob),
    });
}

/// The number for a recipient's SMS: this message's own tag, or the address book's.
/// Never a number an earlier message (another sender's tag) carried: that would let
/// one sender choose where everyone's codes for this person go.
async fn recipient_phone(
    shared: &Shared,
    tag_phone: &Option<String>,
    address: &str,
) -> Result<Option<String>> {
    Ok(match tag_phone {
        Some(p) => Some(p.clone()),
        None => shared
            .store
            .contact_phone(address)
            .await?
            .and_then(|p| veilpost_text::phone::normalize(&p)),
    })
}

/// Encrypt the attachments for one recipient, text the password to `phone`, store what is
/// delivered.
async fn encrypted_attachment(
    shared: &Shared,
    m: &Received,
    parts: &zipped::Parts,
    phone: &str,
) -> Result<String> {
    let (raw, password) = parts.encrypt()?;
    let text = format!(
        "Wachtwoord voor de bijlage ({zip}) van {sender}, {org}: {password} / Password for the attachment",
        zip = zipped::ZIP_NAME,
        sender = m.mail_from,
        org = shared.config.organisation.name,
    );
    shared
        .sms
        .send(phone, &text, &m.id)
        .await
        .map_err(|e| anyhow::anyhow!("SMS: {e}"))?;
    let signed = sign_own(shared, raw);
    Ok(shared.store.blobs().write(signed).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_rewrite() {
        let raw = b"From: a@b.nl\r\nSubject: [veilig] Uitslag\r\n\tlab\r\nTo: c@d.nl\r\n\r\nbody";
        let (subject, range) = subject_field(raw).expect("subject");
        assert!(
            subject.starts_with("[veilig] Uitslag") && subject.ends_with("lab"),
            "{subject}"
        );
        assert_eq!(&raw[range.clone()][..8], b"Subject:");
        assert!(raw[range].ends_with(b"lab\r\n"));
        assert_eq!(encode_header("plain"), "plain");
        let enc = encode_header("Verwijzing cliënt");
        assert!(enc.starts_with("=?utf-8?b?"), "{enc}");
        let raw = format!("Subject: {enc}\r\n\r\n");
        let parsed = mail_parser::MessageParser::new()
            .parse(raw.as_bytes())
            .expect("parse");
        assert_eq!(parsed.subject(), Some("Verwijzing cliënt"));
    }

    /// Issue 16, point 10: routing tags count only in what the organisation's own people
    /// sent; a name typed in the contact form or a portal reply's subject is no tag (and
    /// stays as written), while those always take the secure route.
    #[test]
    fn tags_only_from_the_organisations_own_senders() {
        let subject = b"From: x@example.net\r\nSubject: [sms 06-99999999] [zip] Jan\r\n\r\nhoi";
        let received = |origin: Origin| Received {
            id: "m1".into(),
            origin,
            mail_from: "x@example.net".into(),
            auth_user: None,
            client_ip: None,
            received_at: 0,
            blob: String::new(),
            recipients: Vec::new(),
            confirmed: false,
            intent: None,
            header_message_id: None,
        };
        for origin in [Origin::Submission, Origin::Relay] {
            let mut message = subject.to_vec();
            let (intent, changed) =
                sender_intent(origin, given_intent(&received(origin)), &mut message);
            assert!(changed && intent.zip, "{origin:?}");
            assert_eq!(intent.sms.as_deref(), Some("+31699999999"));
        }
        for origin in [Origin::Intake, Origin::Reply] {
            let mut message = subject.to_vec();
            let (intent, changed) =
                sender_intent(origin, given_intent(&received(origin)), &mut message);
            assert!(!changed && message == subject, "{origin:?}");
            assert_eq!(
                intent,
                Intent {
                    secure: true,
                    ..Intent::default()
                }
            );
        }
        for origin in [Origin::Notification, Origin::Dsn, Origin::Portal] {
            let mut message = subject.to_vec();
            let (intent, changed) =
                sender_intent(origin, given_intent(&received(origin)), &mut message);
            assert!(!changed && intent == Intent::default(), "{origin:?}");
        }
    }

    #[test]
    fn from_domains() {
        assert_eq!(
            from_domain(b"From: \"A\" <a@Praktijk.NL>\r\n\r\n"),
            Some("praktijk.nl".into())
        );
        assert_eq!(from_domain(b"Subject: x\r\n\r\n"), None);
    }
}
