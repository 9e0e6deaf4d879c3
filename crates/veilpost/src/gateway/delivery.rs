//! Delivery workers: take due recipients from the queue and deliver them, to the local
//! outbox or over SMTP (transport map, else MX look-up), with the TLS the domain and the
//! route demand. Temporary failures are retried with exponential backoff; permanent
//! failures and expiry produce a report to the sender, and so does a long delay (once).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Semaphore;
use tracing::Instrument;
use veilpost_policy::transport::{
    HostFacts, Proof, Skip, StsFact, TlsMode, proof, tls_requirement,
};
use veilpost_posture::mx_matches;
use veilpost_smtp::{Outgoing, TlsRequirement};
use veilpost_store::{Delivery, DeliveryOutcome, Envelope, Generated, Origin};

use super::Shared;
use super::facts::{self, MxError, MxHosts};
use crate::config::split_host_port;
use veilpost_text::mails::{self, DsnKind};

/// Recipients taken from the queue at once.
const BATCH: i64 = 64;

/// Deliver until the process ends.
pub async fn run(shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(shared.config.delivery.workers.max(1)));
    let destinations = Destinations::new(shared.config.delivery.destination_concurrency);
    loop {
        let lease = shared.config.store.lease_seconds as i64;
        let due = match shared.store.claim_deliveries(BATCH, lease).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("delivery queue: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if due.is_empty() {
            let _ =
                tokio::time::timeout(Duration::from_secs(1), shared.wake_delivery.notified()).await;
            continue;
        }
        // Held from now on: the lease of one waiting for a slot is renewed too.
        let due: Vec<_> = due
            .into_iter()
            .map(|d| {
                let holding = shared.held.delivery(d.recipient_id);
                (d, holding)
            })
            .collect();
        for (d, holding) in due {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let shared = shared.clone();
            let destination = destinations.of(&d.address);
            // Every line of the attempt names the message and the recipient.
            let span = tracing::info_span!(
                "delivery",
                queue_id = %d.message_id,
                message_id = d.header_message_id.as_deref(),
                to = %d.address,
            );
            tokio::spawn(
                async move {
                    let id = d.recipient_id;
                    let result = match destination.acquire_owned().await {
                        Ok(_one_of_the_destinations) => deliver_one(&shared, &d).await,
                        Err(_) => return,
                    };
                    drop(holding);
                    // The slot is free once the outcome is recorded; the audit entry (which
                    // waits for the group commit's fsync) is written outside it.
                    drop(permit);
                    match result {
                        Ok(outcome) => audit_outcome(&shared, &d, &outcome).await,
                        // The lease runs out and it is tried again.
                        Err(e) => tracing::error!("delivery {id}: {e:#}"),
                    }
                }
                .instrument(span),
            );
        }
    }
}

