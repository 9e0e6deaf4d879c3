//! `veilpost.toml`: every key has a default (so `serve` runs with no file at all), unknown
//! keys are errors (a typo must not silently weaken a policy), and every key can be set by
//! an environment variable: `VEILPOST_` and the key's path in capitals, joined by `_`
//! (`VEILPOST_DATA_DIR`, `VEILPOST_SMTP_SUBMISSION_LISTEN`, `VEILPOST_DNS_NAMESERVERS`).
//! Lists take commas (`a,b`), tables `key=value` pairs (`VEILPOST_DELIVERY_ROUTES="*=127.0.0.1:2526"`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database, message files, keys and outboxes live here.
    pub data_dir: PathBuf,
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
    pub doublecheck: DoubleCheck,
    pub internal_links: InternalLinks,
    pub offboarding: Offboarding,
    pub oidc: Oidc,
    pub dlp: Dlp,
}

/// `[dlp]`: the organisation's own identifiers, besides the built-in detectors.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dlp {
    /// `[[dlp.identifiers]]`, one table each.
    pub identifiers: Vec<Identifier>,
}

/// One organisation-defined identifier (`[[dlp.identifiers]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// The finding's kind in reports and JSON.
    pub name: String,
    /// A regular expression for the value.
    pub pattern: String,
    /// `none` (default), `elfproef`, `mod97` or `luhn`.
    #[serde(default = "default_checksum")]
    pub checksum: String,
    /// When set, one of these must stand within 50 characters of the value.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// `low`, `medium` or `high` (default).
    #[serde(default = "default_confidence")]
    pub confidence: String,
    /// A match alone makes a message sensitive (default); `false`: it identifies a
    /// person, and health data beside it is then about them.
    #[serde(default = "default_true")]
    pub sensitive_alone: bool,
}

fn default_checksum() -> String {
    "none".into()
}

fn default_confidence() -> String {
    "high".into()
}

fn default_true() -> bool {
    true
}

