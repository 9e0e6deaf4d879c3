//! `veilpost serve`: the SMTP submission listener, the processing and delivery workers and
//! the web server, over one store.

/// A line for the operator: on stdout, or a log line when the log is JSON.
macro_rules! say {
    ($($t:tt)*) => {
        crate::logging::say(&format!($($t)*))
    };
}

mod acme;
mod authreports;
mod backend;
pub(crate) mod certs;
mod checkpoints;
mod cores;
mod delivery;
mod digest;
pub mod dkim;
mod facts;
mod handoff;
mod health;
mod hold;
mod inbound;
mod leases;
mod metrics;
mod milter;
mod processor;
mod report;
mod syslog;
mod zipped;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Notify;
use veilpost_dlp::Scanner;
use veilpost_dns::TokioResolver;
use veilpost_smtp::ClientSettings;
use veilpost_store::Store;
use veilpost_store::vault::MasterKey;
use veilpost_text::Lang;

use crate::config::{Config, parse_cidr};
use crate::sandbox::{SandboxLimits, SandboxedPdf};

/// What every part of the running gateway shares.
pub struct Shared {
    /// The configuration as it was at start; what SIGHUP re-reads is in [`Shared::live`].
    pub config: Config,
    /// ACME HTTP-01 answers by token while a certificate is being ordered.
    pub acme_answers: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Audit entries and checkpoints to a SIEM (`audit.syslog`).
    pub syslog: Option<tokio::sync::Mutex<veilpost_adapters::syslog::Sender>>,
    /// The parts of the configuration a SIGHUP reloads.
    live: std::sync::RwLock<Arc<Live>>,
    /// The file the configuration came from (none: defaults and environment only).
    config_path: Option<std::path::PathBuf>,
    pub store: Store,
    pub trusted: Vec<(IpAddr, u8)>,
    pub scanner: Scanner,
    pub dkim: dkim::Keys,
    pub master_key: Arc<MasterKey>,
    pub resolver: TokioResolver,
    pub validating: TokioResolver,
    pub posture: veilpost_posture::Checker,
    /// Where DNS questions go (for the admin page's domain check).
    pub dns: veilpost_dns::DnsConfig,
    pub client: ClientSettings,
    /// Open SMTP connections between deliveries (`delivery.connection_cache_seconds`).
    pub sessions: veilpost_smtp::SessionCache,
    /// The last readiness answer (`/healthz/ready`).
    pub readiness: health::Answer,
    pub wake_processor: Notify,
    pub wake_delivery: Notify,
    /// Text messages (the encrypted-attachment route's passwords).
    pub sms: veilpost_adapters::SmsSender,
    /// Threads for CPU-bound work (scanning, signing), one per core, below the priority
    /// of the threads that accept mail.
    pub cores: cores::Cores,
    /// How notifications look (`[organisation]`'s colour, phone, website, logo).
    pub brand: veilpost_text::mails::Brand,
    /// The DMARC and TLS report addresses, worked out once (asked per recipient).
    pub report_addresses: [String; 2],
    /// The work this node holds leases on (renewed while it works).
    pub held: Arc<leases::Held>,
}

/// The configuration a running node reloads on SIGHUP: the routing policy (blocked,
/// partner and ZIP domains) and the transport map. Everything else applies at restart.
#[derive(Debug, Clone)]
pub struct Live {
    pub policy: crate::config::Policy,
    pub routes: std::collections::BTreeMap<String, String>,
}

impl Live {
    fn of(config: &Config) -> Live {
        Live {
            policy: config.policy.clone(),
            routes: config.delivery.routes.clone(),
        }
    }
}

impl Shared {
    /// The reloadable configuration in force now.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Read the configuration file (and environment) again and put its reloadable parts
    /// in force; a file that does not read changes nothing.
    fn reload_config(&self) -> Result<()> {
        let fresh = crate::config::load(self.config_path.as_deref())?;
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Live::of(&fresh));
        Ok(())
    }

    /// The double-check rules in force: as an admin set them on the web, else the
    /// configuration's. Asked for with every message, so read through the store's
    /// settings cache (a change on this node's web pages acts at once, one made on
    /// another node within seconds).
    pub async fn doublecheck_rules(&self) -> Result<veilpost_policy::doublecheck::Rules> {
        if let Some(json) = self.store.policy_setting("doublecheck").await?
            && let Ok(rules) = serde_json::from_str(&json)
        {
            return Ok(rules);
        }
        Ok(self.config.doublecheck.rules())
    }

    /// How mail to a leaver is answered (`reject` or `forward`): the web's setting, else
    /// the configuration's (read from the database each time: only mail to a leaver asks).
    pub async fn leaver_answer(&self) -> Result<String> {
        if let Some(json) = self.store.setting("offboarding.answer").await?
            && let Ok(answer) = serde_json::from_str::<String>(&json)
        {
            return Ok(answer);
        }
        Ok(self.config.offboarding.answer.clone())
    }
}