/// Remove message content from the spool once every recipient is done with it, so that
/// plaintext of sensitive mail does not linger on disk (the portal keeps its own encrypted
/// copy). Runs every second; the rows stay for the trace.
pub async fn purge(shared: Arc<Shared>) {
    loop {
        match shared.store.purge_finished(256).await {
            Ok(256) => continue,
            Ok(_) => {}
            Err(e) => tracing::error!("purging delivered content: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Close the SMTP connections kept open longer than `delivery.connection_cache_seconds`.
pub async fn close_idle(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        shared.sessions.close_idle().await;
    }
}

/// Seconds until the next attempt after `attempts` failures.
pub fn backoff(first: u64, max: u64, attempts: i64) -> u64 {
    let exp = attempts.clamp(0, 20) as u32;
    let first = first.max(1);
    first
        .saturating_mul(2u64.saturating_pow(exp))
        .min(max.max(first))
}

/// A limit on deliveries at once per recipient domain.
struct Destinations {
    each: usize,
    open: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
}

impl Destinations {
    fn new(each: usize) -> Destinations {
        Destinations {
            each: each.max(1),
            open: std::sync::Mutex::default(),
        }
    }

    /// The limit of `address`'s domain. Domains nobody is delivering to are forgotten.
    fn of(&self, address: &str) -> Arc<Semaphore> {
        let domain = veilpost_policy::domain::domain_of(address);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() > 10_000 {
            let each = self.each;
            open.retain(|_, s| s.available_permits() < each);
        }
        open.entry(domain)
            .or_insert_with(|| Arc::new(Semaphore::new(self.each)))
            .clone()
    }
}

async fn deliver_one(shared: &Shared, d: &Delivery) -> Result<DeliveryOutcome> {
    let data = if d.prefix.is_empty() {
        shared.store.read_blob(&d.blob).await?
    } else {
        let mut data = d.prefix.clone();
        data.extend_from_slice(&shared.store.read_blob(&d.blob).await?);
        data
    };
    let started = std::time::Instant::now();
    let result = if shared.config.delivery.mode == "outbox" {
        to_outbox(shared, d, &data).await
    } else {
        over_smtp(shared, d, &data).await
    };
    super::metrics::delivery_attempt(
        d.route,
        result
            .as_ref()
            .map(|sent| sent.tls)
            .map_err(Failure::result),
        started.elapsed(),
    );
    let remote = result
        .as_ref()
        .ok()
        .and_then(|sent| sent.remote.map(|a| a.to_string()));
    let outcome = match result {
        Ok(Sent { detail, .. }) => DeliveryOutcome::Delivered { detail },
        Err(Failure::Permanent(error)) => {
            report(shared, d, DsnKind::Failed, "5.0.0", &error).await;
            DeliveryOutcome::Failed { error }
        }
        Err(Failure::Temporary(error)) => {
            let age = shared.store.now() - d.received_at;
            let limit = (shared.config.delivery.max_retry_hours * 3600.0) as i64;
            if age >= limit {
                let error = format!("gave up after {} hours: {error}", age / 3600);
                report(shared, d, DsnKind::Failed, "4.4.7", &error).await;
                DeliveryOutcome::Failed { error }
            } else {
                let notice = (shared.config.delivery.delay_notice_hours * 3600.0) as i64;
                if notice > 0 && age >= notice && !d.delay_notified {
                    report(shared, d, DsnKind::Delayed, "4.4.1", &error).await;
                    let _ = shared.store.mark_delay_notified(d.recipient_id).await;
                }
                let wait = backoff(
                    shared.config.delivery.first_retry,
                    shared.config.delivery.max_retry_interval,
                    d.attempts,
                );
                DeliveryOutcome::Deferred {
                    error,
                    next_at: shared.store.now() + wait as i64,
                }
            }
        }
    };
    match &outcome {
        DeliveryOutcome::Delivered { detail } => {
            tracing::info!(remote = remote.as_deref(), %detail, "delivered")
        }
        DeliveryOutcome::Deferred { error, .. } => tracing::info!(%error, "deferred"),
        DeliveryOutcome::Failed { error } => tracing::warn!(%error, "failed"),
    }
    shared.store.delivery_done(d.recipient_id, &outcome).await?;
    Ok(outcome)
}

/// Sending, succeeded or not, is audited (NTA 7516 §6.4.2); deferrals are not final.
async fn audit_outcome(shared: &Shared, d: &Delivery, outcome: &DeliveryOutcome) {
    let final_outcome = match outcome {
        DeliveryOutcome::Delivered { detail } => Some(("delivered", detail)),
        DeliveryOutcome::Failed { error } => Some(("failed", error)),
        DeliveryOutcome::Deferred { .. } => None,
    };
    if let Some((word, detail)) = final_outcome {
        let event = veilpost_store::AuditEvent {
            actor: "veilpost".into(),
            action: format!("send.{word}"),
            subject: Some(d.address.clone()),
            detail: Some(format!("message {} ({}): {detail}", d.message_id, d.origin)),
            ip: None,
            outcome: Some(word.into()),
        };
        if let Err(e) = shared.store.audit_event(event).await {
            tracing::error!("audit of delivery {}: {e}", d.message_id);
        }
    }
}

/// Tell the sender (unless the message is itself a report).
async fn report(shared: &Shared, d: &Delivery, kind: DsnKind, status: &str, why: &str) {
    if d.mail_from.is_empty() || d.origin == Origin::Dsn {
        return;
    }
    let original = shared.store.read_blob(&d.blob).await.unwrap_or_default();
    let retry_until =
        Some(d.received_at + (shared.config.delivery.max_retry_hours * 3600.0) as i64);
    let raw = match mails::dsn(&mails::Dsn {
        kind,
        reporting_mta: &shared.config.smtp.hostname,
        from: &shared.config.notify_from(),
        to: &d.mail_from,
        recipient: &d.address,
        status,
        diagnostic: why,
        original_headers: mails::returnable_headers(&original),
        arrival: d.received_at,
        retry_until,
    }) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("building a report: {e}");
            return;
        }
    };
    let from_domain = shared
        .config
        .notify_from()
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    let raw = shared.dkim.sign(&from_domain, &raw).unwrap_or(raw);
    let size = raw.len();
    let blob = match shared.store.blobs().write(raw).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("storing a report: {e}");
            return;
        }
    };
    let g = Generated {
        envelope: Envelope {
            origin: Origin::Dsn,
            mail_from: String::new(),
            rcpt_to: vec![d.mail_from.clone()],
            auth_user: None,
            client_ip: None,
            intent: None,
        },
        blob,
        size,
        route: veilpost_store::Route::Plain,
    };
    if let Err(e) = shared.store.enqueue_generated(g).await {
        tracing::error!("queueing a report: {e}");
    }
    shared.wake_delivery.notify_one();
}

