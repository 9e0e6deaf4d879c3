//! `veilpost.toml`: every key has a default (so `serve` runs with no file at all), unknown
//! keys are errors (a typo must not silently weaken a policy), and every key can be set by
//! an environment variable: `VEILPOST_` and the key's path in capitals, joined by `_`
//! (`VEILPOST_DATA_DIR`, `VEILPOST_SMTP_SUBMISSION_LISTEN`, `VEILPOST_DNS_NAMESERVERS`).
//! Lists take commas (`a,b`), tables `key=value` pairs (`VEILPOST_DELIVERY_ROUTES="*=127.0.0.1:2526"`).
//!
//! - this module: [`Config`], loading, validation, and what the rest derives from it;
//! - `sections.rs`: the tables (`[smtp]`, `[delivery]`, `[portal]`, …) and their defaults;
//! - `env.rs`: merging a file over the defaults and the `VEILPOST_*` variables;
//! - `net.rs`: host:port and CIDR parsing.

mod env;
mod net;
mod sections;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use env::{apply_env, merge};
pub use net::{in_cidr, parse_cidr, split_host_port};
pub use sections::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database, message files, keys and outboxes live here.
    pub data_dir: PathBuf,
    pub store: StoreConfig,
    pub blobs: BlobsConfig,
    pub smtp: Smtp,
    pub web: Web,
    pub delivery: Delivery,
    pub dns: Dns,
    pub sms: Sms,
    pub organisation: Organisation,
    pub dkim: Dkim,
    pub portal: Portal,
    pub policy: Policy,
    pub audit: Audit,
    pub intake: IntakeConfig,
    pub inbound: Inbound,
    pub milter: Milter,
    pub reports: Reports,
    pub doublecheck: DoubleCheck,
    pub internal_links: InternalLinks,
    pub offboarding: Offboarding,
    pub oidc: Oidc,
    pub dlp: Dlp,
    pub metrics: Metrics,
    pub log: Log,
    pub acme: Acme,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./veilpost-data"),
            store: StoreConfig::default(),
            blobs: BlobsConfig::default(),
            smtp: Smtp::default(),
            web: Web::default(),
            delivery: Delivery::default(),
            dns: Dns::default(),
            sms: Sms::default(),
            organisation: Organisation::default(),
            dkim: Dkim::default(),
            portal: Portal::default(),
            policy: Policy::default(),
            audit: Audit::default(),
            intake: IntakeConfig::default(),
            inbound: Inbound::default(),
            milter: Milter::default(),
            reports: Reports::default(),
            doublecheck: DoubleCheck::default(),
            internal_links: InternalLinks::default(),
            offboarding: Offboarding::default(),
            oidc: Oidc::default(),
            dlp: Dlp::default(),
            metrics: Metrics::default(),
            log: Log::default(),
            acme: Acme::default(),
        }
    }
}

/// The configuration from `path` (or the defaults) with the `VEILPOST_*` variables of the
/// process environment applied.
pub(crate) fn load(path: Option<&Path>) -> Result<Config> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("VEILPOST_"))
        .collect();
    Config::load(path, &env)
}