/// The web side's way into the queues: generated mail is signed and queued for delivery;
/// replies are spooled for processing like submitted mail.
#[derive(Clone)]
struct GatewayMailer(Arc<Shared>);

impl std::fmt::Debug for GatewayMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayMailer")
    }
}

impl veilpost_web::Mailer for GatewayMailer {
    fn send(
        &self,
        to: String,
        raw: Vec<u8>,
    ) -> veilpost_web::BoxFuture<'_, Result<(), veilpost_web::BoxError>> {
        Box::pin(async move { self.send_generated(to, raw).await.map_err(Into::into) })
    }

    fn submit(
        &self,
        envelope: veilpost_store::Envelope,
        raw: Vec<u8>,
    ) -> veilpost_web::BoxFuture<'_, Result<String, veilpost_web::BoxError>> {
        Box::pin(async move {
            let id = self.0.store.spool(envelope, raw).await?;
            self.0.wake_processor.notify_one();
            Ok(id)
        })
    }

    fn posture(
        &self,
        lang: Lang,
    ) -> veilpost_web::BoxFuture<'_, Result<Vec<veilpost_web::PostureView>, veilpost_web::BoxError>>
    {
        Box::pin(async move { self.domains(lang).await.map_err(Into::into) })
    }

    fn health(&self) -> veilpost_web::BoxFuture<'_, Vec<veilpost_web::health::HealthCheck>> {
        Box::pin(health::checks(&self.0))
    }

    fn acme_challenge(&self, token: &str) -> Option<String> {
        self.0
            .acme_answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }
}

impl GatewayMailer {
    async fn send_generated(&self, to: String, raw: Vec<u8>) -> Result<()> {
        let g = processor::generated_mail(
            &self.0,
            raw,
            String::new(),
            &to,
            veilpost_store::Origin::Portal,
        )
        .await?;
        self.0.store.enqueue_generated(g).await?;
        self.0.wake_delivery.notify_one();
        Ok(())
    }

    /// The organisation's own domains checked as `veilpost check-domain` does.
    async fn domains(&self, lang: Lang) -> Result<Vec<veilpost_web::PostureView>> {
        {
            let shared = &self.0;
            let checker = veilpost_posture::Checker::new(
                &shared.dns,
                veilpost_posture::Options {
                    lang,
                    dkim_selectors: vec![shared.dkim.selector()],
                    https_port: shared.config.delivery.mta_sts_port,
                    extra_roots_pem: read_ca_files(&shared.config.delivery.ca_files)?,
                    only_extra_roots: shared.config.delivery.ca_only,
                    deadline: Duration::from_secs(20),
                    dmarc_report_address: Some(shared.config.dmarc_address()),
                    tlsrpt_report_address: Some(shared.config.tlsrpt_address()),
                    ..veilpost_posture::Options::default()
                },
            )?;
            let zone = shared.dkim.zone_lines();
            let mut out = Vec::new();
            for domain in &shared.config.organisation.domains {
                let report = checker.check(domain).await?;
                let suffix = format!("._domainkey.{}.", domain.trim_end_matches('.'));
                out.push(veilpost_web::PostureView {
                    domain: domain.clone(),
                    checks: report
                        .checks
                        .iter()
                        .map(|c| veilpost_web::PostureCheck {
                            id: c.id.clone(),
                            status: c.status.as_str().to_string(),
                            detail: c.detail.clone(),
                            advice: c.advice.clone().unwrap_or_default(),
                        })
                        .collect(),
                    records: zone
                        .iter()
                        .filter(|l| {
                            l.split_whitespace()
                                .next()
                                .is_some_and(|n| n.ends_with(&suffix))
                        })
                        .cloned()
                        .collect(),
                });
            }
            Ok(out)
        }
    }
}

