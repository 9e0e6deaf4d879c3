//! The MX listener (`smtp.inbound_listen`): mail from outside for the organisation's
//! domains only (anything else is refused at RCPT: no relay), no AUTH. At the end of DATA
//! the message is authenticated (SPF, DKIM, DMARC, ARC), its facts gathered and the pure
//! verdict (`veilpost-verdict`) decides: a reject is a 5xx there and then; otherwise the
//! message gets Veilpost's `Authentication-Results` and `X-Veilpost-Verdict` (forged ones
//! taken out) and is spooled before the 250, like outbound mail. Processing relays it to
//! `inbound.relay_to`, or holds it when the verdict is quarantine.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Result;
use veilpost_senderauth::{AuthResult, Authenticator, Verification, VerifyRequest};
use veilpost_smtp::{Backend, Recipient, Refusal, Transaction};
use veilpost_store::{AuditEvent, Envelope, Origin, Processed, Received, RecipientDecision};
use veilpost_verdict::{Authenticity, Knowledge, Person, Verdict, Word};

use super::Shared;
use super::processor::domain_of;

#[derive(Clone)]
pub struct InboundBackend {
    shared: Arc<Shared>,
    auth: Arc<Authenticator>,
    /// `[inbound]`'s scores and actions, read once at start.
    settings: Arc<veilpost_verdict::Settings>,
    /// Staff, contacts and partners in the verdict's terms, made again only when the
    /// store's address book (kept for a few seconds there) is read anew.
    known: KnownCache,
    /// Senders to remember, written in batches by [`note_senders`].
    notes: tokio::sync::mpsc::Sender<Vec<String>>,
    /// Sender keys known to have sent before (once seen, a sender stays seen): most
    /// mail comes from senders seen before, and this spares the store a query for it.
    seen: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// Most sender keys kept in memory as seen; beyond it the set starts afresh.
const SEEN_KEPT: usize = 100_000;

/// The address book last seen, and the known people and domains made from it.
type KnownCache = Arc<std::sync::Mutex<Option<(Arc<veilpost_store::AddressBook>, Arc<Known>)>>>;

/// What the organisation knows about people and domains, for the verdict.
#[derive(Debug, Default)]
struct Known {
    staff: Vec<Person>,
    contacts: Vec<Person>,
    partners: Vec<String>,
}

impl InboundBackend {
    pub fn new(shared: Arc<Shared>) -> Result<InboundBackend> {
        let auth = Authenticator::new(&shared.dns, shared.config.authserv_id())?;
        let settings = shared.config.verdict_settings()?;
        let (notes, noted) = tokio::sync::mpsc::channel(NOTES_WAITING);
        tokio::spawn(note_senders(shared.clone(), noted));
        Ok(InboundBackend {
            shared,
            auth: Arc::new(auth),
            settings: Arc::new(settings),
            known: Arc::default(),
            notes,
            seen: Arc::default(),
        })
    }
}

/// Most messages' senders waiting to be remembered; beyond it a note is dropped (a
/// later first-time note is all that costs).
const NOTES_WAITING: usize = 10_000;

/// Remember senders as their messages are taken: at most one transaction a second, with
/// whatever came in meanwhile (this node's backend knows them at once, see
/// `InboundBackend::seen`). Ends when every backend is gone.
async fn note_senders(shared: Arc<Shared>, mut noted: tokio::sync::mpsc::Receiver<Vec<String>>) {
    while let Some(first) = noted.recv().await {
        let mut keys: std::collections::BTreeSet<String> = first.into_iter().collect();
        while let Ok(more) = noted.try_recv() {
            keys.extend(more);
        }
        let keys: Vec<String> = keys.into_iter().collect();
        if let Err(e) = shared.store.remember_senders(&keys).await {
            tracing::warn!("inbound senders: {e}");
        }
        tokio::time::sleep(NOTES_EVERY).await;
    }
}

/// How often the senders noted meanwhile are written.
const NOTES_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn word(r: AuthResult) -> Word {
    match r {
        AuthResult::Pass => Word::Pass,
        AuthResult::Fail => Word::Fail,
        AuthResult::SoftFail => Word::SoftFail,
        AuthResult::Neutral => Word::Neutral,
        AuthResult::None => Word::None,
        AuthResult::TempError => Word::TempError,
        AuthResult::PermError => Word::PermError,
    }
}

fn policy(p: veilpost_senderauth::DmarcPolicy) -> veilpost_verdict::DmarcPolicy {
    match p {
        veilpost_senderauth::DmarcPolicy::None => veilpost_verdict::DmarcPolicy::None,
        veilpost_senderauth::DmarcPolicy::Quarantine => veilpost_verdict::DmarcPolicy::Quarantine,
        veilpost_senderauth::DmarcPolicy::Reject => veilpost_verdict::DmarcPolicy::Reject,
    }
}

/// What authentication showed, as the verdict reads it.
fn authenticity(v: &Verification, arc_sealer: Option<String>) -> Authenticity {
    Authenticity {
        spf: (word(v.spf.result), v.spf.domain.clone()),
        dkim: v
            .dkim
            .iter()
            .map(|d| (word(d.result), d.domain.clone()))
            .collect(),
        dmarc: veilpost_verdict::DmarcFacts {
            result: word(v.dmarc.result),
            policy: policy(v.dmarc.policy),
            disposition: policy(v.dmarc.disposition),
        },
        arc: veilpost_verdict::ArcFacts {
            result: word(v.arc.result),
            sealer: arc_sealer.filter(|_| v.arc.result == AuthResult::Pass),
        },
    }
}

/// The keys a sender is remembered by: address, DKIM domains that passed, SPF domain.
fn sender_keys(from: &str, auth: &Authenticity) -> Vec<String> {
    let mut keys = vec![format!("addr:{}", from.to_ascii_lowercase())];
    for (w, d) in &auth.dkim {
        if *w == Word::Pass {
            keys.push(format!("dkim:{}", d.to_ascii_lowercase()));
        }
    }
    if auth.spf.0 == Word::Pass && !auth.spf.1.is_empty() {
        keys.push(format!("spf:{}", auth.spf.1.to_ascii_lowercase()));
    }
    keys
}

impl InboundBackend {
    /// The whole message through clamd (it reads MIME): `Some(None)` clean, `Some(Some(name))`
    /// a finding, `None` not scanned (no clamd configured, or out of reach when failing
    /// open); out of reach when failing closed is an error (a 451).
    async fn virus_scan(&self, data: &[u8]) -> Result<Option<Option<String>>> {
        let Some(addr) = self.shared.config.inbound_clamd() else {
            return Ok(None);
        };
        match veilpost_adapters::clamd::scan(addr, data, std::time::Duration::from_secs(30)).await {
            Ok(veilpost_adapters::clamd::Verdict::Clean) => Ok(Some(None)),
            Ok(veilpost_adapters::clamd::Verdict::Found(name)) => Ok(Some(Some(name))),
            Err(e) if self.shared.config.inbound.clamd_fail_closed => {
                // Refused for now (451): the sender tries again later.
                Err(anyhow::anyhow!("virus scanner unavailable: {e}"))
            }
            Err(e) => {
                tracing::warn!("inbound virus scan skipped: {e}");
                Ok(None)
            }
        }
    }