impl Config {
    /// Load `path` (or only the defaults), then apply `VEILPOST_*` variables from `env`.
    pub fn load(path: Option<&Path>, env: &[(String, String)]) -> Result<Config> {
        let mut value = toml::Value::try_from(Config::default()).context("default config")?;
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let file: toml::Value =
                toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
            merge(&mut value, file);
        }
        let defaults = toml::Value::try_from(Config::default()).context("default config")?;
        apply_env(&mut value, &defaults, env)?;
        let config: Config = value.try_into().map_err(|e: toml::de::Error| {
            anyhow::anyhow!(
                "{}{}",
                path.map(|p| format!("{}: ", p.display()))
                    .unwrap_or_default(),
                e
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        self.validate_storage()?;
        self.validate_listeners()?;
        self.validate_delivery()?;
        self.validate_people()?;
        self.validate_content()?;
        Ok(())
    }

    /// The store, the blobs, logging, ACME, the audit trail's syslog and the metrics.
    fn validate_storage(&self) -> Result<()> {
        self.database()?;
        if self.store.lease_seconds < 5 {
            bail!("store.lease_seconds must be at least 5");
        }
        if let Some(s3) = self.s3_blobs() {
            s3.bucket_and_prefix()
                .map_err(|e| anyhow::anyhow!("blobs.url: {e}"))?;
            let e = &self.blobs.endpoint;
            if !e.is_empty() && !e.starts_with("https://") && !e.starts_with("http://") {
                bail!("blobs.endpoint must be an http(s):// URL, not {e:?}");
            }
        } else if self.blobs.url.contains("://") {
            bail!(
                "blobs.url must be a directory or s3://bucket/prefix, not {:?}",
                self.blobs.url
            );
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!(
                "log.format must be \"text\" or \"json\", not {:?}",
                self.log.format
            );
        }
        if !self.acme.directory.is_empty() {
            if !self.smtp.tls_cert.is_empty() {
                bail!("acme.directory and smtp.tls_cert exclude each other: choose one");
            }
            if !self.acme.directory.starts_with("https://") {
                bail!("acme.directory must be an https:// URL");
            }
            if self
                .acme_names()
                .iter()
                .any(|n| n.parse::<std::net::IpAddr>().is_ok() || !n.contains('.'))
            {
                bail!("acme.names (default smtp.hostname) must be DNS names with a dot");
            }
        }
        if !self.audit.syslog.is_empty() {
            veilpost_adapters::syslog::Target::parse(&self.audit.syslog)
                .map_err(|e| anyhow::anyhow!("audit.syslog: {e}"))?;
        }
        if !self.metrics.password.is_empty() && self.metrics.username.is_empty() {
            bail!("metrics.username is needed with metrics.password");
        }
        Ok(())
    }

    /// Every listener an address:port.
    fn validate_listeners(&self) -> Result<()> {
        for (name, addr) in [
            ("smtp.submission_listen", &self.smtp.submission_listen),
            ("web.listen", &self.web.listen),
        ]
        .into_iter()
        .chain(
            (!self.metrics.listen.is_empty()).then_some(("metrics.listen", &self.metrics.listen)),
        ) {
            addr.parse::<SocketAddr>()
                .with_context(|| format!("{name}: {addr:?} is not an address:port"))?;
        }
        for (key, value) in [
            ("smtp.inbound_listen", &self.smtp.inbound_listen),
            ("milter.listen", &self.milter.listen),
        ] {
            if !value.is_empty() {
                value
                    .parse::<SocketAddr>()
                    .with_context(|| format!("{key}: {value:?} is not an address:port"))?;
            }
        }
        Ok(())
    }

    /// Delivery: the mode, retry times, workers, routes and trusted networks.
    fn validate_delivery(&self) -> Result<()> {
        if !matches!(self.delivery.mode.as_str(), "outbox" | "mx") {
            bail!(
                "delivery.mode must be \"outbox\" or \"mx\", not {:?}",
                self.delivery.mode
            );
        }
        let d = &self.delivery;
        if !(d.max_retry_hours.is_finite() && d.max_retry_hours > 0.0) {
            bail!("delivery.max_retry_hours must be a positive number of hours");
        }
        if !(d.delay_notice_hours.is_finite() && d.delay_notice_hours >= 0.0) {
            bail!("delivery.delay_notice_hours must be 0 (never) or a positive number of hours");
        }
        if d.workers == 0
            || d.destination_concurrency == 0
            || d.first_retry == 0
            || d.max_retry_interval < d.first_retry
        {
            bail!(
                "delivery.workers, delivery.destination_concurrency and delivery.first_retry \
                 must be at least 1, and max_retry_interval at least first_retry"
            );
        }
        for (domain, target) in &self.delivery.routes {
            split_host_port(target)
                .with_context(|| format!("delivery.routes.{domain:?}: {target:?}"))?;
        }
        for net in &self.smtp.trusted_networks {
            parse_cidr(net).with_context(|| format!("smtp.trusted_networks: {net:?}"))?;
        }
        Ok(())
    }

    /// What people meet: SMS, the portal, staff sign-in, leavers, the audit retention,
    /// the web's address, proxies and brand.
    fn validate_people(&self) -> Result<()> {
        match self.sms.provider.as_str() {
            "outbox" => {}
            "webhook" | "cm" => {
                if self.sms.provider == "webhook" && !self.sms.url.starts_with("http") {
                    bail!("sms.url must be the webhook's http(s) URL");
                }
                if self.sms.provider == "cm" && self.sms.token.is_empty() {
                    bail!("sms.token must hold the CM.com product token");
                }
            }
            other => bail!("sms.provider must be \"outbox\", \"webhook\" or \"cm\", not {other:?}"),
        }
        for f in &self.portal.factors {
            if !matches!(f.as_str(), "sms" | "access_code" | "totp" | "email") {
                bail!("portal.factors: unknown factor {f:?} (sms, access_code, totp, email)");
            }
        }
        if !(6..=8).contains(&self.portal.code_digits) {
            bail!("portal.code_digits must be 6, 7 or 8");
        }
        if self.portal.idle_timeout_minutes == 0 || self.portal.expiry_days == 0 {
            bail!("portal.idle_timeout_minutes and portal.expiry_days must be at least 1");
        }
        if !self.oidc.issuer.is_empty() {
            let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| self.oidc.issuer.starts_with(p));
            if !self.oidc.issuer.starts_with("https://") && !local {
                bail!("oidc.issuer must be an https:// URL");
            }
            if self.oidc.client_id.is_empty() {
                bail!("oidc.client_id is needed with oidc.issuer");
            }
            if !matches!(
                self.oidc.email_claim.as_str(),
                "email" | "preferred_username"
            ) {
                bail!("oidc.email_claim must be \"email\" or \"preferred_username\"");
            }
        }
        if !matches!(self.offboarding.answer.as_str(), "" | "reject" | "forward") {
            bail!(
                "offboarding.answer must be \"reject\" or \"forward\", not {:?}",
                self.offboarding.answer
            );
        }
        if self.audit.retention_days < 365 {
            bail!("audit.retention_days must be at least 365 (NEN 7513 asks for five years)");
        }
        if !self.organisation.colour.is_empty()
            && !veilpost_text::mails::brand::is_colour(&self.organisation.colour)
        {
            bail!(
                "organisation.colour must be written #RRGGBB, not {:?}",
                self.organisation.colour
            );
        }
        self.brand()?;
        for net in &self.web.trusted_proxies {
            parse_cidr(net).with_context(|| format!("web.trusted_proxies: {net:?}"))?;
        }
        if !(self.web.public_url.starts_with("https://")
            || self.web.public_url.starts_with("http://"))
        {
            bail!("web.public_url must start with https:// (or http:// for a local trial)");
        }
        Ok(())
    }

    /// What mail is judged by: the organisation's identifiers, the inbound verdict, its tag
    /// and relay.
    fn validate_content(&self) -> Result<()> {
        veilpost_dlp::detect::custom::validate(&self.dlp.identifiers()?)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.verdict_settings()?;
        let tag = &self.inbound.subject_tag;
        if tag.len() > 30 || !tag.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            bail!("inbound.subject_tag must be plain text of at most 30 characters, not {tag:?}");
        }
        // Released quarantine goes to the mail server; the MX listener needs it for all.
        if (!self.smtp.inbound_listen.is_empty() || !self.milter.listen.is_empty())
            && self
                .inbound
                .relay_to
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        {
            bail!(
                "inbound.relay_to must be the organisation's mail server as HOST:PORT (needed with smtp.inbound_listen or milter.listen: relayed and released mail goes there)"
            );
        }
        Ok(())
    }