/// Once a minute: shred portal messages whose time is up (their keys go), end idle
/// sessions, forget day-old contact forms; once an hour: drop audit entries past
/// retention.
/// Reverse DNS for report sources not named yet (a hundred a minute, each bounded, each
/// address once): the reports pages show names without waiting for DNS. `since`: reports
/// received from then on are read (0 at start: all of them), moved on to the start of a
/// run that named every source it found.
async fn name_report_sources(shared: &Shared, since: &mut i64) {
    const PER_RUN: i64 = 100;
    let started = shared.store.now();
    let ips = match shared.store.ips_to_name(*since, PER_RUN).await {
        Ok(ips) => ips,
        Err(err) => {
            tracing::error!("report sources to name: {err}");
            return;
        }
    };
    let all_of_them = (ips.len() as i64) < PER_RUN;
    for ip in ips {
        let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
            let _ = shared.store.set_ip_name(&ip, "").await;
            continue;
        };
        let name = match tokio::time::timeout(
            Duration::from_secs(3),
            shared.resolver.reverse_lookup(addr),
        )
        .await
        {
            Ok(Ok(found)) => found
                .answers()
                .iter()
                .find_map(|r| match &r.data {
                    hickory_proto::rr::RData::PTR(p) => Some(p.0.to_utf8()),
                    _ => None,
                })
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                .unwrap_or_default(),
            _ => String::new(),
        };
        if let Err(err) = shared.store.set_ip_name(&ip, &name).await {
            tracing::error!("report source name: {err}");
            return;
        }
    }
    if all_of_them {
        *since = started;
    }
}

/// What is read again without a restart, on SIGHUP and when files change (looked at
/// every 30 s): the STARTTLS certificate and the DKIM keys with their rotation.
async fn reloads(shared: Arc<Shared>, live_cert: Arc<certs::LiveCert>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("no SIGHUP handler, files are only looked at every 30 s: {e}");
            None
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        let force = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
        };
        if force {
            match shared.reload_config() {
                Ok(()) => tracing::info!(
                    "SIGHUP: configuration reloaded (policy and delivery.routes; other keys apply at restart)"
                ),
                Err(e) => tracing::error!(
                    "SIGHUP: configuration not reloaded, the current one stays: {e:#}"
                ),
            }
        }
        certs::reload(&live_cert, force).await;
        match shared.dkim.refresh(&shared.config, force) {
            Ok(true) => tracing::info!(
                "DKIM keys read again; signing with selector {}",
                shared.dkim.selector()
            ),
            Ok(false) => {}
            Err(e) => tracing::error!("DKIM keys not read again, the current ones sign: {e:#}"),
        }
    }
}

async fn housekeeping(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut last_retention = 0i64;
    let mut named_since = 0i64;
    loop {
        tick.tick().await;
        let now = shared.store.now();
        match shared.store.portal_expired(now, 500).await {
            Ok(expired) => {
                for e in expired {
                    match shared.store.shred(&e.id, "expired").await {
                        Ok(true) => {
                            let _ = shared
                                .store
                                .audit_event(veilpost_store::AuditEvent {
                                    actor: "veilpost".into(),
                                    action: "message.expired".into(),
                                    subject: Some(format!("message {} / {}", e.message_id, e.id)),
                                    detail: Some(format!("recipient {}", e.recipient)),
                                    ip: None,
                                    outcome: Some("shredded".into()),
                                })
                                .await;
                        }
                        Ok(false) => {}
                        Err(err) => tracing::error!("expiring {}: {err}", e.id),
                    }
                }
            }
            Err(err) => tracing::error!("finding expired portal messages: {err}"),
        }
        if let Err(err) = digest::run_if_due(&shared).await {
            tracing::error!("quarantine digest: {err:#}");
        }
        // Shared limit counts: none looks back more than an hour.
        if shared.store.shares_limits()
            && let Err(err) = shared.store.purge_events(now - 86_400).await
        {
            tracing::error!("purging limit counts: {err}");
        }
        // Temporary staff whose last day has passed: disabled now, sessions ended.
        let today = time::OffsetDateTime::now_utc().date();
        match shared.store.expire_accounts(today).await {
            Ok(gone) => {
                for email in gone {
                    tracing::info!("account {email} passed its end date: disabled");
                    let _ = shared
                        .store
                        .audit(
                            "veilpost",
                            "user.expired",
                            Some(&email),
                            Some("end date passed"),
                        )
                        .await;
                }
            }
            Err(err) => tracing::error!("end dates: {err}"),
        }
        let idle = (shared.config.portal.idle_timeout_minutes * 60) as i64;
        if let Err(err) = shared
            .store
            .expire_sessions(
                veilpost_store::SessionKind::Staff,
                now - idle,
                now - 8 * 3600,
            )
            .await
        {
            tracing::error!("ending idle staff sessions: {err}");
        }
        if let Err(err) = shared
            .store
            .expire_sessions(
                veilpost_store::SessionKind::Portal,
                now - idle,
                now - 8 * 3600,
            )
            .await
        {
            tracing::error!("ending idle sessions: {err}");
        }
        // A contact form is good for a day; then the patient's address goes.
        if let Err(err) = shared.store.forget_intakes(now - 86_400).await {
            tracing::error!("forgetting old contact forms: {err}");
        }
        name_report_sources(&shared, &mut named_since).await;
        if now - last_retention >= 3600 {
            last_retention = now;
            let cutoff = now - (shared.config.audit.retention_days * 86_400) as i64;
            match shared.store.audit_retention(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("audit retention: removed {n} entries before {cutoff}"),
                Err(err) => tracing::error!("audit retention: {err}"),
            }
            match crate::reports::purge(&shared.store, &shared.config).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("report retention: removed {n} DMARC/TLS reports"),
                Err(err) => tracing::error!("report retention: {err:#}"),
            }
        }
    }
}