enum Failure {
    Temporary(String),
    Permanent(String),
}

impl Failure {
    /// `deferred` or `failed`, as the metrics count it.
    pub(super) fn result(&self) -> &'static str {
        match self {
            Failure::Temporary(_) => "deferred",
            Failure::Permanent(_) => "failed",
        }
    }
}

/// A message handed over: the receiving server's answer, and what its TLS rested on
/// (`none` when no TLS was used).
struct Sent {
    detail: String,
    tls: &'static str,
    /// The server that took it (none for the outbox).
    remote: Option<SocketAddr>,
}

async fn to_outbox(shared: &Shared, d: &Delivery, data: &[u8]) -> Result<Sent, Failure> {
    let dir = shared.config.data_dir.join("outbox");
    let name = format!("{}-{}", d.message_id, d.recipient_id);
    let envelope = serde_json::json!({
        "mail_from": d.mail_from,
        "rcpt_to": [d.address],
        "route": d.route,
        "message_id": d.message_id,
    });
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{name}.eml"));
        std::fs::write(&tmp, data)?;
        std::fs::write(dir.join(format!("{name}.json")), envelope.to_string())?;
        std::fs::rename(&tmp, dir.join(format!("{name}.eml")))
    };
    write().map_err(|e| Failure::Temporary(format!("outbox: {e}")))?;
    Ok(Sent {
        detail: format!("written to the outbox as {name}.eml"),
        tls: "none",
        remote: None,
    })
}

/// Needs SMTPUTF8: non-ASCII envelope addresses.
fn needs_utf8(d: &Delivery) -> bool {
    !d.mail_from.is_ascii() || !d.address.is_ascii()
}

/// One place to try: where to connect, the name TLS must prove, what TLS must prove.
struct Target {
    host: String,
    addrs: Vec<SocketAddr>,
    requirement: TlsRequirement,
    proof: Proof,
}

/// Why a candidate host cannot be used for this message now: delivery tries the next
/// host, and waits and retries when none is left.
#[derive(Debug)]
enum Unusable {
    /// The policy's answer for the host (what the route needs, it cannot prove).
    Policy(Skip),
    Tlsa(facts::TlsaError),
    /// DANE was decided but no TLSA records came with it.
    DaneWithoutTlsa,
    NoAddress(String),
    AddressLookup {
        host: String,
        error: String,
    },
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Policy(skip) => skip.fmt(f),
            Unusable::Tlsa(e) => e.fmt(f),
            Unusable::DaneWithoutTlsa => f.write_str("DANE without TLSA records"),
            Unusable::NoAddress(host) => write!(f, "{host} has no address"),
            Unusable::AddressLookup { host, error } => write!(f, "{host}: {error}"),
        }
    }
}

impl From<Unusable> for Failure {
    fn from(u: Unusable) -> Failure {
        Failure::Temporary(u.to_string())
    }
}