    /// The known people and domains: the store's address book (read again there every
    /// few seconds, and at once after a change), in the verdict's terms.
    async fn known(&self) -> Result<Arc<Known>> {
        let book = self.shared.store.address_book().await?;
        if let Ok(guard) = self.known.lock()
            && let Some((seen, known)) = guard.as_ref()
            && Arc::ptr_eq(seen, &book)
        {
            return Ok(known.clone());
        }
        let known = Arc::new(Known {
            staff: book
                .staff
                .iter()
                .map(|(name, address)| Person {
                    name: name.clone(),
                    address: address.clone(),
                })
                .collect(),
            contacts: book
                .contacts
                .iter()
                .map(|(address, name)| Person {
                    name: name.clone().unwrap_or_default(),
                    address: address.clone(),
                })
                .collect(),
            partners: book.partners.clone(),
        });
        if let Ok(mut guard) = self.known.lock() {
            *guard = Some((book, known.clone()));
        }
        Ok(known)
    }

    /// The verdict on one message, with what the organisation knows read now.
    async fn judge(
        &self,
        t: &Transaction,
        peer: SocketAddr,
    ) -> Result<(Verdict, Verification, Vec<String>)> {
        let shared = &self.shared;
        let verification = self
            .auth
            .verify(&VerifyRequest {
                message: &t.data,
                ip: peer.ip(),
                helo: &t.helo,
                mail_from: &t.mail_from,
            })
            .await;
        let gathered = veilpost_verdict::gather(&t.data);
        let scanned = self.virus_scan(&t.data).await?;
        let auth = authenticity(
            &verification,
            veilpost_verdict::headers::arc_sealer(&t.data),
        );
        let known = self.known().await?;
        // Read for every message (a short table): a block acts from the next message on.
        let blocked = shared.store.blocked_senders().await?;
        let keys = sender_keys(&gathered.from, &auth);
        let knowledge = Knowledge {
            own_domains: &shared.config.organisation.domains,
            staff: &known.staff,
            partners: &known.partners,
            contacts: &known.contacts,
            seen_before: self.seen_before(&keys).await?,
            trusted_forwarders: &shared.config.inbound.trusted_forwarders,
            blocked: &blocked,
        };
        let facts = veilpost_verdict::Facts {
            malware: scanned.as_ref().and_then(|s| s.as_deref()),
            unscanned: scanned.is_none() && shared.config.inbound_clamd().is_some(),
            ..gathered.facts()
        };
        let verdict = veilpost_verdict::verdict(&facts, &auth, &knowledge, &self.settings);
        Ok((verdict, verification, keys))
    }
}

impl Backend for InboundBackend {
    /// Anyone may hand mail in without AUTH; only for our domains (see `recipient`).
    fn trusted(&self, _ip: IpAddr) -> bool {
        true
    }