/// The DNS configuration from `dns.nameservers` (or `--dns`, which wins).
pub fn dns_config(config: &Config, cli: &[String]) -> Result<veilpost_dns::DnsConfig> {
    crate::dns_config(if cli.is_empty() {
        &config.dns.nameservers
    } else {
        cli
    })
}

/// The PEM text of extra CA files (`delivery.ca_files`, `check-domain --ca-file`).
pub(crate) fn read_ca_files(files: &[PathBuf]) -> Result<Vec<String>> {
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display())))
        .collect()
}

/// One `serve` per data directory: the SQLite store has a single owner, which is what
/// lets it release a killed predecessor's leases at start. The lock goes with the process.
pub(crate) fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `veilpost serve` is using {}; stop it first",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Run the gateway until it is stopped.
pub async fn serve(
    config: Config,
    config_path: Option<&std::path::Path>,
    dns_cli: &[String],
) -> Result<()> {
    let _lock = lock_data_dir(&config.data_dir)?;
    let master_key = Arc::new(config.master_key()?);
    let store = config.open_store_with(Some(&master_key)).await?;
    // On SQLite this process owns the store now: what a killed predecessor had in hand is
    // free. (On PostgreSQL other nodes may be at work; a dead one's leases run out.)
    let (messages, deliveries) = store.release_leases().await?;
    if messages + deliveries > 0 {
        tracing::warn!(
            "resuming after an unclean stop: {messages} message(s) and {deliveries} delivery(ies) taken up again"
        );
    }
    let mut shared = shared(&config, &store, master_key, dns_cli)?;
    shared.config_path = config_path.map(std::path::Path::to_path_buf);
    let shared = Arc::new(shared);
    let (tls, live_cert) = certs::server_tls(&config)?;
    let smtp_addr: SocketAddr = config.smtp.submission_listen.parse()?;
    let web_addr: SocketAddr = config.web.listen.parse()?;
    let smtp_listener = tokio::net::TcpListener::bind(smtp_addr)
        .await
        .with_context(|| format!("cannot listen on {smtp_addr} (smtp.submission_listen)"))?;
    let web_listener = tokio::net::TcpListener::bind(web_addr)
        .await
        .with_context(|| format!("cannot listen on {web_addr} (web.listen)"))?;

    // Installed before any listener takes work, so every message is counted.
    let metrics = metrics::listen(&config, &store).await?;
    let metrics_done = async {
        match metrics {
            Some(h) => h.await,
            None => std::future::pending().await,
        }
    };
    // One set of limits for the web and SMTP AUTH: a wrong password counts the same
    // wherever it is typed.
    let limits: Arc<std::sync::Mutex<veilpost_web::Limits>> = Default::default();
    let smtp = tokio::spawn(veilpost_smtp::serve(
        smtp_listener,
        Arc::new(smtp_settings(&config)),
        Some(tokio_rustls::TlsAcceptor::from(tls.clone())),
        backend::SmtpBackend::new(shared.clone(), limits.clone()),
    ));
    // The MX listener, when configured: mail for our domains, judged and relayed on.
    let mx = if config.smtp.inbound_listen.is_empty() {
        None
    } else {
        let addr: SocketAddr = config.smtp.inbound_listen.parse()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (smtp.inbound_listen)"))?;
        let mut settings = smtp_settings(&config);
        settings.limits.offer_auth = false;
        Some(tokio::spawn(veilpost_smtp::serve(
            listener,
            Arc::new(settings),
            Some(tokio_rustls::TlsAcceptor::from(tls)),
            inbound::InboundBackend::new(shared.clone())?,
        )))
    };
    let mx_done = async {
        match mx {
            Some(h) => h.await,
            None => std::future::pending().await,
        }
    };
    // The milter listener, when configured: Postfix asks before it takes a message.
    let milter = if config.milter.listen.is_empty() {
        None
    } else {
        let addr: SocketAddr = config.milter.listen.parse()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (milter.listen)"))?;
        Some(tokio::spawn(milter::serve(
            listener,
            inbound::InboundBackend::new(shared.clone())?,
            milter::Settings {
                limits: veilpost_smtp::milter::MilterLimits {
                    max_message_size: config.smtp.max_message_size,
                    max_recipients: config.smtp.max_recipients,
                },
                max_connections: config.smtp.max_connections,
                fail_closed: config.milter.fail_closed,
            },
        )))
    };
    let milter_done = async {
        match milter {
            Some(h) => h.await,
            None => std::future::pending().await,
        }
    };
    let web = tokio::spawn(veilpost_web::serve(
        web_listener,
        veilpost_web::WebState {
            store: store.clone(),
            organisation: config.organisation.name.clone(),
            settings: Arc::new(veilpost_web::PortalSettings {
                // The branding read once, at start-up, with the logo.
                brand: shared.brand.clone(),
                ..config.portal_settings()
            }),
            master_key: shared.master_key.clone(),
            sms: config.sms_sender(),
            mailer: Arc::new(GatewayMailer(shared.clone())),
            limits,
        },
    ));
    // The key is loaded (or made) before anything runs: a node that cannot sign its
    // audit checkpoints does not start.
    let checkpoint_key =
        veilpost_store::checkpoint::CheckpointKey::load_or_create(&config.checkpoint_key_file())?;
    tokio::spawn(checkpoints::run(shared.clone(), checkpoint_key));
    tokio::spawn(acme::run(shared.clone(), live_cert.clone()));
    tokio::spawn(reloads(shared.clone(), live_cert));
    tokio::spawn(syslog::run(shared.clone()));
    tokio::spawn(housekeeping(shared.clone()));
    tokio::spawn(processor::run(shared.clone()));
    tokio::spawn(leases::renew(shared.clone()));
    if let Some(listener) = shared.store.work_listener().await? {
        tokio::spawn(leases::hear_work(shared.clone(), listener));
    }
    tokio::spawn(delivery::run(shared.clone()));
    tokio::spawn(delivery::purge(shared.clone()));
    tokio::spawn(delivery::close_idle(shared.clone()));

    banner(&config, &store, &shared, smtp_addr, web_addr).await?;
    tokio::select! {
        r = smtp => { r.context("SMTP listener")?; }
        r = mx_done => { r.context("MX listener")?; }
        r = milter_done => { r.context("milter listener")??; }
        r = web => { r.context("web server")?.context("web server")?; }
        r = metrics_done => { r.context("metrics listener")?.context("metrics listener")?; }
        r = tokio::signal::ctrl_c() => { r?; say!("stopping"); }
    }
    Ok(())
}