    /// The inbound verdict's settings from `[inbound]`.
    pub fn verdict_settings(&self) -> Result<veilpost_verdict::Settings> {
        let action = |key: &str, word: &str| -> Result<veilpost_verdict::Action> {
            Ok(match word {
                "reject" => veilpost_verdict::Action::Reject,
                "quarantine" => veilpost_verdict::Action::Quarantine,
                "tag" => veilpost_verdict::Action::Tag,
                "accept" => veilpost_verdict::Action::Accept,
                other => {
                    bail!("inbound.{key} must be reject, quarantine, tag or accept, not {other:?}")
                }
            })
        };
        let i = &self.inbound;
        if i.tag_at > i.quarantine_at {
            bail!("inbound.tag_at must not be above inbound.quarantine_at");
        }
        Ok(veilpost_verdict::Settings {
            tag_at: i.tag_at,
            quarantine_at: i.quarantine_at,
            reject_at: None,
            dmarc_reject: action("dmarc_reject", &i.dmarc_reject)?,
            dmarc_quarantine: action("dmarc_quarantine", &i.dmarc_quarantine)?,
            malware: action("malware", &i.malware)?,
            silenced: i.silenced.clone(),
        })
    }

    /// The clamd inbound mail goes through, if any.
    pub fn inbound_clamd(&self) -> Option<&str> {
        [&self.inbound.clamd, &self.intake.clamd]
            .into_iter()
            .map(|c| c.trim())
            .find(|c| !c.is_empty())
    }