impl Dlp {
    /// The identifiers as the scanner takes them; a bad value is named by its key.
    pub fn identifiers(&self) -> Result<Vec<veilpost_dlp::CustomIdentifier>> {
        self.identifiers
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let checksum = veilpost_dlp::Checksum::parse(&id.checksum).with_context(|| {
                    format!(
                        "dlp.identifiers[{i}].checksum: {:?} is not none, elfproef, mod97 or luhn",
                        id.checksum
                    )
                })?;
                let confidence = match id.confidence.to_ascii_lowercase().as_str() {
                    "low" => veilpost_dlp::Confidence::Low,
                    "medium" => veilpost_dlp::Confidence::Medium,
                    "high" => veilpost_dlp::Confidence::High,
                    other => bail!(
                        "dlp.identifiers[{i}].confidence: {other:?} is not low, medium or high"
                    ),
                };
                Ok(veilpost_dlp::CustomIdentifier {
                    name: id.name.clone(),
                    pattern: id.pattern.clone(),
                    checksum,
                    keywords: id.keywords.clone(),
                    confidence,
                    sensitive_alone: id.sensitive_alone,
                })
            })
            .collect()
    }

    /// A scanner with these identifiers (refused at start when one is invalid).
    pub fn scanner(&self, base: veilpost_dlp::Scanner) -> Result<veilpost_dlp::Scanner> {
        base.with_identifiers(self.identifiers()?)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Smtp {
    /// Where staff (or the organisation's mail server) submit mail.
    pub submission_listen: String,
    /// Our host name in the greeting, EHLO and Received headers.
    pub hostname: String,
    /// Networks (CIDR) that may relay without AUTH: the organisation's own mail server.
    pub trusted_networks: Vec<String>,
    /// Largest message in bytes.
    pub max_message_size: usize,
    /// Most recipients per message.
    pub max_recipients: usize,
    /// Messages one account may submit per hour.
    pub max_messages_per_hour: u32,
    /// Seconds to wait for a command.
    pub command_timeout: u64,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// PEM certificate chain and key for STARTTLS; empty: a self-signed pair is made in
    /// `data_dir/tls/` on first start.
    pub tls_cert: String,
    pub tls_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Web {
    pub listen: String,
    /// The address recipients and staff use (links in mails point here).
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy that
    /// sets it).
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// `outbox` (default): outbound mail is written to `data_dir/outbox/`, nothing leaves.
    /// `mx`: deliver over SMTP (MX look-up, or `routes`).
    pub mode: String,
    /// Transport map: recipient domain, or `*`, to `host:port`; skips the MX look-up.
    pub routes: BTreeMap<String, String>,
    /// Port for MX hosts (25; tests use another).
    pub smtp_port: u16,
    /// Port for MTA-STS policy hosts (443; tests use another).
    pub mta_sts_port: u16,
    /// Deliveries at once.
    pub workers: usize,
    /// Give up (and tell the sender) after this many hours.
    pub max_retry_hours: f64,
    /// First retry after this many seconds; doubling up to `max_retry_interval`.
    pub first_retry: u64,
    pub max_retry_interval: u64,
    /// Tell the sender about a delay after this many hours (0: never).
    pub delay_notice_hours: f64,
    /// Extra CA certificates (PEM files) trusted for authenticated TLS.
    pub ca_files: Vec<PathBuf>,
    /// Trust only `ca_files`, not the system's roots (tests).
    pub ca_only: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dns {
    /// Resolvers as `IP` or `IP:PORT`; empty: the system's.
    pub nameservers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sms {
    /// `outbox`: texts are appended to `data_dir/sms-outbox.jsonl` (and listed on
    /// `/outbox`); `webhook`: POSTed as JSON to `url`; `cm`: CM.com's gateway.
    pub provider: String,
    /// The webhook's URL, or CM.com's gateway (default their v1.0 JSON endpoint).
    pub url: String,
    /// Bearer token for the webhook; CM.com's product token.
    pub token: String,
    /// Sender name shown on the phone (CM.com; at most 11 characters).
    pub sender: String,
    /// Seconds per request.
    pub timeout_secs: u64,
    /// Tries per text (network errors, 429 and 5xx are retried).
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Organisation {
    pub name: String,
    /// The organisation's mail domains: their mail is DKIM-signed. Staff send as their own
    /// address and the shared mailboxes in their scopes.
    pub domains: Vec<String>,
    /// Sender of notifications and delivery reports; default `noreply@` the first domain.
    pub notify_from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dkim {
    /// Selector of the keys made on first start.
    pub selector: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Portal {
    /// Days a message stays available in the portal; then its key is destroyed.
    pub expiry_days: u64,
    /// Ways recipients may prove who they are: `sms` (when a number is known),
    /// `access_code` (given to the sender to pass on), `totp` (an app registered on an
    /// earlier visit). `email` here lets an e-mailed code do alone for any recipient;
    /// recipients in the organisation's own domains may always use it.
    pub factors: Vec<String>,
    /// Digits in SMS and e-mail codes (6 to 8).
    pub code_digits: u32,
    /// Minutes without activity before a recipient's session ends.
    pub idle_timeout_minutes: u64,
    /// Mail the sender when the recipient first opens the message.
    pub read_receipt: bool,
    /// Mail the sender a confirmation with the status link (and access code).
    pub sender_confirmation: bool,
    /// The vault's master key (32 bytes, base64). Empty: `master_key_file`.
    pub master_key: String,
    /// Default `data_dir/keys/master.key`, made on first start.
    pub master_key_file: PathBuf,
}

/// Mail between the organisation's own addresses: attachments stay in the vault and the
/// mail carries a link (the guidance: share a link, not the file), when they are sensitive
/// (and the text itself is not) or together at least `min_size` bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InternalLinks {
    pub enabled: bool,
    pub min_size: usize,
}

impl Default for InternalLinks {
    fn default() -> Self {
        InternalLinks {
            enabled: true,
            min_size: 10 * 1024 * 1024,
        }
    }
}

/// The double-check: hold a message until the sender confirms it, per rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DoubleCheck {
    /// A recipient the organisation never wrote to (no contact, no earlier delivery).
    pub new_recipient: bool,
    /// A recipient domain that looks like a contact's or partner's domain but is not.
    pub look_alike: bool,
    /// At least this many outside addresses visible in To/Cc (0: off).
    pub many_visible: usize,
    /// Sensitive content to a free-mail address (gmail.com, hotmail.com, ziggo.nl...).
    pub free_mail: bool,
}

impl Default for DoubleCheck {
    fn default() -> Self {
        // Only the look-alike rule by default: the others would hold every first message
        // of a new installation until its contacts are known.
        DoubleCheck {
            new_recipient: false,
            look_alike: true,
            many_visible: 0,
            free_mail: false,
        }
    }
}

/// Staff sign-in with the organisation's identity provider (OpenID Connect: Entra ID,
/// Keycloak). Off while `issuer` is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Oidc {
    /// The issuer URL (its `/.well-known/openid-configuration` is read).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The button's text: "Aanmelden met `<name>`".
    pub name: String,
    /// Scopes besides `openid`.
    pub scopes: Vec<String>,
    /// `email`, or `preferred_username` (Entra ID's sign-in name).
    pub email_claim: String,
    /// Only sign-ins where the provider's `amr` claim names a second factor.
    pub require_mfa: bool,
}

impl Default for Oidc {
    fn default() -> Self {
        Oidc {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            name: "Microsoft Entra ID".into(),
            scopes: vec!["email".into(), "profile".into()],
            email_claim: "email".into(),
            require_mfa: true,
        }
    }
}

/// Mail to the address of someone who left (after `veilpost user offboard`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Offboarding {
    /// `reject` (default): refused at RCPT with a text naming the general address;
    /// `forward`: delivered to the successor named at offboarding (refused when none).
    pub answer: String,
    /// The practice's general address named in the rejection; default `info@` the first
    /// domain.
    pub general_address: String,
}

impl DoubleCheck {
    /// As the policy crate's rules.
    pub fn rules(&self) -> veilpost_policy::doublecheck::Rules {
        veilpost_policy::doublecheck::Rules {
            new_recipient: self.new_recipient,
            look_alike: self.look_alike,
            many_visible: self.many_visible,
            free_mail: self.free_mail,
        }
    }
}

/// The secure contact form (`/contact`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeConfig {
    /// The mailbox patients' messages go to; empty: no contact form.
    pub mailbox: String,
    /// File extensions the form takes.
    pub allowed_types: Vec<String>,
    /// ClamAV's daemon (`host:port`, TCP) that checks every file patients and portal
    /// recipients upload; empty: no virus scan. When set and unreachable, uploads are
    /// refused (fail closed).
    pub clamd: String,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            mailbox: String::new(),
            allowed_types: veilpost_web::default_intake_types(),
            clamd: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// Days audit entries are kept (NEN 7513: at least five years).
    pub retention_days: u64,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            retention_days: 5 * 366,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Domains mail may never go to.
    pub block_domains: Vec<String>,
    /// Domains with an agreement on mandatory authenticated TLS (certificate checked
    /// against the MX host name).
    pub partner_domains: Vec<String>,
    /// Domains whose sensitive mail goes as the `encrypted-attachment` route: attachments in
    /// one AES-256 ZIP, the password by SMS to the recipient's number, when the text itself
    /// is clean and a number is known (otherwise the portal). `[zip]` in a subject asks
    /// for the same per message.
    pub zip_domains: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./veilpost-data"),
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
            doublecheck: DoubleCheck::default(),
            internal_links: InternalLinks::default(),
            offboarding: Offboarding::default(),
            oidc: Oidc::default(),
            dlp: Dlp::default(),
        }
    }
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            submission_listen: "127.0.0.1:2587".into(),
            hostname: "localhost".into(),
            trusted_networks: Vec::new(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_messages_per_hour: 1000,
            command_timeout: 300,
            max_connections: 256,
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            trust_forwarded_for: false,
        }
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            mode: "outbox".into(),
            routes: BTreeMap::new(),
            smtp_port: 25,
            mta_sts_port: 443,
            workers: 16,
            max_retry_hours: 120.0,
            first_retry: 60,
            max_retry_interval: 4 * 3600,
            delay_notice_hours: 4.0,
            ca_files: Vec::new(),
            ca_only: false,
        }
    }
}

