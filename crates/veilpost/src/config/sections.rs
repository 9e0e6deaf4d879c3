//! The tables of `veilpost.toml` and their defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

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
    /// The MX listener for inbound mail (port 25 in production); empty: none. It takes
    /// mail for the organisation's domains only and relays it to `inbound.relay_to`.
    pub inbound_listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Web {
    pub listen: String,
    /// The address recipients and staff use (links in mails point here).
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy that
    /// sets it), believing only the hops added by `trusted_proxies`.
    pub trust_forwarded_for: bool,
    /// The reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` hop is
    /// believed; empty with `trust_forwarded_for`: a proxy on this machine (loopback).
    pub trusted_proxies: Vec<String>,
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
    /// Deliveries at once (they mostly wait on the network).
    pub workers: usize,
    /// Deliveries at once to one recipient domain, as Postfix's
    /// `default_destination_concurrency_limit`, so one busy destination neither takes
    /// every worker nor is flooded.
    pub destination_concurrency: usize,
    /// Seconds an SMTP connection is kept open after a delivery for the next message to
    /// the same server (Postfix's `smtp_connection_cache_time_limit`); 0: a new
    /// connection for every message.
    pub connection_cache_seconds: u64,
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
    /// The house colour (`#RRGGBB`) of notifications and portal pages.
    pub colour: String,
    /// A phone number recipients may call about a message ("Verwacht u dit bericht
    /// niet? Bel …").
    pub phone: String,
    /// The organisation's website, shown in notifications.
    pub website: String,
    /// A logo file (PNG or JPEG, at most 200 KB), in every notification and portal page.
    pub logo: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dkim {
    /// Selector of the keys made on first start.
    pub selector: String,
    /// Where the keys are (`SELECTOR.DOMAIN.key`); empty (default): `data_dir/dkim`.
    /// Several nodes point this at the same keys (one selector for all).
    pub key_dir: String,
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
    /// Working days within which the organisation usually answers, told on the form and
    /// after sending.
    pub response_days: u32,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            mailbox: String::new(),
            allowed_types: veilpost_web::default_intake_types(),
            clamd: String::new(),
            response_days: 2,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// Days audit entries are kept (NEN 7513: at least five years).
    pub retention_days: u64,
    /// The Ed25519 key that signs checkpoints of the audit chain (PKCS#8; made on first
    /// start). Keep it out of reach of whoever can write the database. Default
    /// `data_dir/keys/audit-checkpoint.key`.
    pub checkpoint_key: String,
    /// Where signed checkpoints are appended, one JSON line each: best a file on another
    /// volume or machine. Every checkpoint is also a log line (for the SIEM). Default
    /// `data_dir/audit-checkpoints.jsonl`.
    pub checkpoint_file: String,
    /// Minutes between checkpoints (one is made only when the chain has grown); 0: none.
    pub checkpoint_minutes: u64,
    /// Every audit entry and checkpoint also as a syslog message (RFC 5424) to a SIEM:
    /// `udp://HOST:PORT` or `tcp://HOST:PORT`; empty (default): none. With several
    /// nodes, set it on one (each ships every entry of the shared log).
    pub syslog: String,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            retention_days: 5 * 366,
            checkpoint_key: String::new(),
            checkpoint_file: String::new(),
            checkpoint_minutes: 60,
            syslog: String::new(),
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
            inbound_listen: String::new(),
        }
    }
}

/// Inbound mail: where it goes on to and what the verdict does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Inbound {
    /// The organisation's own mail server (`HOST:PORT`) that accepted mail goes on to,
    /// with STARTTLS when it offers it, retried until delivered.
    pub relay_to: String,
    /// The authserv-id in `Authentication-Results`; empty: `smtp.hostname`.
    pub authserv_id: String,
    /// Forwarders (domains) whose ARC seal explains a DMARC failure after forwarding.
    pub trusted_forwarders: Vec<String>,
    /// From this score: a warning banner; from `quarantine_at`: quarantine.
    pub tag_at: u32,
    pub quarantine_at: u32,
    /// What a DMARC failure under `p=reject` / `p=quarantine` gets: `reject`,
    /// `quarantine`, `tag` or `accept`.
    pub dmarc_reject: String,
    pub dmarc_quarantine: String,
    /// Findings noted but neither scored nor shown (by name).
    pub silenced: Vec<String>,
    /// ClamAV's daemon (`host:port`) every inbound message goes through; empty:
    /// `intake.clamd`, and with that empty too no virus scan.
    pub clamd: String,
    /// clamd out of reach: refuse for now (451, the sender retries) rather than let
    /// unchecked mail in with a warning.
    pub clamd_fail_closed: bool,
    /// What a virus finding gets: `reject` (default) or `quarantine`.
    pub malware: String,
    /// Put in front of the subject of mail the verdict tags (`[EXTERN]`, `[LET OP]`);
    /// empty (default): the subject stays as it is, the warning is in the message.
    pub subject_tag: String,
    /// Findings that leave a quarantined message for an administrator to release; staff
    /// release the rest of what was meant for them themselves.
    pub admin_release_only: Vec<String>,
    /// Hour of the day (0-23, the organisation's time) the quarantine digest goes to
    /// everyone with mail waiting (administrators: all of it); -1: no digest.
    pub digest_hour: i32,
    /// Where staff forward phishing (as an attachment, ARF or inline); empty (default):
    /// `phishing@` the first domain. Reports from anyone but staff are refused.
    pub phishing_address: String,
    /// Seal what Veilpost passes on with ARC (RFC 8617) under the first domain's DKIM key,
    /// for a mail server that trusts Veilpost as a sealer (Exchange Online's trusted ARC
    /// sealers) rather than re-checking DMARC on a changed message.
    pub arc_seal: bool,
}