/// Everything the workers share, built from the configuration: resolvers, the delivery
/// client, keys, the scanner, TLS and DKIM.
fn shared(
    config: &Config,
    store: &Store,
    master_key: Arc<MasterKey>,
    dns_cli: &[String],
) -> Result<Shared> {
    let dns = dns_config(config, dns_cli)?;
    let resolver = veilpost_dns::resolver(&dns)?;
    let validating = veilpost_dns::validating_resolver(&dns, None)?;
    let ca = read_ca_files(&config.delivery.ca_files)?;
    let posture = veilpost_posture::Checker::new(
        &dns,
        veilpost_posture::Options {
            https_port: config.delivery.mta_sts_port,
            extra_roots_pem: ca.clone(),
            only_extra_roots: config.delivery.ca_only,
            connect_timeout: Duration::from_secs(15),
            ..veilpost_posture::Options::default()
        },
    )?;
    let client = ClientSettings::new(&config.smtp.hostname, &ca, config.delivery.ca_only)
        .map_err(|e| anyhow::anyhow!("delivery TLS: {e}"))?;
    let exe = std::env::current_exe().context("cannot find own executable for the PDF sandbox")?;
    let scanner = config.dlp.scanner(
        Scanner::new()
            .with_pdf_extractor(Arc::new(SandboxedPdf::new(exe, SandboxLimits::default()))),
    )?;
    let trusted = config
        .smtp
        .trusted_networks
        .iter()
        .map(|n| parse_cidr(n))
        .collect::<Result<Vec<_>>>()?;
    let dkim = dkim::Keys::load(config, true)?;

    Ok(Shared {
        live: std::sync::RwLock::new(Arc::new(Live::of(config))),
        syslog: syslog::sender(config),
        acme_answers: std::sync::Mutex::default(),
        config_path: None,
        report_addresses: [config.dmarc_address(), config.tlsrpt_address()],
        held: Arc::default(),
        config: config.clone(),
        store: store.clone(),
        trusted,
        scanner,
        dkim,
        master_key: master_key.clone(),
        resolver,
        validating,
        posture,
        dns: dns.clone(),
        client,
        readiness: health::Answer::default(),
        sessions: veilpost_smtp::SessionCache::new(
            std::time::Duration::from_secs(config.delivery.connection_cache_seconds),
            config.delivery.destination_concurrency,
        ),
        wake_processor: Notify::new(),
        wake_delivery: Notify::new(),
        sms: config.sms_sender(),
        cores: cores::Cores::new(std::thread::available_parallelism().map_or(2, |n| n.get()))?,
        brand: config.brand()?,
    })
}