    async fn authenticate(&self, _user: String, _password: String, _ip: IpAddr) -> Option<String> {
        None
    }

    async fn sender_allowed(&self, _user: String, _mail_from: String) -> bool {
        true
    }

    /// Mail for the organisation's domains only (and the report addresses, wherever they
    /// are): no relay.
    async fn recipient(&self, address: String) -> Recipient {
        if self.takes(&address) {
            Recipient::Accept
        } else {
            Recipient::Refuse((
                550,
                "5.7.1".into(),
                "Relaying denied: this server takes mail for its own domains only".into(),
            ))
        }
    }

    async fn deliver(&self, t: Transaction, peer: SocketAddr) -> Result<String, Refusal> {
        let started = std::time::Instant::now();
        let received = super::backend::received_field(&self.shared, &t, peer);
        let examined = self.examine(&t, peer, Some(received)).await?;
        let id = self.spool(&t, peer, examined.data).await?;
        self.remember(examined.keys);
        tracing::info!(
            queue_id = %id,
            message_id = veilpost_store::header_message_id(&t.data).as_deref(),
            from = %t.mail_from,
            verdict = %examined.names,
            "inbound accepted"
        );
        super::metrics::accepted("inbound", started.elapsed());
        Ok(id)
    }
}

/// A 451: the sender tries again later.
pub(super) fn temporary() -> Refusal {
    (
        451,
        "4.3.0".to_string(),
        "Temporary failure, try again later".to_string(),
    )
}

/// What the verdict made of a message it let through (to pass on or to quarantine).
pub(super) struct Examined {
    pub verdict: Verdict,
    /// The verdict as the header says it (`tag; sender.first_time`).
    pub names: String,
    /// The message with our headers, the banner and the subject tag as the verdict asks.
    pub data: Vec<u8>,
    /// What the sender is remembered by once the message is taken.
    pub keys: Vec<String>,
}

impl InboundBackend {
    /// Judge a message from either listener and make it what goes on: a reject is a
    /// refusal (audited); otherwise the message with Veilpost's `Authentication-Results`
    /// and `X-Veilpost-Verdict` (forged ones out), `received` first when given (the MX
    /// listener's own; Postfix writes its own before a milter), the banner and the tag.
    pub(super) async fn examine(
        &self,
        t: &Transaction,
        peer: SocketAddr,
        received: Option<String>,
    ) -> Result<Examined, Refusal> {
        let (verdict, verification, keys) = self.judge(t, peer).await.map_err(|e| {
            tracing::error!("inbound verdict: {e:#}");
            temporary()
        })?;
        let shared = &self.shared;
        let names = verdict.header_value();
        super::metrics::inbound(verdict.action);
        if verdict.action == veilpost_verdict::Action::Reject {
            shared
                .store
                .audit_event(AuditEvent {
                    actor: format!("mx:{}", peer.ip()),
                    action: "inbound.rejected".into(),
                    subject: Some(t.mail_from.clone()),
                    detail: Some(names.clone()),
                    ip: Some(peer.ip().to_string()),
                    outcome: Some("rejected".into()),
                })
                .await
                .map_err(|e| {
                    tracing::error!("audit: {e}");
                    temporary()
                })?;
            tracing::info!("inbound from {} rejected: {names}", peer.ip());
            return Err((
                550,
                "5.7.1".into(),
                format!(
                    "Message refused ({}): the sender's domain does not vouch for it",
                    names.split_once("; ").map_or("", |(_, n)| n)
                ),
            ));
        }
        let ours: Vec<String> = received
            .into_iter()
            .chain([
                verification.authentication_results.clone(),
                veilpost_verdict::headers::verdict_field(&verdict),
            ])
            .collect();
        let data = veilpost_verdict::headers::with_our_headers(
            &t.data,
            shared.config.authserv_id(),
            &ours,
        );
        // What people should know is shown above the message itself, and where the
        // organisation wants it, in front of the subject of what the verdict tags.
        let data = veilpost_verdict::banner::with_banner(&data, &verdict.warnings());
        let tag = shared.config.inbound.subject_tag.trim();
        let data = if verdict.action == veilpost_verdict::Action::Tag && !tag.is_empty() {
            veilpost_verdict::headers::tagged_subject(&data, tag)
        } else {
            data
        };
        let data = self.sealed(t, peer, &verification, data).await;
        Ok(Examined {
            verdict,
            names,
            data,
            keys,
        })
    }