async fn addresses(shared: &Shared, host: &str, port: u16) -> Result<Vec<SocketAddr>, Unusable> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match shared.resolver.lookup_ip(host).await {
        Ok(l) => {
            let v: Vec<SocketAddr> = l.iter().map(|ip| SocketAddr::new(ip, port)).collect();
            if v.is_empty() {
                Err(Unusable::NoAddress(host.to_string()))
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(Unusable::AddressLookup {
            host: host.to_string(),
            error: e.to_string(),
        }),
    }
}

async fn over_smtp(shared: &Shared, d: &Delivery, data: &[u8]) -> Result<Sent, Failure> {
    let domain = veilpost_policy::domain::domain_of(&d.address);
    if domain.is_empty() {
        return Err(Failure::Permanent(format!(
            "{} is not an address",
            d.address
        )));
    }
    let secure_route = d.route == veilpost_store::Route::Tls;
    // Inbound mail goes on to the organisation's own mail server, whatever the domain.
    if d.origin == Origin::Inbound {
        let relay = &shared.config.inbound.relay_to;
        if relay.is_empty() {
            return Err(Failure::Temporary("inbound.relay_to is not set".into()));
        }
        let target = configured_target(shared, &domain, relay, false).await?;
        return send_to(shared, d, data, std::slice::from_ref(&target)).await;
    }
    let live = shared.live();
    let routes = &live.routes;
    let route = routes
        .iter()
        .find(|(key, _)| {
            key.as_str() != "*" && veilpost_policy::domain::normalize_domain(key) == domain
        })
        .map(|(_, target)| target)
        .or_else(|| routes.get("*"));

    let targets = match route {
        // Transport map: the configured host, no MX look-up.
        Some(route) => vec![configured_target(shared, &domain, route, secure_route).await?],
        None => mx_targets(shared, &domain, secure_route).await?,
    };
    send_to(shared, d, data, &targets).await
}

/// Try the targets in order, each of their addresses; the first that takes it wins.
async fn send_to(
    shared: &Shared,
    d: &Delivery,
    data: &[u8],
    targets: &[Target],
) -> Result<Sent, Failure> {
    let msg = Outgoing {
        mail_from: &d.mail_from,
        rcpt_to: std::slice::from_ref(&d.address),
        data,
        smtputf8: needs_utf8(d),
    };
    let mut errors = Vec::new();
    for t in targets {
        for addr in &t.addrs {
            match veilpost_smtp::deliver_cached(
                &shared.sessions,
                &shared.client,
                *addr,
                &t.host,
                &t.requirement,
                &msg,
            )
            .await
            {
                Ok(done) => {
                    let tls = if done.tls.is_some() {
                        t.proof.as_str()
                    } else {
                        "none"
                    };
                    let detail = format!(
                        "{} via {} ({}) {}",
                        done.reply,
                        t.host,
                        addr,
                        done.tls.unwrap_or_else(|| "without TLS".into())
                    );
                    return Ok(Sent {
                        detail,
                        tls,
                        remote: Some(*addr),
                    });
                }
                Err(e) if e.permanent => return Err(Failure::Permanent(e.text)),
                Err(e) => errors.push(format!("{} ({addr}): {}", t.host, e.text)),
            }
        }
    }
    Err(Failure::Temporary(errors.join("; ")))
}

/// The host of the transport map (`delivery.routes`) for `domain`, with what its TLS must
/// prove.
async fn configured_target(
    shared: &Shared,
    domain: &str,
    route: &str,
    secure_route: bool,
) -> Result<Target, Failure> {
    let (host, port) = split_host_port(route).map_err(|e| Failure::Temporary(e.to_string()))?;
    let is_ip = host.parse::<IpAddr>().is_ok();
    let tlsa = if secure_route && !is_ip {
        facts::dane_records(shared, &host, port)
            .await
            .map_err(Unusable::Tlsa)?
    } else {
        None
    };
    let facts = HostFacts {
        host: &host,
        domain,
        secure_route,
        configured: true,
        is_ip,
        dane: tlsa.is_some(),
        sts: StsFact::None,
        nta: false,
        partner: false,
    };
    let (requirement, proof) = decide(&facts, tlsa)?;
    let addrs = addresses(shared, &host, port).await?;
    Ok(Target {
        host,
        addrs,
        requirement,
        proof,
    })
}

/// The domain's MX hosts (or its NTA 7516 host), each with what its TLS must prove; hosts
/// that cannot prove what the route needs are skipped, and none left is a temporary
/// failure.
async fn mx_targets(
    shared: &Shared,
    domain: &str,
    secure_route: bool,
) -> Result<Vec<Target>, Failure> {
    let domain = domain.to_string();
    let mut targets: Vec<Target> = Vec::new();
    let port = shared.config.delivery.smtp_port;
    let sts = facts::mta_sts(shared, &domain).await;
    let enforce = sts.as_ref().filter(|p| p.mode == "enforce");
    let nta = if secure_route {
        shared
            .posture
            .nta7516(&domain)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.hosts().into_iter().next())
    } else {
        None
    };
    // When the address book cannot be read, authenticated TLS is required (fail closed).
    let partner = facts::is_partner(shared, &domain).await.unwrap_or(true);
    let hosts = match facts::mx_hosts(shared, &domain).await {
        Ok(MxHosts::Null) => {
            return Err(Failure::Permanent(format!(
                "{domain} does not accept mail (null MX)"
            )));
        }
        Ok(MxHosts::Implicit) => vec![domain.clone()],
        Ok(MxHosts::Hosts(h)) => h,
        Err(MxError::NoDomain(e)) => return Err(Failure::Permanent(e)),
        Err(MxError::Lookup(e)) => return Err(Failure::Temporary(e)),
    };
    // An NTA 7516 announcement names the host that takes secure mail.
    let hosts = match (&nta, secure_route) {
        (Some(h), true) => vec![h.clone()],
        _ => hosts,
    };
    let dnssec = facts::mx_secure(shared, &domain).await;
    let mut skipped: Vec<Unusable> = Vec::new();
    for host in hosts {
        let tlsa = if dnssec {
            match facts::dane_records(shared, &host, port).await {
                Ok(t) => t,
                Err(e) => {
                    skipped.push(Unusable::Tlsa(e));
                    continue;
                }
            }
        } else {
            None
        };
        let facts = HostFacts {
            host: &host,
            domain: &domain,
            secure_route,
            configured: false,
            is_ip: false,
            dane: tlsa.is_some(),
            sts: match enforce {
                None => StsFact::None,
                Some(p) if p.mx.iter().any(|pat| mx_matches(pat, &host)) => StsFact::Listed,
                Some(_) => StsFact::NotListed,
            },
            nta: nta.is_some(),
            partner,
        };
        let (requirement, proof) = match decide(&facts, tlsa) {
            Ok(r) => r,
            Err(why) => {
                skipped.push(why);
                continue;
            }
        };
        match addresses(shared, &host, port).await {
            Ok(addrs) => targets.push(Target {
                host,
                addrs,
                requirement,
                proof,
            }),
            Err(e) => skipped.push(e),
        }
    }
    if targets.is_empty() {
        return Err(Failure::Temporary(if skipped.is_empty() {
            format!("no usable mail server for {domain}")
        } else {
            skipped
                .iter()
                .map(Unusable::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }));
    }
    Ok(targets)
}

/// The policy's answer for the host as the client's requirement (the TLSA records travel
/// with DANE), and what it rests on.
fn decide(
    facts: &HostFacts<'_>,
    tlsa: Option<Vec<veilpost_dns::dane::Tlsa>>,
) -> Result<(TlsRequirement, Proof), Unusable> {
    let mode = tls_requirement(facts).map_err(Unusable::Policy)?;
    let requirement = match (mode, tlsa) {
        (TlsMode::Dane, Some(tlsa)) => TlsRequirement::Dane(tlsa),
        (TlsMode::Dane, None) => return Err(Unusable::DaneWithoutTlsa),
        (TlsMode::Pkix, _) => TlsRequirement::Pkix,
        (TlsMode::Opportunistic, _) => TlsRequirement::Opportunistic,
    };
    Ok((requirement, proof(facts, mode)))
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(60, 14_400, 0), 60);
        assert_eq!(backoff(60, 14_400, 1), 120);
        assert_eq!(backoff(60, 14_400, 3), 480);
        assert_eq!(backoff(60, 14_400, 30), 14_400);
        assert_eq!(backoff(0, 100, 2), 4);
    }
}
