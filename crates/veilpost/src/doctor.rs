//! `veilpost doctor [--format json]`: check an installation the way an operator would,
//! before and after it goes live. Every check has an id, a status (`pass`, `warn`,
//! `fail`, `info`, as `check-domain`), what was found and what to do about it.
//!
//! - `config.*`: the configuration reads, and the choices a live installation should not
//!   keep (mail and SMS captured in local outboxes, a plain-HTTP public URL).
//! - `listen.*`: every configured listener can be bound (or is held by the running node).
//! - `database`, `blobs`, `disk`: the store answers; the spool's disk has room.
//! - `certificate`: the TLS certificate exists, is valid now and for a while, and names
//!   the host names (`smtp.hostname`, the public URL's host).
//! - `dkim.DOMAIN`: a key is there and the published record carries it.
//! - `spf.DOMAIN.this-host`: the domain's SPF lets this host send.
//! - `dns.DOMAIN.*`: the posture checks of `check-domain` (MX, SPF, DMARC, MTA-STS, TLS-RPT,
//!   DNSSEC/TLSA, NTA 7516), with this gateway's DKIM selector.
//! - `sms`, `clamd`: the SMS provider can be reached (nothing is sent), clamd answers.
//!
//! Gathering (I/O) and grading are apart: the grading functions are pure and table-tested.
//! Exit status: 1 when a check fails, else 0.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use veilpost_posture::{Check, Status};

use crate::config::Config;
use crate::gateway::certs::CertFacts;
use crate::lang::Lang;
use crate::senderauth::Format;

fn check(id: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        id: id.into(),
        status,
        detail: detail.into(),
        advice: None,
    }
}

fn with_advice(mut c: Check, advice: impl Into<String>) -> Check {
    c.advice = Some(advice.into());
    c
}

/// How binding a listener went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// Bound (and let go again).
    Free,
    /// In use, and our own `/healthz/live` answers there (the running node).
    OursRunning,
    /// In use by something else.
    InUse,
    /// Cannot be bound (no such address here, no permission).
    Refused(String),
}

/// A listener's check.
pub fn grade_listener(lang: Lang, key: &str, addr: &str, bind: &Bind) -> Check {
    let id = format!("listen.{key}");
    match bind {
        Bind::Free => check(id, Status::Pass, format!("{addr} ({key})")),
        Bind::OursRunning => check(
            id,
            Status::Pass,
            format!(
                "{addr}: {}",
                lang.t("in gebruik door de draaiende Veilpost", "in use by the running Veilpost")
            ),
        ),
        Bind::InUse => with_advice(
            check(
                id,
                Status::Warn,
                format!("{addr}: {}", lang.t("al in gebruik", "already in use")),
            ),
            lang.t(
                "Is `veilpost serve` al gestart? Anders: stop wat er luistert, of kies een ander adres.",
                "Is `veilpost serve` running already? Otherwise stop what listens there, or pick another address.",
            ),
        ),
        Bind::Refused(why) => with_advice(
            check(id, Status::Fail, format!("{addr}: {why}")),
            format!(
                "{} {key}.",
                lang.t(
                    "Gebruik een adres van deze machine (poorten onder 1024 vragen CAP_NET_BIND_SERVICE) in",
                    "Use an address of this machine (ports below 1024 need CAP_NET_BIND_SERVICE) in"
                )
            ),
        ),
    }
}

/// Free space on the spool's disk: below 512 MiB or 2 % fails, below 2 GiB or 10 % warns.
pub fn grade_disk(lang: Lang, free: u64, total: u64) -> Check {
    let mib = free / (1 << 20);
    let pct = if total == 0 {
        0.0
    } else {
        free as f64 * 100.0 / total as f64
    };
    let detail = format!("{mib} MiB {} ({pct:.0} %)", lang.t("vrij", "free"));
    let advice = lang.t(
        "Maak ruimte of geef de data-map meer schijf: bij te weinig ruimte neemt de gateway geen berichten meer aan.",
        "Free space or give the data directory a larger disk: short of space, the gateway stops taking messages.",
    );
    if free < 512 << 20 || pct < 2.0 {
        with_advice(check("disk", Status::Fail, detail), advice)
    } else if free < 2 << 30 || pct < 10.0 {
        with_advice(check("disk", Status::Warn, detail), advice)
    } else {
        check("disk", Status::Pass, detail)
    }
}