    /// The authserv-id Veilpost writes in `Authentication-Results`.
    pub fn authserv_id(&self) -> &str {
        if self.inbound.authserv_id.is_empty() {
            &self.smtp.hostname
        } else {
            &self.inbound.authserv_id
        }
    }

    /// The organisation's branding, the logo read and checked.
    pub fn brand(&self) -> Result<veilpost_text::mails::Brand> {
        let o = &self.organisation;
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let logo = if o.logo.trim().is_empty() {
            None
        } else {
            let bytes = std::fs::read(o.logo.trim())
                .with_context(|| format!("organisation.logo: cannot read {:?}", o.logo))?;
            let kind = veilpost_text::mails::brand::logo_type(&bytes)
                .map_err(|e| anyhow::anyhow!("organisation.logo {:?}: {e}", o.logo))?;
            Some((bytes, kind))
        };
        Ok(veilpost_text::mails::Brand {
            colour: o.colour.trim().to_string(),
            phone: some(&o.phone),
            website: some(&o.website),
            logo,
        })
    }

    /// The reverse proxies whose forwarding header is believed: none unless
    /// `web.trust_forwarded_for`, then `web.trusted_proxies` or else loopback.
    pub fn trusted_proxies(&self) -> Vec<veilpost_portal::client::Net> {
        if !self.web.trust_forwarded_for {
            return Vec::new();
        }
        if self.web.trusted_proxies.is_empty() {
            return vec![
                (std::net::Ipv4Addr::LOCALHOST.into(), 8),
                (std::net::Ipv6Addr::LOCALHOST.into(), 128),
            ];
        }
        self.web
            .trusted_proxies
            .iter()
            .filter_map(|n| parse_cidr(n).ok())
            .collect()
    }

    /// The report address staff forward phishing to (`inbound.phishing_address`).
    pub fn phishing_address(&self) -> String {
        self.address_or(&self.inbound.phishing_address, "phishing")
    }

    /// Where DMARC aggregate reports come (`reports.dmarc_address`).
    pub fn dmarc_address(&self) -> String {
        self.address_or(&self.reports.dmarc_address, "dmarc-rua")
    }

    /// Where TLS reports come (`reports.tlsrpt_address`).
    pub fn tlsrpt_address(&self) -> String {
        self.address_or(&self.reports.tlsrpt_address, "tls-rpt")
    }

    /// `configured` as compared (trimmed, lower-case), or `local@` the first domain.
    fn address_or(&self, configured: &str, local: &str) -> String {
        if !configured.trim().is_empty() {
            return configured.trim().to_ascii_lowercase();
        }
        match self.organisation.domains.first() {
            Some(d) => format!("{local}@{}", d.to_ascii_lowercase()),
            None => format!("{local}@{}", self.smtp.hostname),
        }
    }

    /// The notification sender.
    pub fn notify_from(&self) -> String {
        if !self.organisation.notify_from.is_empty() {
            return self.organisation.notify_from.clone();
        }
        match self.organisation.domains.first() {
            Some(d) => format!("noreply@{d}"),
            None => format!("noreply@{}", self.smtp.hostname),
        }
    }

    /// The address a leaver's correspondents are sent to.
    pub fn general_address(&self) -> String {
        if !self.offboarding.general_address.is_empty() {
            return self.offboarding.general_address.clone();
        }
        match self.organisation.domains.first() {
            Some(d) => format!("info@{d}"),
            None => format!("info@{}", self.smtp.hostname),
        }
    }