    /// `data` with an ARC set in front when `inbound.arc_seal` asks for one and the first
    /// domain's key is there; as it is otherwise (a seal that cannot be made is logged,
    /// the message goes on without it).
    async fn sealed(
        &self,
        t: &Transaction,
        peer: SocketAddr,
        verification: &Verification,
        data: Vec<u8>,
    ) -> Vec<u8> {
        let config = &self.shared.config;
        let Some(domain) = config.organisation.domains.first() else {
            return data;
        };
        let Some((selector, key)) = config
            .inbound
            .arc_seal
            .then(|| self.shared.dkim.key(domain))
            .flatten()
        else {
            return data;
        };
        let req = VerifyRequest {
            message: &t.data,
            ip: peer.ip(),
            helo: &t.helo,
            mail_from: &t.mail_from,
        };
        match self
            .auth
            .arc_seal(&t.data, &data, verification, &req, &key, domain, &selector)
            .await
        {
            Ok(Some(set)) => {
                let mut out = set.into_bytes();
                out.extend_from_slice(&data);
                out
            }
            Ok(None) => data,
            Err(e) => {
                tracing::warn!("ARC seal: {e}");
                data
            }
        }
    }

    /// Spool an examined message durably (before any 250): processing relays it to the
    /// mail server or holds it in the quarantine, as its verdict header says.
    pub(super) async fn spool(
        &self,
        t: &Transaction,
        peer: SocketAddr,
        data: Vec<u8>,
    ) -> Result<String, Refusal> {
        let envelope = super::backend::envelope_of(t, peer, Origin::Inbound);
        let message_id = veilpost_verdict::headers::first_value(&data, "Message-ID");
        let verdict = veilpost_verdict::headers::first_value(&data, "X-Veilpost-Verdict");
        let id = self.shared.store.spool(envelope, data).await.map_err(|e| {
            tracing::error!("spool: {e}");
            temporary()
        })?;
        // What a phishing report finds it by; a report without the link still counts.
        let mid = message_id
            .as_deref()
            .map(|m| m.trim_start_matches('<').trim_end_matches('>'));
        if let Err(e) = self
            .shared
            .store
            .note_inbound(&id, mid, verdict.as_deref())
            .await
        {
            tracing::warn!("inbound {id}: message-id not kept: {e}");
        }
        self.shared.wake_processor.notify_one();
        Ok(id)
    }

    /// Whether any of the sender's keys sent mail before: from memory, else the store.
    async fn seen_before(&self, keys: &[String]) -> Result<bool> {
        let known = self
            .seen
            .lock()
            .is_ok_and(|seen| keys.iter().any(|k| seen.contains(k)));
        if known || !self.shared.store.sender_seen(keys).await? {
            return Ok(known);
        }
        self.mark_seen(keys);
        Ok(true)
    }

    fn mark_seen(&self, keys: &[String]) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() + keys.len() > SEEN_KEPT {
                seen.clear();
            }
            seen.extend(keys.iter().filter(|k| !k.is_empty()).cloned());
        }
    }

    /// Whether `address` is in one of the organisation's domains.
    pub(super) fn for_us(&self, address: &str) -> bool {
        self.shared.config.is_own_domain(&domain_of(address))
    }

    /// Whether mail for `address` is ours to take: the organisation's domains, and the
    /// report addresses wherever they are.
    pub(super) fn takes(&self, address: &str) -> bool {
        self.for_us(address) || super::authreports::is_report_address(&self.shared, address)
    }

    /// A report for a report address, read from the message as judged and recorded; the
    /// message goes on (see [`super::authreports::take_copy`]).
    pub(super) async fn take_report_copy(&self, t: &Transaction, judged: &[u8]) {
        super::authreports::take_copy(&self.shared, t, judged).await;
    }

    /// Remember the sender of a message that was taken (the next one is no first-timer).
    /// A first-time note costs nothing when this fails.
    /// Written beside the answer, not before it: nobody waits on a note.
    pub(super) fn remember(&self, keys: Vec<String>) {
        self.mark_seen(&keys);
        if self.notes.try_send(keys).is_err() {
            tracing::warn!("inbound senders: too many waiting, one not remembered");
        }
    }
}