/// `[store]`: where the metadata (messages, the queue, accounts, sessions, the audit log)
/// lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite:` (default: `veilpost.db` in `data_dir`), `sqlite:PATH`, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` when several nodes share the work.
    pub database_url: String,
    /// Seconds a node's hold on a message or delivery lasts unless renewed (renewed every
    /// third of it while the work goes on): how soon another node takes up the work of
    /// one that died. At least 5.
    pub lease_seconds: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            database_url: "sqlite:".into(),
            lease_seconds: 60,
        }
    }
}

/// `[blobs]`: where message bodies are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsConfig {
    /// Empty (default): `data_dir/blobs`; a directory; or `s3://bucket/prefix` for an
    /// S3-compatible object store shared by several nodes (every object sealed with the
    /// blob key, kept in the database wrapped by the master key; credentials from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`).
    pub url: String,
    /// The object store's URL when it is not AWS (MinIO, Garage, Ceph, …).
    pub endpoint: String,
    /// The bucket's region (default `us-east-1`; any for most other stores).
    pub region: String,
    /// Path-style requests (`endpoint/bucket/key`), as most non-AWS stores need.
    pub path_style: bool,
}

impl Default for BlobsConfig {
    fn default() -> Self {
        BlobsConfig {
            url: String::new(),
            endpoint: String::new(),
            region: "us-east-1".into(),
            path_style: false,
        }
    }
}

/// `[reports]`: DMARC aggregate and TLS-RPT reports about the organisation's domains.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reports {
    /// Where DMARC aggregate reports come (`rua=mailto:`); empty (default): `dmarc-rua@`
    /// the first domain.
    pub dmarc_address: String,
    /// Where TLS reports come (`rua=mailto:` of `_smtp._tls`); empty (default):
    /// `tls-rpt@` the first domain.
    pub tlsrpt_address: String,
    /// Days reports are kept (by the end of their period); what was set aside, by when it
    /// came.
    pub retention_days: u32,
}

impl Default for Reports {
    fn default() -> Self {
        Reports {
            dmarc_address: String::new(),
            tlsrpt_address: String::new(),
            retention_days: 400,
        }
    }
}

/// `[milter]`: Postfix calls Veilpost before it takes a message (`smtpd_milters`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Milter {
    /// Where Postfix reaches the milter (`127.0.0.1:8891`); empty (default): none.
    pub listen: String,
    /// When Veilpost cannot decide (its store, the verdict or the virus scanner failing):
    /// `true` (default) answers 451 so the sender retries; `false` lets the message on
    /// unchecked, marked `X-Veilpost-Verdict: unchecked`.
    pub fail_closed: bool,
}

impl Default for Milter {
    fn default() -> Self {
        Milter {
            listen: String::new(),
            fail_closed: true,
        }
    }
}

impl Default for Inbound {
    fn default() -> Self {
        let d = veilpost_verdict::Settings::default();
        Inbound {
            relay_to: String::new(),
            authserv_id: String::new(),
            trusted_forwarders: Vec::new(),
            tag_at: d.tag_at,
            quarantine_at: d.quarantine_at,
            dmarc_reject: "reject".into(),
            dmarc_quarantine: "quarantine".into(),
            silenced: d.silenced,
            clamd: String::new(),
            clamd_fail_closed: true,
            malware: "reject".into(),
            subject_tag: String::new(),
            admin_release_only: [
                "attachment.malware",
                "attachment.dangerous",
                "attachment.encrypted",
                "dmarc.reject",
                "dmarc.quarantine",
                "spoof.own_domain",
                "impersonation.staff",
            ]
            .map(String::from)
            .to_vec(),
            digest_hour: 8,
            phishing_address: String::new(),
            arc_seal: false,
        }
    }
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
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
            workers: 64,
            destination_concurrency: 20,
            connection_cache_seconds: 2,
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
            colour: String::new(),
            phone: String::new(),
            website: String::new(),
            logo: String::new(),
        }
    }
}

impl Default for Dkim {
    fn default() -> Self {
        Dkim {
            selector: "veilpost".into(),
            key_dir: String::new(),
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

/// `[metrics]`: Prometheus exposition on a listener of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    /// Where `/metrics` answers (`127.0.0.1:9464`); empty (default): off.
    pub listen: String,
    /// With a password: HTTP basic authentication for the scraper.
    pub username: String,
    /// Best given as `VEILPOST_METRICS_PASSWORD`.
    pub password: String,
}

/// `[acme]`: certificates for the SMTP host names from an ACME CA (Let's Encrypt, or an
/// internal one), proved with HTTP-01 on the web listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Acme {
    /// The CA's directory URL (`https://acme-v02.api.letsencrypt.org/directory`); empty
    /// (default): no ACME. Only when `smtp.tls_cert` is not set.
    pub directory: String,
    /// Contact addresses for the account (expiry notices).
    pub contact: Vec<String>,
    /// The names on the certificate; default `smtp.hostname`.
    pub names: Vec<String>,
    /// Days before the end when it is renewed.
    pub renew_days: u64,
    /// A PEM root the directory's HTTPS is checked against (an internal CA); empty: the
    /// system's roots.
    pub ca_file: String,
}

impl Default for Acme {
    fn default() -> Self {
        Acme {
            directory: String::new(),
            contact: Vec::new(),
            names: Vec::new(),
            renew_days: 30,
            ca_file: String::new(),
        }
    }
}

/// `[log]`: how the process writes its log lines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// `text` (default): lines for people; `json`: one JSON object per line, on stdout and
    /// stderr alike, for a SIEM or a log shipper.
    pub format: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: "text".into(),
        }
    }
}