/// Whether `pattern` (a certificate name, `*.` wildcards in the first label) covers `host`.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == host,
    }
}

/// The certificate's check at `now` for the host names it must carry.
pub fn grade_certificate(
    lang: Lang,
    cert: &Result<CertFacts, String>,
    hosts: &[String],
    now: i64,
) -> Check {
    let c = match cert {
        Err(why) => {
            return with_advice(
                check("certificate", Status::Fail, why.clone()),
                lang.t(
                    "Zet smtp.tls_cert en smtp.tls_key op een leesbaar PEM-certificaat en de sleutel.",
                    "Point smtp.tls_cert and smtp.tls_key at a readable PEM certificate and its key.",
                ),
            );
        }
        Ok(c) => c,
    };
    let days = (c.not_after - now) / 86_400;
    if now < c.not_before || now >= c.not_after {
        return with_advice(
            check(
                "certificate",
                Status::Fail,
                lang.t("niet geldig op dit moment", "not valid at this moment"),
            ),
            lang.t("Vernieuw het certificaat.", "Renew the certificate."),
        );
    }
    let missing: Vec<&String> = hosts
        .iter()
        .filter(|h| h.parse::<IpAddr>().is_err())
        .filter(|h| !c.names.iter().any(|n| name_matches(n, h)))
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|h| h.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return with_advice(
            check(
                "certificate",
                Status::Fail,
                format!("{} {list}", lang.t("noemt niet:", "does not name:")),
            ),
            lang.t(
                "Vraag een certificaat aan voor elke hostnaam (smtp.hostname en de host van web.public_url).",
                "Get a certificate for every host name (smtp.hostname and the host of web.public_url).",
            ),
        );
    }
    let detail = format!(
        "{} {days} {}",
        lang.t("geldig nog", "valid for"),
        lang.t("dagen", "days")
    );
    if c.self_signed {
        with_advice(
            check("certificate", Status::Warn, format!("{detail}; {}", lang.t("zelfgemaakt (self-signed)", "self-signed, made by Veilpost"))),
            lang.t(
                "Gebruik een certificaat van een erkende CA (smtp.tls_cert of [acme]), zodat verzenders TLS kunnen controleren (MTA-STS, DANE).",
                "Use a certificate from a recognised CA (smtp.tls_cert or [acme]) so senders can authenticate TLS (MTA-STS, DANE).",
            ),
        )
    } else if days < 14 {
        with_advice(
            check("certificate", Status::Warn, detail),
            lang.t(
                "Vernieuw het certificaat binnenkort.",
                "Renew the certificate soon.",
            ),
        )
    } else {
        check("certificate", Status::Pass, detail)
    }
}

/// The configuration's own choices.
pub fn grade_config(lang: Lang, config: &Config) -> Vec<Check> {
    let mut out = vec![check(
        "config",
        Status::Pass,
        format!(
            "{}: {}",
            lang.t("gelezen; domeinen", "read; domains"),
            config.organisation.domains.join(", ")
        ),
    )];
    if config.organisation.domains.is_empty() {
        out.push(with_advice(
            check(
                "config.domains",
                Status::Fail,
                lang.t(
                    "geen domeinen van de organisatie",
                    "no organisation domains",
                ),
            ),
            lang.t(
                "Zet organisation.domains op de maildomeinen van de organisatie.",
                "Set organisation.domains to the organisation's mail domains.",
            ),
        ));
    }
    if config.delivery.mode == "outbox" {
        out.push(with_advice(
            check(
                "config.delivery",
                Status::Warn,
                lang.t(
                    "uitgaande post gaat naar een lokale outbox, niet naar internet",
                    "outgoing mail goes to a local outbox, not to the internet",
                ),
            ),
            lang.t(
                "Zet delivery.mode = \"mx\" om echt te bezorgen.",
                "Set delivery.mode = \"mx\" to deliver for real.",
            ),
        ));
    } else {
        out.push(check("config.delivery", Status::Pass, "mx"));
    }
    if config.sms.provider == "outbox" {
        out.push(with_advice(
            check(
                "config.sms",
                Status::Warn,
                lang.t("sms'jes gaan naar een lokale outbox", "text messages go to a local outbox"),
            ),
            lang.t(
                "Kies sms.provider = \"cm\" of \"webhook\", anders krijgen ontvangers hun code niet.",
                "Choose sms.provider = \"cm\" or \"webhook\", or recipients never get their code.",
            ),
        ));
    }
    let url = &config.web.public_url;
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p));
    if url.starts_with("http://") && !local {
        out.push(with_advice(
            check("config.public_url", Status::Fail, url.clone()),
            lang.t(
                "Het portaal moet via https bereikbaar zijn: zet web.public_url op https://… (achter een TLS-proxy).",
                "The portal must be reached over https: set web.public_url to https://… (behind a TLS proxy).",
            ),
        ));
    } else if local {
        out.push(with_advice(
            check(
                "config.public_url",
                Status::Warn,
                format!(
                    "{url}: {}",
                    lang.t("alleen op deze machine", "this machine only")
                ),
            ),
            lang.t(
                "Ontvangers buiten deze machine kunnen de links niet openen: zet web.public_url.",
                "Recipients elsewhere cannot open the links: set web.public_url.",
            ),
        ));
    } else {
        out.push(check("config.public_url", Status::Pass, url.clone()));
    }
    out
}