/// Veilpost's own mail for a staff member (digest, thanks), on to their mailbox: as clean
/// inbound mail to the organisation's mail server when there is one, otherwise as any
/// generated mail.
pub(super) async fn to_staff_mailbox(shared: &Arc<Shared>, to: &str, raw: &[u8]) -> Result<()> {
    if shared.config.inbound.relay_to.is_empty() {
        let g = super::processor::generated_mail(
            shared,
            raw.to_vec(),
            String::new(),
            to,
            Origin::Portal,
        )
        .await?;
        shared.store.enqueue_generated(g).await?;
        shared.wake_delivery.notify_one();
        return Ok(());
    }
    let mut data = b"X-Veilpost-Verdict: clean\r\n".to_vec();
    data.extend_from_slice(raw);
    shared
        .store
        .spool(
            Envelope {
                origin: Origin::Inbound,
                mail_from: shared.config.notify_from(),
                rcpt_to: vec![to.to_string()],
                auth_user: None,
                client_ip: None,
                intent: None,
            },
            data,
        )
        .await?;
    shared.wake_processor.notify_one();
    Ok(())
}

/// Process an inbound message: quarantine seals and holds it (nothing goes out), anything
/// else is queued for the organisation's own mail server.
pub(super) async fn process(shared: &Arc<Shared>, m: Received) -> Result<()> {
    let store = &shared.store;
    let context = format!("quarantine:{}", m.id);
    let sealed_key = store.sealed_key(&m.id).await?;
    let raw = store.read_blob(&m.blob).await?;
    let raw = match &sealed_key {
        Some(key) => shared.master_key.open(&context, key, &raw)?,
        None => raw,
    };
    // Without our verdict the message did not come through the listener as it should:
    // held, never passed on unchecked.
    let verdict = veilpost_verdict::headers::first_value(&raw, "X-Veilpost-Verdict")
        .unwrap_or_else(|| "quarantine; no verdict".into());
    let action = verdict.split(';').next().unwrap_or("").trim();
    // Released from the quarantine by an administrator: it goes on as it is.
    if !m.confirmed && !matches!(action, "clean" | "accept" | "tag") {
        let names: Vec<&str> = verdict
            .split_once("; ")
            .map_or(vec![], |(_, n)| n.split(' ').collect());
        let reasons = serde_json::to_string(&names)?;
        // It waits sealed: the clear copy goes once the sealed one is in its place.
        let sealed = shared.master_key.seal(&context, &raw)?;
        let blob = store.blobs().write(sealed.ciphertext).await?;
        match shared
            .store
            .quarantine(&m.id, &blob, &sealed.wrapped_key, &reasons)
            .await?
        {
            Some(clear) if clear != blob => store.remove_blob(&clear).await?,
            _ => {}
        }
        shared
            .store
            .audit_event(AuditEvent {
                actor: format!("mx:{}", m.client_ip.clone().unwrap_or_default()),
                action: "inbound.quarantined".into(),
                subject: Some(format!("message {}", m.id)),
                detail: Some(verdict.clone()),
                ip: m.client_ip.clone(),
                outcome: Some("held".into()),
            })
            .await?;
        tracing::info!("inbound {} quarantined: {verdict}", m.id);
        return Ok(());
    }
    // Released: out in the clear again for delivery, the sealed copy gone.
    if sealed_key.is_some() {
        let blob = store.blobs().write(raw).await?;
        if let Some(old) = store.unseal(&m.id, &blob).await? {
            store.remove_blob(&old).await?;
        }
    }
    let processed = Processed {
        verdict: action.to_string(),
        findings: serde_json::json!([]),
        decisions: m
            .recipients
            .iter()
            .map(|(rid, _)| RecipientDecision {
                recipient_id: *rid,
                route: veilpost_store::Route::Plain,
                reasons: vec![format!("inbound: {verdict}")],
                state: veilpost_store::RecipientState::Queued,
                blob: None,
            })
            .collect(),
        ..Processed::default()
    };
    shared.store.finish_processing(&m.id, processed).await?;
    shared.wake_delivery.notify_one();
    Ok(())
}