    /// The portal's settings for the web side.
    pub fn portal_settings(&self) -> veilpost_web::PortalSettings {
        let outbox = self.delivery.mode == "outbox";
        veilpost_web::PortalSettings {
            domains: self.organisation.domains.clone(),
            dmarc_address: self.dmarc_address(),
            public_url: self.web.public_url.trim_end_matches('/').to_string(),
            notify_from: self.notify_from(),
            rules: veilpost_portal::login::Rules {
                digits: self.portal.code_digits,
                ..Default::default()
            },
            idle_timeout: (self.portal.idle_timeout_minutes * 60) as i64,
            session_max: 8 * 3600,
            max_reply_size: self.smtp.max_message_size,
            outbox: outbox.then(|| self.data_dir.join("outbox")),
            sms_outbox: (outbox || self.sms.provider == "outbox").then(|| self.sms_outbox()),
            trusted_proxies: self.trusted_proxies(),
            // `serve` puts in the branding it read at start-up (the logo read once).
            brand: Default::default(),
            intake_mailbox: (!self.intake.mailbox.is_empty()).then(|| self.intake.mailbox.clone()),
            intake_types: self.intake.allowed_types.clone(),
            intake_response_days: self.intake.response_days,
            clamd: (!self.intake.clamd.is_empty()).then(|| self.intake.clamd.clone()),
            policy: self.policy_view(),
            doublecheck: self.doublecheck.rules(),
            leaver_answer: if self.offboarding.answer.is_empty() {
                "reject".into()
            } else {
                self.offboarding.answer.clone()
            },
            quarantine_admin_only: self.inbound.admin_release_only.clone(),
            oidc: (!self.oidc.issuer.is_empty()).then(|| veilpost_web::oidc::OidcSettings {
                issuer: self.oidc.issuer.clone(),
                client_id: self.oidc.client_id.clone(),
                client_secret: self.oidc.client_secret.clone(),
                name: self.oidc.name.clone(),
                scopes: self.oidc.scopes.clone(),
                email_claim: self.oidc.email_claim.clone(),
                require_mfa: self.oidc.require_mfa,
            }),
        }
    }

    /// The settings that make up policy, as (key, value) for the admin page; no secrets.
    fn policy_view(&self) -> Vec<(String, String)> {
        let sections: [(&str, Result<toml::Value, toml::ser::Error>); 8] = [
            ("policy", toml::Value::try_from(&self.policy)),
            ("doublecheck", toml::Value::try_from(&self.doublecheck)),
            ("portal", toml::Value::try_from(&self.portal)),
            (
                "internal_links",
                toml::Value::try_from(&self.internal_links),
            ),
            ("offboarding", toml::Value::try_from(&self.offboarding)),
            ("intake", toml::Value::try_from(&self.intake)),
            ("audit", toml::Value::try_from(&self.audit)),
            ("organisation", toml::Value::try_from(&self.organisation)),
        ];
        let mut out = vec![
            ("delivery.mode".to_string(), self.delivery.mode.clone()),
            ("sms.provider".to_string(), self.sms.provider.clone()),
            (
                "offboarding.general_address (in use)".to_string(),
                self.general_address(),
            ),
        ];
        for (name, value) in sections {
            let Ok(toml::Value::Table(table)) = value else {
                continue;
            };
            for (key, v) in table {
                if key.contains("master_key") {
                    continue;
                }
                let shown = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                out.push((format!("{name}.{key}"), shown));
            }
        }
        out
    }

    /// Where the metadata lives (`store.database_url`).
    pub fn database(&self) -> Result<veilpost_store::Database> {
        veilpost_store::Database::from_url(&self.store.database_url, &self.data_dir)
            .map_err(|e| anyhow::anyhow!("store.database_url: {e}"))
    }

    /// The names an ACME certificate is ordered for: `acme.names`, else `smtp.hostname`.
    pub fn acme_names(&self) -> Vec<String> {
        if self.acme.names.is_empty() {
            vec![self.smtp.hostname.to_ascii_lowercase()]
        } else {
            self.acme
                .names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect()
        }
    }

    /// The key that signs audit checkpoints: `audit.checkpoint_key`, else
    /// `data_dir/keys/audit-checkpoint.key`.
    pub fn checkpoint_key_file(&self) -> PathBuf {
        if self.audit.checkpoint_key.is_empty() {
            self.data_dir.join("keys").join("audit-checkpoint.key")
        } else {
            PathBuf::from(&self.audit.checkpoint_key)
        }
    }

    /// Where checkpoints go: `audit.checkpoint_file`, else
    /// `data_dir/audit-checkpoints.jsonl`.
    pub fn checkpoint_file(&self) -> PathBuf {
        if self.audit.checkpoint_file.is_empty() {
            self.data_dir.join("audit-checkpoints.jsonl")
        } else {
            PathBuf::from(&self.audit.checkpoint_file)
        }
    }

    /// Where the DKIM keys are: `dkim.key_dir`, else `data_dir/dkim`.
    pub fn dkim_key_dir(&self) -> PathBuf {
        if self.dkim.key_dir.is_empty() {
            self.data_dir.join("dkim")
        } else {
            PathBuf::from(&self.dkim.key_dir)
        }
    }