/// The SPF check for this host.
pub fn grade_spf(lang: Lang, domain: &str, ip: Option<IpAddr>, result: Option<&str>) -> Check {
    let id = format!("spf.{domain}.this-host");
    let advice = |ip: &str| {
        format!(
            "{} ip{}:{ip} {}",
            lang.t("Neem", "Add"),
            if ip.contains(':') { 6 } else { 4 },
            lang.t(
                "(of een include van uw provider) op in het SPF-record van het domein.",
                "(or your provider's include) to the domain's SPF record."
            )
        )
    };
    match (ip, result) {
        (None, _) => with_advice(
            check(
                id,
                Status::Warn,
                lang.t(
                    "het adres van smtp.hostname is niet gevonden",
                    "the address of smtp.hostname was not found",
                ),
            ),
            lang.t(
                "Publiceer een A/AAAA-record voor smtp.hostname.",
                "Publish an A/AAAA record for smtp.hostname.",
            ),
        ),
        (Some(ip), Some("pass")) => check(id, Status::Pass, format!("{ip}: pass")),
        (Some(ip), Some(word @ ("temperror" | "permerror"))) => with_advice(
            check(id, Status::Warn, format!("{ip}: {word}")),
            advice(&ip.to_string()),
        ),
        (Some(ip), word) => with_advice(
            check(
                id,
                Status::Fail,
                format!("{ip}: {}", word.unwrap_or("none")),
            ),
            advice(&ip.to_string()),
        ),
    }
}

/// The DKIM check: our record against what DNS publishes.
pub fn grade_dkim(lang: Lang, domain: &str, ours: Option<&str>, published: &[String]) -> Check {
    let id = format!("dkim.{domain}");
    let Some(ours) = ours else {
        return with_advice(
            check(id, Status::Fail, lang.t("geen sleutel", "no key")),
            lang.t(
                "Start `veilpost serve` eenmaal (die maakt de sleutel) of zet de sleutel in dkim.key_dir.",
                "Start `veilpost serve` once (it makes the key) or put the key in dkim.key_dir.",
            ),
        );
    };
    let key_of = |record: &str| -> Option<String> {
        record.split(';').find_map(|tag| {
            let (k, v) = tag.split_once('=')?;
            (k.trim() == "p").then(|| v.chars().filter(|c| !c.is_whitespace()).collect())
        })
    };
    let our_key = key_of(ours);
    if published
        .iter()
        .any(|r| key_of(r).is_some() && key_of(r) == our_key)
    {
        check(
            id,
            Status::Pass,
            lang.t("gepubliceerd, zelfde sleutel", "published, same key"),
        )
    } else if published.is_empty() {
        with_advice(
            check(
                id,
                Status::Fail,
                lang.t("niet gepubliceerd", "not published"),
            ),
            format!("{}: {ours}", lang.t("Publiceer", "Publish")),
        )
    } else {
        with_advice(
            check(
                id,
                Status::Fail,
                lang.t(
                    "gepubliceerd met een andere sleutel",
                    "published with another key",
                ),
            ),
            format!(
                "{}: {ours}",
                lang.t("Vervang het record door", "Replace the record with")
            ),
        )
    }
}