/// The SMTP server's limits and time-outs from `[smtp]`.
fn smtp_settings(config: &Config) -> veilpost_smtp::Settings {
    veilpost_smtp::Settings {
        limits: veilpost_smtp::Limits {
            hostname: config.smtp.hostname.clone(),
            max_message_size: config.smtp.max_message_size,
            max_recipients: config.smtp.max_recipients,
            check_recipients: true,
            ..veilpost_smtp::Limits::default()
        },
        command_timeout: Duration::from_secs(config.smtp.command_timeout.max(1)),
        data_timeout: Duration::from_secs(config.smtp.command_timeout.max(1)),
        max_connections: config.smtp.max_connections,
    }
}

/// What the operator sees at start: where everything listens, the first admin's link,
/// the DKIM records to publish.
async fn banner(
    config: &Config,
    store: &Store,
    shared: &Shared,
    smtp_addr: SocketAddr,
    web_addr: SocketAddr,
) -> Result<()> {
    say!("Veilpost draait / is running:");
    say!("  SMTP submission: {smtp_addr} (STARTTLS, AUTH)");
    say!(
        "  web:             {} ({})",
        web_addr,
        config.web.public_url
    );
    say!(
        "  store:           {}; blobs {}",
        config.database()?.display(),
        store.blobs().describe()
    );
    say!(
        "  delivery:        {}",
        if config.delivery.mode == "outbox" {
            format!(
                "outbox {} (nothing leaves this machine)",
                config.data_dir.join("outbox").display()
            )
        } else {
            "mx".to_string()
        }
    );
    if config.delivery.mode == "outbox" {
        say!(
            "  uitgaande post / outgoing post (mail and SMS): {}/outbox",
            config.web.public_url.trim_end_matches('/')
        );
    }
    if !config.intake.mailbox.is_empty() {
        say!(
            "  contactformulier / contact form:  {}/contact -> {}",
            config.web.public_url.trim_end_matches('/'),
            config.intake.mailbox
        );
    }
    if !config.smtp.inbound_listen.is_empty() {
        say!(
            "  inbound (MX):    {} -> {} (authserv-id {})",
            config.smtp.inbound_listen,
            config.inbound.relay_to,
            config.authserv_id()
        );
    }
    if !config.milter.listen.is_empty() {
        say!(
            "  inbound (milter): {} (fail {}; quarantine released to {})",
            config.milter.listen,
            if config.milter.fail_closed {
                "closed"
            } else {
                "open"
            },
            config.inbound.relay_to,
        );
    }
    say!(
        "  medewerkers / staff sign-in: {}/login",
        config.web.public_url.trim_end_matches('/')
    );
    if store
        .list_users()
        .await?
        .iter()
        .all(|u| u.role != veilpost_store::Role::Admin)
    {
        let token = store.first_admin_link().await?;
        say!(
            "  eerste aanmelding beheerder / first admin sign-in: {}/setup/{token}",
            config.web.public_url.trim_end_matches('/')
        );
    }
    for line in shared.dkim.zone_lines() {
        say!("  DKIM: {line}");
    }

    Ok(())
}