    /// `blobs.*` when they name an object store.
    pub fn s3_blobs(&self) -> Option<veilpost_store::S3Options> {
        self.blobs
            .url
            .starts_with("s3://")
            .then(|| self.s3_options(&self.blobs.url))
    }

    /// The object store at `url` (`s3://bucket/prefix`) with `blobs.endpoint`,
    /// `blobs.region` and `blobs.path_style`.
    pub fn s3_options(&self, url: &str) -> veilpost_store::S3Options {
        veilpost_store::S3Options {
            url: url.to_string(),
            endpoint: self.blobs.endpoint.clone(),
            region: self.blobs.region.clone(),
            path_style: self.blobs.path_style,
        }
    }

    /// The master key: `portal.master_key`, or the key file (made on a single node's
    /// first start). With blobs in an object store every node must hold the same key, so
    /// none is made then: it must be configured.
    pub fn master_key(&self) -> Result<veilpost_store::vault::MasterKey> {
        use veilpost_store::vault::MasterKey;
        if !self.portal.master_key.is_empty() {
            return Ok(MasterKey::from_base64(&self.portal.master_key)?);
        }
        let path = self.master_key_file();
        if self.s3_blobs().is_some() && !path.exists() {
            bail!(
                "with blobs.url in an object store every node needs the same master key: set \
                 portal.master_key (VEILPOST_PORTAL_MASTER_KEY) or put the key in {}",
                path.display()
            );
        }
        Ok(MasterKey::load_or_create(&path)?)
    }

    /// Open the store this configuration names: the database, and the blobs in
    /// `blobs.url` (by default under `data_dir`), the schema brought up to date.
    pub async fn open_store(&self) -> Result<veilpost_store::Store> {
        self.open_store_with(None).await
    }

    /// The database alone (blobs left where the store's default puts them), the schema
    /// brought up to date: for work on the database only, such as a key rotation.
    pub async fn open_database(&self) -> Result<veilpost_store::Store> {
        let db = self.database()?;
        veilpost_store::Store::connect(&self.data_dir, &db, veilpost_store::Clock::system())
            .await
            .with_context(|| format!("cannot open the store ({})", db.display()))
    }

    /// [`Config::open_store`] with the master key already loaded (it opens the key the
    /// object store's blobs are sealed with; without one it is loaded when needed).
    pub async fn open_store_with(
        &self,
        key: Option<&veilpost_store::vault::MasterKey>,
    ) -> Result<veilpost_store::Store> {
        let store = self.open_database().await?;
        Ok(match self.s3_blobs() {
            Some(s3) => {
                let loaded;
                let key = match key {
                    Some(key) => key,
                    None => {
                        loaded = self.master_key()?;
                        &loaded
                    }
                };
                let blob_key = store.blob_key(key).await.context("blobs.url")?;
                let blobs = veilpost_store::ObjectBlobs::s3(&s3, blob_key)
                    .with_context(|| format!("blobs.url {}", s3.url))?;
                store.with_blobs(veilpost_store::Blobs::Object(blobs))
            }
            None if !self.blobs.url.is_empty() => {
                let dir = veilpost_store::BlobDir::open(std::path::Path::new(&self.blobs.url))
                    .with_context(|| format!("blobs.url {}", self.blobs.url))?;
                store.with_blobs(veilpost_store::Blobs::Dir(dir))
            }
            None => store,
        })
    }

    /// The SMS outbox file.
    pub fn sms_outbox(&self) -> PathBuf {
        self.data_dir.join("sms-outbox.jsonl")
    }

    /// The configured SMS provider.
    pub fn sms_sender(&self) -> veilpost_adapters::SmsSender {
        let provider = match self.sms.provider.as_str() {
            "webhook" => veilpost_adapters::SmsProvider::Webhook {
                url: self.sms.url.clone(),
                token: (!self.sms.token.is_empty()).then(|| self.sms.token.clone()),
            },
            "cm" => veilpost_adapters::SmsProvider::CmCom {
                url: if self.sms.url.is_empty() {
                    "https://gw.messaging.cm.com/v1.0/message".into()
                } else {
                    self.sms.url.clone()
                },
                product_token: self.sms.token.clone(),
                sender: self.sms.sender.chars().take(11).collect(),
            },
            _ => veilpost_adapters::SmsProvider::Outbox {
                path: self.sms_outbox(),
            },
        };
        veilpost_adapters::SmsSender::new(
            provider,
            std::time::Duration::from_secs(self.sms.timeout_secs.max(1)),
            self.sms.attempts,
        )
    }