/// Try to bind `addr`; when it is taken, ask whether our own node answers there.
async fn try_bind(addr: &str, web: bool) -> Bind {
    let parsed: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(e) => return Bind::Refused(e.to_string()),
    };
    match tokio::net::TcpListener::bind(parsed).await {
        Ok(_) => Bind::Free,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let url = crate::healthcheck::ready_url(addr).replace("/ready", "/live");
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build();
            let ours = match (web, client) {
                (true, Ok(c)) => c
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                _ => false,
            };
            if ours { Bind::OursRunning } else { Bind::InUse }
        }
        Err(e) => Bind::Refused(e.to_string()),
    }
}

/// Can a TCP connection be made to `host:port` (nothing is sent)?
async fn reachable(host_port: &str) -> Result<(), String> {
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(host_port),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 5 s".into()),
    }
}

/// `host:port` of an http(s) URL.
fn url_host_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority.is_empty() {
        return None;
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']');
    Some(if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if scheme == "https" { 443 } else { 80 })
    })
}

async fn gather(config: &Config, dns_cli: &[String], lang: Lang) -> Result<Vec<Check>> {
    let mut checks = grade_config(lang, config);
    listeners(config, lang, &mut checks).await;
    storage(config, lang, &mut checks).await?;
    checks.push(certificate(config, lang));
    domains(config, dns_cli, lang, &mut checks).await?;
    services(config, lang, &mut checks).await;
    Ok(checks)
}

/// Each listener: free to bind, or held by this node running.
async fn listeners(config: &Config, lang: Lang, checks: &mut Vec<Check>) {
    let mut listeners = vec![
        (
            "smtp.submission_listen",
            config.smtp.submission_listen.clone(),
            false,
        ),
        ("web.listen", config.web.listen.clone(), true),
    ];
    for (key, addr) in [
        ("smtp.inbound_listen", &config.smtp.inbound_listen),
        ("milter.listen", &config.milter.listen),
        ("metrics.listen", &config.metrics.listen),
    ] {
        if !addr.is_empty() {
            listeners.push((key, addr.clone(), false));
        }
    }
    let web_running = try_bind(&config.web.listen, true).await == Bind::OursRunning;
    for (key, addr, web) in listeners {
        let mut bind = try_bind(&addr, web).await;
        // The node that holds the web listener holds the others too.
        if bind == Bind::InUse && web_running {
            bind = Bind::OursRunning;
        }
        checks.push(grade_listener(lang, key, &addr, &bind));
    }
}

/// The database, the blob store and the disk under the data directory.
async fn storage(config: &Config, lang: Lang, checks: &mut Vec<Check>) -> Result<()> {
    match config.open_store().await {
        Ok(store) => {
            checks.push(match store.check_database().await {
                Ok(()) => check("database", Status::Pass, config.database()?.display()),
                Err(e) => check("database", Status::Fail, e.to_string()),
            });
            checks.push(match store.blobs().check().await {
                Ok(()) => check("blobs", Status::Pass, store.blobs().describe()),
                Err(e) => check("blobs", Status::Fail, e.to_string()),
            });
        }
        Err(e) => checks.push(with_advice(
            check("database", Status::Fail, format!("{e:#}")),
            lang.t(
                "Controleer store.database_url en of de database bereikbaar is.",
                "Check store.database_url and that the database can be reached.",
            ),
        )),
    }
    checks.push(match rustix::fs::statvfs(&config.data_dir) {
        Ok(s) => grade_disk(
            lang,
            s.f_bavail.saturating_mul(s.f_frsize),
            s.f_blocks.saturating_mul(s.f_frsize),
        ),
        Err(e) => check(
            "disk",
            Status::Fail,
            format!("{}: {e}", config.data_dir.display()),
        ),
    });
    Ok(())
}