impl Default for Sms {
    fn default() -> Self {
        Sms {
            provider: "outbox".into(),
            url: String::new(),
            token: String::new(),
            sender: "Veilpost".into(),
            timeout_secs: 10,
            attempts: 3,
        }
    }
}

impl Default for Organisation {
    fn default() -> Self {
        Organisation {
            name: "Veilpost".into(),
            domains: Vec::new(),
            notify_from: String::new(),
        }
    }
}

impl Default for Dkim {
    fn default() -> Self {
        Dkim {
            selector: "veilpost".into(),
        }
    }
}

impl Default for Portal {
    fn default() -> Self {
        Portal {
            expiry_days: 30,
            factors: vec!["sms".into(), "access_code".into(), "totp".into()],
            code_digits: 6,
            idle_timeout_minutes: 15,
            read_receipt: true,
            sender_confirmation: true,
            master_key: String::new(),
            master_key_file: PathBuf::new(),
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
        for (name, addr) in [
            ("smtp.submission_listen", &self.smtp.submission_listen),
            ("web.listen", &self.web.listen),
        ] {
            addr.parse::<SocketAddr>()
                .with_context(|| format!("{name}: {addr:?} is not an address:port"))?;
        }
        if !matches!(self.delivery.mode.as_str(), "outbox" | "mx") {
            bail!(
                "delivery.mode must be \"outbox\" or \"mx\", not {:?}",
                self.delivery.mode
            );
        }
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
        let d = &self.delivery;
        if !(d.max_retry_hours.is_finite() && d.max_retry_hours > 0.0) {
            bail!("delivery.max_retry_hours must be a positive number of hours");
        }
        if !(d.delay_notice_hours.is_finite() && d.delay_notice_hours >= 0.0) {
            bail!("delivery.delay_notice_hours must be 0 (never) or a positive number of hours");
        }
        if d.workers == 0 || d.first_retry == 0 || d.max_retry_interval < d.first_retry {
            bail!(
                "delivery.workers and delivery.first_retry must be at least 1, and \
                 max_retry_interval at least first_retry"
            );
        }
        for (domain, target) in &self.delivery.routes {
            split_host_port(target)
                .with_context(|| format!("delivery.routes.{domain:?}: {target:?}"))?;
        }
        for net in &self.smtp.trusted_networks {
            parse_cidr(net).with_context(|| format!("smtp.trusted_networks: {net:?}"))?;
        }
        veilpost_dlp::detect::custom::validate(&self.dlp.identifiers()?)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !(self.web.public_url.starts_with("https://")
            || self.web.public_url.starts_with("http://"))
        {
            bail!("web.public_url must start with https:// (or http:// for a local trial)");
        }
        Ok(())
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
            trust_forwarded_for: self.web.trust_forwarded_for,
            intake_mailbox: (!self.intake.mailbox.is_empty()).then(|| self.intake.mailbox.clone()),
            intake_types: self.intake.allowed_types.clone(),
            clamd: (!self.intake.clamd.is_empty()).then(|| self.intake.clamd.clone()),
            policy: self.policy_view(),
            doublecheck: self.doublecheck.rules(),
            leaver_answer: if self.offboarding.answer.is_empty() {
                "reject".into()
            } else {
                self.offboarding.answer.clone()
            },
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
        self.organisation
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// `host:port` (with `[v6]:port`).
pub fn split_host_port(target: &str) -> Result<(String, u16)> {
    let (host, port) = target.rsplit_once(':').context("expected host:port")?;
    let port: u16 = port.parse().context("bad port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("empty host");
    }
    Ok((host.to_string(), port))
}

/// `10.0.0.0/8`, `192.0.2.1` or `2001:db8::/32`.
pub fn parse_cidr(text: &str) -> Result<(std::net::IpAddr, u8)> {
    let (ip, bits) = match text.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = ip.trim().parse().context("bad IP address")?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.trim().parse::<u8>().context("bad prefix length")?,
        None => max,
    };
    if bits > max {
        bail!("prefix longer than the address");
    }
    Ok((ip, bits))
}

/// Is `ip` inside `net/bits`?
pub fn in_cidr(ip: std::net::IpAddr, (net, bits): (std::net::IpAddr, u8)) -> bool {
    use std::net::IpAddr;
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|v4| in_cidr(IpAddr::V4(v4), (net, bits))),
        _ => false,
    }
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    // Maps the user fills in (routes) are replaced, sections merged.
                    Some(existing @ toml::Value::Table(_)) if v.is_table() && k != "routes" => {
                        merge(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Every leaf key of the defaults: (path, default value).
fn leaves(v: &toml::Value, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() && k != "routes" {
                    leaves(v, &path, out);
                } else {
                    out.push((path, v.clone()));
                }
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

fn env_value(default: &toml::Value, text: &str, name: &str) -> Result<toml::Value> {
    let list = || {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    };
    Ok(match default {
        toml::Value::String(_) => toml::Value::String(text.to_string()),
        toml::Value::Integer(_) => toml::Value::Integer(
            text.trim()
                .parse()
                .with_context(|| format!("{name}: {text:?} is not a number"))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            text.trim()
                .parse()
                .with_context(|| format!("{name}: {text:?} is not a number"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match text.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => bail!("{name}: {text:?} is not true or false"),
        }),
        toml::Value::Array(_) => toml::Value::Array(
            list()
                .into_iter()
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        toml::Value::Table(_) => {
            let mut t = toml::map::Map::new();
            for pair in list() {
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("{name}: expected key=value, got {pair:?}"))?;
                t.insert(
                    k.trim().to_string(),
                    toml::Value::String(v.trim().to_string()),
                );
            }
            toml::Value::Table(t)
        }
        other => bail!("{name}: cannot be set from the environment ({other:?})"),
    })
}

fn apply_env(
    value: &mut toml::Value,
    defaults: &toml::Value,
    env: &[(String, String)],
) -> Result<()> {
    let mut keys = Vec::new();
    leaves(defaults, "", &mut keys);
    for (path, default) in keys {
        let name = format!("VEILPOST_{}", path.replace('.', "_").to_ascii_uppercase());
        let Some((_, text)) = env.iter().find(|(k, _)| *k == name) else {
            continue;
        };
        let new = env_value(&default, text, &name)?;
        let mut cursor = &mut *value;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            cursor = cursor
                .as_table_mut()
                .and_then(|t| t.get_mut(*part))
                .with_context(|| format!("{name}: no section {part}"))?;
        }
        if let Some(t) = cursor.as_table_mut() {
            t.insert(parts[parts.len() - 1].to_string(), new);
        }
    }
    Ok(())
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