    /// The vault master key file.
    pub fn master_key_file(&self) -> PathBuf {
        if self.portal.master_key_file.as_os_str().is_empty() {
            self.data_dir.join("keys").join("master.key")
        } else {
            self.portal.master_key_file.clone()
        }
    }

    /// Is `domain` one of the organisation's?
    pub fn is_own_domain(&self, domain: &str) -> bool {
        let domain = veilpost_policy::domain::normalize_domain(domain);
        !domain.is_empty()
            && self
                .organisation
                .domains
                .iter()
                .any(|d| veilpost_policy::domain::normalize_domain(d) == domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_without_a_file() {
        let c = Config::load(None, &[]).expect("defaults");
        assert_eq!(c.smtp.submission_listen, "127.0.0.1:2587");
        assert_eq!(c.web.listen, "127.0.0.1:8080");
        assert_eq!(c.delivery.mode, "outbox");
        assert_eq!(c.sms.provider, "outbox");
        assert_eq!(c.data_dir, PathBuf::from("./veilpost-data"));
    }

    #[test]
    fn the_example_file_parses_with_every_documented_key() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../veilpost.example.toml"
        ));
        let c = Config::load(Some(path), &[]).expect("example");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/veilpost"));
        assert_eq!(c.smtp.submission_listen, "127.0.0.1:2587");
        assert_eq!(c.web.public_url, "https://veilig.example.nl");
        assert_eq!(c.delivery.mode, "mx");
        assert_eq!(
            c.delivery.routes.get("*").map(String::as_str),
            Some("127.0.0.1:2526")
        );
        assert_eq!(c.dns.nameservers, vec!["127.0.0.1:5353".to_string()]);
        assert_eq!(c.organisation.name, "Huisartsenpraktijk De Linde");
        assert_eq!(
            c.organisation.domains,
            vec!["praktijkdelinde.nl".to_string()]
        );
    }

    #[test]
    fn environment_overrides() {
        let c = Config::load(
            None,
            &env(&[
                ("VEILPOST_DATA_DIR", "/tmp/vp"),
                ("VEILPOST_SMTP_SUBMISSION_LISTEN", "127.0.0.1:3587"),
                ("VEILPOST_DELIVERY_MODE", "mx"),
                (
                    "VEILPOST_DELIVERY_ROUTES",
                    "*=127.0.0.1:2526, zorg.nl=10.0.0.1:25",
                ),
                ("VEILPOST_DNS_NAMESERVERS", "127.0.0.1:5353,127.0.0.2"),
                ("VEILPOST_DELIVERY_WORKERS", "4"),
                ("VEILPOST_DELIVERY_CA_ONLY", "true"),
                ("VEILPOST_ORGANISATION_DOMAINS", "a.nl,b.nl"),
                ("OTHER", "x"),
            ]),
        )
        .expect("env");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/vp"));
        assert_eq!(c.smtp.submission_listen, "127.0.0.1:3587");
        assert_eq!(c.delivery.mode, "mx");
        assert_eq!(c.delivery.routes.len(), 2);
        assert_eq!(c.delivery.routes["zorg.nl"], "10.0.0.1:25");
        assert_eq!(c.dns.nameservers.len(), 2);
        assert_eq!(c.delivery.workers, 4);
        assert!(c.delivery.ca_only);
        assert_eq!(c.organisation.domains.len(), 2);
        assert!(Config::load(None, &env(&[("VEILPOST_DELIVERY_WORKERS", "veel")])).is_err());
    }

    #[test]
    fn scaled_out_from_the_environment() {
        let c = Config::load(
            None,
            &env(&[
                (
                    "VEILPOST_STORE_DATABASE_URL",
                    "postgres://vp:geheim@db.internal/veilpost",
                ),
                ("VEILPOST_BLOBS_URL", "s3://veilpost/praktijk"),
                ("VEILPOST_BLOBS_ENDPOINT", "http://127.0.0.1:9000"),
                ("VEILPOST_BLOBS_PATH_STYLE", "true"),
            ]),
        )
        .expect("env");
        assert!(matches!(
            c.database().expect("database"),
            veilpost_store::Database::Postgres(_)
        ));
        let s3 = c.s3_blobs().expect("s3");
        assert_eq!(
            s3.bucket_and_prefix().expect("bucket"),
            ("veilpost".to_string(), "praktijk".to_string())
        );
        assert!(s3.path_style);
        // The defaults: SQLite in the data directory, blobs beside it.
        let d = Config::load(None, &[]).expect("defaults");
        assert_eq!(
            d.database().expect("database"),
            veilpost_store::Database::Sqlite(PathBuf::from("./veilpost-data/veilpost.db"))
        );
        assert!(d.s3_blobs().is_none());
    }

    #[test]
    fn mistakes_are_refused() {
        let dir = std::env::temp_dir().join(format!("vp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let bad = [
            "[smtp]\nsubmision_listen = \"127.0.0.1:25\"\n",
            "[delivery]\nmode = \"internet\"\n",
            "[smtp]\nsubmission_listen = \"localhost\"\n",
            "[delivery.routes]\n\"*\" = \"nohost\"\n",
            "[smtp]\ntrusted_networks = [\"10.0.0.0/33\"]\n",
            "data_dir = [1]\n",
            "not toml",
            "[store]\ndatabase_url = \"mysql://x@y/z\"\n",
            "[store]\nlease_seconds = 1\n",
            "[blobs]\nurl = \"ftp://bucket\"\n",
            "[blobs]\nurl = \"s3://\"\n",
            "[blobs]\nurl = \"s3://bucket\"\nendpoint = \"s3.internal:9000\"\n",
        ];
        for (i, text) in bad.iter().enumerate() {
            let p = dir.join(format!("{i}.toml"));
            std::fs::write(&p, text).expect("write");
            assert!(Config::load(Some(&p), &[]).is_err(), "{text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn networks() {
        let net = parse_cidr("10.1.0.0/16").expect("cidr");
        assert!(in_cidr("10.1.2.3".parse().expect("ip"), net));
        assert!(!in_cidr("10.2.0.1".parse().expect("ip"), net));
        assert!(in_cidr("::ffff:10.1.0.9".parse().expect("ip"), net));
        // Issue 16, point 11: one spelling of a domain for every decision.
        let mut c = Config::default();
        c.organisation.domains = vec!["Praktijk.test".into(), "bücher.example".into()];
        for own in [
            "praktijk.test",
            "PRAKTIJK.TEST.",
            "xn--bcher-kva.example",
            "BÜCHER.example.",
        ] {
            assert!(c.is_own_domain(own), "{own}");
        }
        assert!(!c.is_own_domain("praktijk.test.evil") && !c.is_own_domain(""));
    }

    /// Issue 17, point 1: branding is checked when the configuration loads.
    #[test]
    fn branding_is_checked() {
        let dir = std::env::temp_dir().join(format!("veilpost-brand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let png = dir.join("logo.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\nlogo").expect("png");
        let svg = dir.join("logo.svg");
        std::fs::write(&svg, b"<svg onload=alert(1)>").expect("svg");
        let mut c = Config::default();
        c.organisation.colour = "#0B6E4F".into();
        c.organisation.phone = " 030 123 45 67 ".into();
        c.organisation.logo = png.display().to_string();
        let brand = c.brand().expect("brand");
        assert_eq!(brand.colour(), "#0B6E4F");
        assert_eq!(brand.phone.as_deref(), Some("030 123 45 67"));
        assert_eq!(brand.logo.map(|(_, t)| t), Some("image/png"));
        assert!(c.validate().is_ok());
        c.organisation.logo = svg.display().to_string();
        assert!(c.validate().is_err());
        c.organisation.logo = dir.join("missing.png").display().to_string();
        assert!(c.validate().is_err());
        c.organisation.logo.clear();
        c.organisation.colour = "rood".into();
        let e = c.validate().expect_err("a bad colour").to_string();
        assert!(e.contains("organisation.colour"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
        let one = parse_cidr("192.0.2.7").expect("host");
        assert!(in_cidr("192.0.2.7".parse().expect("ip"), one));
        assert!(!in_cidr("192.0.2.8".parse().expect("ip"), one));
        assert!(in_cidr(
            "2001:db8::1".parse().expect("ip"),
            parse_cidr("2001:db8::/32").expect("v6")
        ));
        assert_eq!(split_host_port("[::1]:25").expect("v6").0, "::1");
    }
}