/// The STARTTLS certificate, for the host names the node answers to.
fn certificate(config: &Config, lang: Lang) -> Check {
    let mut hosts = vec![config.smtp.hostname.clone()];
    if let Some(host) = url_host_port(&config.web.public_url).and_then(|hp| {
        hp.rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
    }) && !hosts.contains(&host)
    {
        hosts.push(host);
    }
    let (cert_path, _) = crate::gateway::certs::paths(config);
    if config.smtp.tls_cert.is_empty() && !cert_path.exists() {
        // Not started yet: the gateway makes one at first start (or orders it by ACME).
        with_advice(
            check(
                "certificate",
                Status::Warn,
                lang.t(
                    "nog geen: bij de eerste start maakt Veilpost er zelf een",
                    "none yet: Veilpost makes one at first start",
                ),
            ),
            lang.t(
                "Configureer smtp.tls_cert/smtp.tls_key of [acme] voor een certificaat dat verzenders kunnen controleren.",
                "Configure smtp.tls_cert/smtp.tls_key or [acme] for a certificate senders can authenticate.",
            ),
        )
    } else {
        grade_certificate(
            lang,
            &crate::gateway::certs::facts(&cert_path),
            &hosts,
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
    }
}

/// DNS for each organisation domain: DKIM published as the key signs, SPF passing this
/// host, and the posture engine's checks.
async fn domains(
    config: &Config,
    dns_cli: &[String],
    lang: Lang,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let dns = crate::gateway::dns_config(config, dns_cli)?;
    let resolver = veilpost_dns::resolver(&dns)?;
    let dkim = crate::gateway::dkim::Keys::load(config, false).ok();
    let selector = dkim
        .as_ref()
        .map_or_else(|| config.dkim.selector.clone(), |k| k.selector());
    let authenticator = veilpost_senderauth::Authenticator::new(&dns, config.authserv_id())?
        .with_deadline(Duration::from_secs(10));
    let ip = resolver
        .lookup_ip(config.smtp.hostname.as_str())
        .await
        .ok()
        .and_then(|l| l.iter().next());
    let checker = veilpost_posture::Checker::new(
        &dns,
        veilpost_posture::Options {
            lang,
            dkim_selectors: vec![selector.clone()],
            deadline: Duration::from_secs(20),
            dmarc_report_address: Some(config.dmarc_address()),
            tlsrpt_report_address: Some(config.tlsrpt_address()),
            ..veilpost_posture::Options::default()
        },
    )?;
    for domain in &config.organisation.domains {
        let ours = dkim.as_ref().and_then(|k| k.record(domain));
        let name = format!("{selector}._domainkey.{domain}.");
        let published = {
            use veilpost_senderauth::spf::{Answer, HickorySpf, SpfResolver};
            match HickorySpf(&resolver).txt(&name).await {
                Answer::Records(r) => r,
                _ => Vec::new(),
            }
        };
        checks.push(grade_dkim(lang, domain, ours.as_deref(), &published));
        let spf = match ip {
            Some(ip) => Some(
                authenticator
                    .check_spf(ip, &config.smtp.hostname, &format!("postmaster@{domain}"))
                    .await
                    .result
                    .as_str(),
            ),
            None => None,
        };
        checks.push(grade_spf(lang, domain, ip, spf));
        match checker.check(domain).await {
            Ok(report) => checks.extend(report.checks.into_iter().map(|mut c| {
                c.id = format!("dns.{domain}.{}", c.id);
                c
            })),
            Err(e) => checks.push(check(format!("dns.{domain}"), Status::Fail, e.to_string())),
        }
    }
    Ok(())
}

/// The services outside: the SMS provider reachable, clamd answering.
async fn services(config: &Config, lang: Lang, checks: &mut Vec<Check>) {
    checks.push(match config.sms.provider.as_str() {
        "outbox" => check("sms", Status::Info, lang.t("lokale outbox", "local outbox")),
        provider => {
            let url = if provider == "cm" {
                "https://gw.messaging.cm.com/v1.0/message".to_string()
            } else {
                config.sms.url.clone()
            };
            match url_host_port(&url) {
                Some(hp) => match reachable(&hp).await {
                    Ok(()) => check("sms", Status::Pass, format!("{provider}: {hp}")),
                    Err(e) => with_advice(
                        check("sms", Status::Fail, format!("{provider}: {hp}: {e}")),
                        lang.t(
                            "Zonder sms krijgen ontvangers geen code: controleer de uitgaande verbinding en sms.url.",
                            "Without SMS recipients get no code: check outgoing connections and sms.url.",
                        ),
                    ),
                },
                None => check("sms", Status::Fail, format!("sms.url: {url:?}")),
            }
        }
    });
    let clamd = if config.inbound.clamd.is_empty() {
        &config.intake.clamd
    } else {
        &config.inbound.clamd
    };
    if !clamd.is_empty() {
        let ping =
            veilpost_adapters::clamd::scan(clamd, b"veilpost doctor", Duration::from_secs(5)).await;
        checks.push(match ping {
            Ok(_) => check("clamd", Status::Pass, clamd.clone()),
            Err(e) => with_advice(
                check("clamd", Status::Fail, format!("{clamd}: {e}")),
                lang.t(
                    "Start clamd (TCPSocket) of zet intake.clamd/inbound.clamd goed; uploads worden geweigerd zolang het niet werkt.",
                    "Start clamd (TCPSocket) or fix intake.clamd/inbound.clamd; uploads are refused while it fails.",
                ),
            ),
        });
    }
}

/// `veilpost doctor`.
pub fn run(config: Option<&Path>, dns_cli: &[String], format: Format, lang: Lang) -> Result<u8> {
    let checks = match crate::config::load(config) {
        Ok(config) => crate::serve::runtime()?.block_on(gather(&config, dns_cli, lang))?,
        Err(e) => vec![with_advice(
            check("config", Status::Fail, format!("{e:#}")),
            lang.t(
                "Herstel veilpost.toml (of de VEILPOST_*-variabele) zoals de melding zegt.",
                "Fix veilpost.toml (or the VEILPOST_* variable) as the message says.",
            ),
        )],
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::json!({
                "checks": checks.iter().map(|c| serde_json::json!({
                    "id": c.id,
                    "status": c.status.as_str(),
                    "detail": c.detail,
                    "advice": c.advice,
                })).collect::<Vec<_>>(),
            })
        )?,
        Format::Text => write!(
            out,
            "{}",
            veilpost_posture::table(&checks, lang, std::io::stdout().is_terminal())
        )?,
    }
    Ok(u8::from(checks.iter().any(|c| c.status == Status::Fail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_thresholds() {
        const GIB: u64 = 1 << 30;
        let cases = [
            (100 * GIB, 200 * GIB, Status::Pass),
            (GIB, 20 * GIB, Status::Warn),
            (GIB, 200 * GIB, Status::Fail),
            (5 * GIB, 100 * GIB, Status::Warn),
            (100 << 20, 200 * GIB, Status::Fail),
            (GIB, 100 * GIB, Status::Fail),
            (0, 0, Status::Fail),
        ];
        for (free, total, want) in cases {
            assert_eq!(
                grade_disk(Lang::En, free, total).status,
                want,
                "{free}/{total}"
            );
        }
    }

    #[test]
    fn certificate_names_dates_and_origin() {
        let now = 1_800_000_000;
        let good = CertFacts {
            not_before: now - 86_400,
            not_after: now + 90 * 86_400,
            names: vec!["gw.praktijk.nl".into(), "*.praktijk.nl".into()],
            self_signed: false,
        };
        let hosts = vec!["gw.praktijk.nl".to_string(), "post.praktijk.nl".to_string()];
        let status = |c: Result<CertFacts, String>, hosts: &[String]| {
            grade_certificate(Lang::En, &c, hosts, now).status
        };
        assert_eq!(status(Ok(good.clone()), &hosts), Status::Pass);
        assert_eq!(
            status(Ok(good.clone()), &["a.b.praktijk.nl".into()]),
            Status::Fail
        );
        assert_eq!(
            status(Ok(good.clone()), &["mail.elders.nl".into()]),
            Status::Fail
        );
        // An IP address in the public URL is not asked of the certificate.
        assert_eq!(
            status(Ok(good.clone()), &["127.0.0.1".into()]),
            Status::Pass
        );
        let expired = CertFacts {
            not_after: now - 1,
            ..good.clone()
        };
        assert_eq!(status(Ok(expired), &hosts), Status::Fail);
        let soon = CertFacts {
            not_after: now + 5 * 86_400,
            ..good.clone()
        };
        assert_eq!(status(Ok(soon), &hosts), Status::Warn);
        let made = CertFacts {
            self_signed: true,
            ..good.clone()
        };
        assert_eq!(status(Ok(made), &hosts), Status::Warn);
        assert_eq!(status(Err("missing".into()), &hosts), Status::Fail);
    }

    #[test]
    fn wildcards_cover_one_label() {
        for (pattern, host, want) in [
            ("*.praktijk.nl", "gw.praktijk.nl", true),
            ("*.praktijk.nl", "praktijk.nl", false),
            ("*.praktijk.nl", "a.gw.praktijk.nl", false),
            ("GW.Praktijk.nl.", "gw.praktijk.nl", true),
            ("gw.praktijk.nl", "mx.praktijk.nl", false),
        ] {
            assert_eq!(name_matches(pattern, host), want, "{pattern} {host}");
        }
    }

    #[test]
    fn listeners() {
        let s = |b: Bind| grade_listener(Lang::En, "web.listen", "127.0.0.1:8080", &b).status;
        assert_eq!(s(Bind::Free), Status::Pass);
        assert_eq!(s(Bind::OursRunning), Status::Pass);
        assert_eq!(s(Bind::InUse), Status::Warn);
        assert_eq!(s(Bind::Refused("permission denied".into())), Status::Fail);
    }

    #[test]
    fn spf_and_dkim() {
        let ip: IpAddr = "192.0.2.10".parse().expect("ip");
        let spf = |ip, r| grade_spf(Lang::En, "praktijk.nl", ip, r).status;
        assert_eq!(spf(Some(ip), Some("pass")), Status::Pass);
        assert_eq!(spf(Some(ip), Some("fail")), Status::Fail);
        assert_eq!(spf(Some(ip), Some("softfail")), Status::Fail);
        assert_eq!(spf(Some(ip), None), Status::Fail);
        assert_eq!(spf(Some(ip), Some("temperror")), Status::Warn);
        assert_eq!(spf(None, None), Status::Warn);
        let advice = grade_spf(Lang::En, "praktijk.nl", Some(ip), Some("fail")).advice;
        assert!(advice.is_some_and(|a| a.contains("ip4:192.0.2.10")));

        let ours = "v=DKIM1; k=rsa; p=MIIBIjAN";
        let dkim = |published: &[&str]| {
            let published: Vec<String> = published.iter().map(|s| s.to_string()).collect();
            grade_dkim(Lang::En, "praktijk.nl", Some(ours), &published).status
        };
        assert_eq!(dkim(&["v=DKIM1; k=rsa; p=MIIB IjAN"]), Status::Pass);
        assert_eq!(dkim(&["v=DKIM1; k=rsa; p=OTHER"]), Status::Fail);
        assert_eq!(dkim(&[]), Status::Fail);
        assert_eq!(
            grade_dkim(Lang::En, "praktijk.nl", None, &[]).status,
            Status::Fail
        );
    }

    #[test]
    fn configuration_choices() {
        let mut c = Config::default();
        c.organisation.domains = vec!["praktijk.nl".into()];
        let status = |c: &Config, id: &str| {
            grade_config(Lang::En, c)
                .into_iter()
                .find(|x| x.id == id)
                .map(|x| x.status)
        };
        assert_eq!(status(&c, "config.delivery"), Some(Status::Warn));
        assert_eq!(status(&c, "config.sms"), Some(Status::Warn));
        c.web.public_url = "http://portal.praktijk.nl".into();
        assert_eq!(status(&c, "config.public_url"), Some(Status::Fail));
        c.web.public_url = "https://portal.praktijk.nl".into();
        assert_eq!(status(&c, "config.public_url"), Some(Status::Pass));
        c.delivery.mode = "mx".into();
        assert_eq!(status(&c, "config.delivery"), Some(Status::Pass));
        c.organisation.domains.clear();
        assert_eq!(status(&c, "config.domains"), Some(Status::Fail));
    }

    #[test]
    fn url_authorities() {
        for (url, want) in [
            (
                "https://gw.messaging.cm.com/v1.0/message",
                Some("gw.messaging.cm.com:443"),
            ),
            ("http://127.0.0.1:9999/sms", Some("127.0.0.1:9999")),
            ("http://user:pw@host/x", Some("host:80")),
            ("https://[::1]/x", Some("[::1]:443")),
            ("https://[::1]:8443/x", Some("[::1]:8443")),
            ("not a url", None),
        ] {
            assert_eq!(url_host_port(url).as_deref(), want, "{url}");
        }
    }
}
