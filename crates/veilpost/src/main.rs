//! `veilpost`: the secure mail gateway's command line.
//!
//! Exit codes: 0 success or clean, 1 a finding (sensitive), 2 an error.

mod admin;
mod backup;
mod config;
mod doctor;
mod gateway;
mod healthcheck;
mod lang;
mod logging;
mod migrate;
mod posture;
mod protect;
mod reports;
mod sandbox;
mod scan;
mod senderauth;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};
use veilpost_dlp::Scanner;

use crate::lang::Lang;
use crate::sandbox::{SandboxLimits, SandboxedPdf};

#[derive(Debug, Parser)]
#[command(
    name = "veilpost",
    version,
    about = "Secure mail gateway for Dutch healthcare"
)]
struct Cli {
    /// Language of messages meant for people (JSON output is not translated).
    #[arg(
        long,
        global = true,
        value_parser = clap::builder::PossibleValuesParser::new(["nl", "en"])
            .map(|code| code.parse::<Lang>().unwrap_or_default()),
        env = "VEILPOST_LANG",
        default_value = "nl"
    )]
    lang: Lang,

    /// Send every DNS query to this server (HOST:PORT or IP); repeat for several.
    /// Default: the system's resolvers.
    #[arg(long, global = true, value_name = "HOST:PORT")]
    dns: Vec<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files for sensitive personal data (BSN, health data, identity documents).
    ///
    /// .eml files are read as mail messages; anything else is recognised by its content
    /// (PDF, DOCX, XLSX, PPTX, ODT/ODS, CSV, HTML, text, ZIP, gzip). Directories are
    /// scanned recursively; `-` reads a message from standard input.
    /// Exit status: 0 clean, 1 sensitive or not inspectable, 2 an input could not be read.
    Scan {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: scan::Format,
        /// Files scanned at the same time (default: one per CPU core).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Seconds one PDF may take before it is reported uninspectable.
        #[arg(long, default_value_t = 15)]
        pdf_timeout: u64,
        /// Read `[[dlp.identifiers]]` (the organisation's own identifiers) from this
        /// configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Files, directories, or `-` for standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Check a received message's SPF, DKIM, DMARC and ARC, and print its
    /// Authentication-Results header.
    ///
    /// Exit status: 0 authenticated or no verdict, 1 DMARC fails (or, without a DMARC
    /// policy, SPF fails and no DKIM signature passes), 2 an error.
    Verify {
        /// The message (`-` for standard input).
        message: PathBuf,
        /// The connecting client's IP address.
        #[arg(long)]
        ip: std::net::IpAddr,
        /// The HELO/EHLO name the client gave.
        #[arg(long)]
        helo: Option<String>,
        /// The MAIL FROM address; without it (or empty) SPF checks the HELO identity.
        #[arg(long)]
        mail_from: Option<String>,
        /// Our name in the Authentication-Results header (default: this host's name).
        #[arg(long)]
        authserv_id: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
    },
    /// Check a domain's mail security: SPF, DMARC, DKIM, MX, STARTTLS, DNSSEC, DANE,
    /// MTA-STS, TLS-RPT and NTA 7516, with the records to publish.
    ///
    /// Exit status: 0 no check fails, 1 a check fails, 2 an error.
    CheckDomain {
        /// The domain.
        domain: String,
        /// A DKIM selector to check (repeatable); common ones are always tried.
        #[arg(long = "dkim-selector", value_name = "SELECTOR")]
        dkim_selectors: Vec<String>,
        /// Skip the SMTP probes (STARTTLS, certificates, DANE matching).
        #[arg(long)]
        no_smtp: bool,
        /// SMTP port of the MX hosts.
        #[arg(long, default_value_t = 25)]
        smtp_port: u16,
        /// HTTPS port of the MTA-STS policy host.
        #[arg(long, default_value_t = 443)]
        https_port: u16,
        /// Also trust the CA certificates in this PEM file (repeatable).
        #[arg(long = "ca-file", value_name = "PEM")]
        ca_files: Vec<PathBuf>,
        /// Trust only the --ca-file certificates, not the system's.
        #[arg(long)]
        ca_only: bool,
        /// Seconds the whole check may take.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
        /// Take the report addresses the advice points at (`reports.dmarc_address`,
        /// `reports.tlsrpt_address`) from this configuration; without one: `dmarc-rua@`
        /// and `tls-rpt@` the domain.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the gateway: SMTP submission, scanning, secure delivery, the portal.
    ///
    /// Without a configuration file it runs a local trial: data under ./veilpost-data,
    /// submission on 127.0.0.1:2587, web on 127.0.0.1:8080, outbound mail captured in
    /// ./veilpost-data/outbox instead of sent.
    Serve {
        /// The configuration file (TOML; see veilpost.example.toml).
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Staff accounts for SMTP submission: add, list, disable (offboarding).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Encrypt files into one AES-256 ZIP with a generated password, to mail the ZIP and
    /// pass the password on through another channel (SMS with --sms, or by phone).
    Protect {
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
        /// Where the ZIP goes (default: FIRST-FILE-beveiligd.zip here); never overwritten.
        #[arg(long, value_name = "OUT.zip")]
        out: Option<PathBuf>,
        /// Send the password by SMS to this number through the configured provider.
        #[arg(long, value_name = "+316…")]
        sms: Option<String>,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Contacts: the mobile number the portal sends a recipient's SMS codes to.
    Contact {
        #[command(subcommand)]
        command: ContactCommand,
    },
    /// The master key that wraps every per-message key.
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Backups: a consistent, encrypted copy of the database, the blobs and the keys,
    /// and its restore onto a fresh installation.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// The audit log: check that no entry was changed, removed or inserted.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// DKIM keys: generate a key pair, sign a message, show the gateway's records.
    Dkim {
        #[command(subcommand)]
        command: DkimCommand,
    },
    /// DMARC aggregate and TLS reports: import saved reports, summarise a domain's senders.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Move a single node up: copy its store (SQLite and the blob directory) into
    /// PostgreSQL and, with --blobs, an S3-compatible object store (`blobs.endpoint`,
    /// `blobs.region`, `blobs.path_style` and the master key from the configuration),
    /// then verify row counts and the audit chain. Safe to run again: it resumes.
    /// Exit status: 0 copied and verified, 1 not.
    Migrate {
        /// The PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DATABASE.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Copy the blobs into this object store: s3://BUCKET/PREFIX.
        #[arg(long, value_name = "URL")]
        blobs: Option<String>,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check this installation as an operator would: configuration, listeners, store, disk,
    /// certificate, DKIM/SPF/DMARC/MTA-STS/TLS-RPT/TLSA for each organisation domain, SMS
    /// provider and clamd; each with what to do. Exit status: 0 nothing failed, 1 a check
    /// failed.
    Doctor {
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Ask the running node whether it is ready (its `/healthz/ready`): for container
    /// health checks. Exit status: 0 ready, 1 not ready or not answering.
    Healthcheck {
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Internal: extract PDF text for the sandbox (reads requests on stdin).
    #[command(hide = true)]
    PdfWorker {
        #[arg(long)]
        memory_bytes: u64,
        #[arg(long)]
        cpu_seconds: u64,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add an account; the password (at least 12 characters) is read from standard input.
    Add {
        /// The account's e-mail address (also its login).
        email: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The last day the account works (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// `staff` (sends), `admin` (also manages) or `auditor` (reads the audit log only).
        #[arg(long, default_value = "staff")]
        role: String,
        /// The name shown as sender of web-composed messages.
        #[arg(long)]
        name: Option<String>,
        /// A further address (shared mailbox) the account may send as; repeat for more.
        #[arg(long = "scope", value_name = "ADDRESS")]
        scopes: Vec<String>,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// List the accounts.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Disable an account at once (a running server refuses it from the next login).
    Disable {
        email: String,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Offboard a leaver in one step: the account is disabled at once (SMTP AUTH refused
    /// by a running server), held messages are cancelled, and portal conversations go to
    /// the successor.
    Offboard {
        email: String,
        #[arg(long, value_name = "EMAIL")]
        successor: Option<String>,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ContactCommand {
    /// Add or update a contact (the number in international form or as 06…).
    Add {
        email: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Import contacts from CSV (columns email, name, phone; a header line is optional).
    /// Valid rows are saved; refused rows are listed with their line (exit status 1).
    Import {
        file: PathBuf,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Write all contacts as CSV (email, name, phone) to standard output.
    Export {
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum MasterKeyCommand {
    /// Rotate it: a new key wraps every per-message key and the object store's blob key
    /// (ciphertexts and objects untouched), with the node stopped.
    Rotate {
        /// On PostgreSQL: every node is stopped.
        #[arg(long)]
        all_nodes_stopped: bool,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Write a backup into DIR (new or empty), while the gateway runs: a snapshot of the
    /// database (SQLite, or pg_dump for PostgreSQL), every blob and the keys, each file
    /// sealed with a key from the passphrase (VEILPOST_BACKUP_PASSPHRASE, or one line on
    /// stdin with --passphrase-stdin; at least 12 characters), with a sealed manifest of
    /// sizes and SHA-256 sums.
    Create {
        dir: PathBuf,
        #[arg(long)]
        passphrase_stdin: bool,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Restore the backup in DIR onto the fresh installation the configuration names,
    /// check every file, the message count and the audit chain. Exit status: 0 restored
    /// and verified, 1 restored but not matching the backup, 2 not restored.
    Restore {
        dir: PathBuf,
        #[arg(long)]
        passphrase_stdin: bool,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the audit log; exit status 1 when it is broken.
    Verify {
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
        /// Also hold the chain against these signed checkpoints (the lines the gateway
        /// appends to audit.checkpoint_file): a chain rewritten with fresh hashes no longer
        /// matches them. Exit status 1 then too.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// The checkpoint key's public half (base64); default: from audit.checkpoint_key.
        #[arg(long, value_name = "BASE64")]
        public_key: Option<String>,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Import reports saved from a mailbox: .eml, .xml, .xml.gz, .zip, .json, .json.gz
    /// (recognised by content; directories are walked). Each report is counted once;
    /// one about a domain not ours, with dates in the future, or unreadable is kept aside
    /// with the reason. Exit status: 0 every file read, 1 a file gave no report.
    Import {
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
        /// Files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Who sends as DOMAIN per the DMARC reports, how each source aligns, and whether
    /// p=reject is safe (every source with 1 % or more of the messages passes DMARC).
    Summary {
        /// The domain (as in its DMARC policy).
        domain: String,
        /// Only reports whose period ends after the start of this day (YYYY-MM-DD, UTC) or
        /// this moment (RFC 3339).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: senderauth::Format,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum DkimCommand {
    /// Generate a key pair: writes DIR/SELECTOR.DOMAIN.key (mode 0600) and the DNS
    /// record to publish (DIR/SELECTOR.DOMAIN.txt, also printed).
    Keygen {
        /// The signing domain (d=).
        #[arg(long)]
        domain: String,
        /// The selector (s=): the key is published at SELECTOR._domainkey.DOMAIN.
        #[arg(long)]
        selector: String,
        /// Key algorithm.
        #[arg(long, value_enum, default_value_t)]
        algorithm: senderauth::Algorithm,
        /// Directory for the key files.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign the message on standard input (relaxed/relaxed) and write it, with its
    /// DKIM-Signature header, to standard output.
    Sign {
        /// The private key (PEM, PKCS#8 or PKCS#1).
        #[arg(long)]
        key: PathBuf,
        /// The signing domain (d=).
        #[arg(long)]
        domain: String,
        /// The selector (s=).
        #[arg(long)]
        selector: String,
    },
    /// Print the DNS records of the gateway's DKIM keys (one per organisation domain;
    /// made if missing).
    Show {
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Rotate the gateway's DKIM keys: new keys under a new selector for every
    /// organisation domain, published beside the old ones now (the records are printed),
    /// signing from --after hours on. A running node follows at the set time (and at once
    /// on SIGHUP). Keep the old record published for a few days after the switch.
    Rotate {
        /// The new selector (a DNS label); default vpYYYYMMDD.
        #[arg(long)]
        selector: Option<String>,
        /// Hours until the new keys sign: time for the records to be published and cached.
        #[arg(long, default_value_t = 72.0)]
        after: f64,
        #[arg(long, env = "VEILPOST_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// The DNS configuration from `--dns` (or the configured nameservers).
pub(crate) fn dns_config(servers: &[String]) -> anyhow::Result<veilpost_dns::DnsConfig> {
    let nameservers = servers
        .iter()
        .map(|s| veilpost_dns::parse_nameserver(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(veilpost_dns::DnsConfig {
        nameservers,
        ..Default::default()
    })
}

/// Report an error the way every command does: one line, exit status 2.
fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("veilpost: {err:#}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::PdfWorker {
        memory_bytes,
        cpu_seconds,
    } = cli.command
    {
        // The worker speaks to its parent only; a failure is its exit status.
        return match sandbox::run_worker(memory_bytes, cpu_seconds) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(2),
        };
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

/// Carry out one command; the exit status, or the error that ends it with 2.
fn run(cli: Cli) -> anyhow::Result<u8> {
    let dns = dns_config(&cli.dns)?;
    let lang = cli.lang;
    match cli.command {
        Command::Scan {
            format,
            jobs,
            pdf_timeout,
            config,
            paths,
        } => {
            let scanner = scanner(pdf_timeout, config.as_deref())?;
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            Ok(scan::run(&scanner, &paths, format, lang, jobs))
        }
        Command::Verify {
            message,
            ip,
            helo,
            mail_from,
            authserv_id,
            format,
        } => senderauth::verify(
            &dns,
            &message,
            ip,
            helo.as_deref(),
            mail_from.as_deref(),
            authserv_id.as_deref(),
            format,
            lang,
        ),
        Command::CheckDomain {
            domain,
            dkim_selectors,
            no_smtp,
            smtp_port,
            https_port,
            ca_files,
            ca_only,
            timeout,
            format,
            config,
        } => {
            let args = posture::Args {
                dkim_selectors,
                probe_smtp: !no_smtp,
                smtp_port,
                https_port,
                ca_files,
                ca_only,
                timeout,
                report_addresses: report_addresses(config.as_deref())?,
            };
            posture::run(&dns, &domain, &args, format, lang)
        }
        Command::Dkim { command } => dkim(command, lang).map(|()| 0),
        Command::Serve { config } => serve::serve(config.as_deref(), &cli.dns).map(|()| 0),
        Command::MasterKey {
            command:
                MasterKeyCommand::Rotate {
                    all_nodes_stopped,
                    config,
                },
        } => admin::master_key_rotate(config.as_deref(), all_nodes_stopped),
        Command::Backup {
            command:
                BackupCommand::Create {
                    dir,
                    passphrase_stdin,
                    config,
                },
        } => backup::create(config.as_deref(), &dir, passphrase_stdin),
        Command::Backup {
            command:
                BackupCommand::Restore {
                    dir,
                    passphrase_stdin,
                    config,
                },
        } => backup::restore(config.as_deref(), &dir, passphrase_stdin),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    format,
                    checkpoints,
                    public_key,
                    config,
                },
        } => admin::audit_verify(
            config.as_deref(),
            format,
            checkpoints.as_deref(),
            public_key.as_deref(),
            lang,
        ),
        Command::Protect {
            format,
            out,
            sms,
            config,
            files,
        } => protect::run(
            &files,
            out.as_deref(),
            sms.as_deref(),
            config.as_deref(),
            format,
            lang,
        ),
        Command::Contact { command } => contact(command, lang),
        Command::User { command } => admin::run(command, lang),
        Command::Report { command } => report(command, lang),
        Command::Migrate { to, blobs, config } => {
            migrate::run(config.as_deref(), &to, blobs.as_deref(), lang)
        }
        Command::Healthcheck { config } => healthcheck::run(config.as_deref()),
        Command::Doctor { format, config } => {
            doctor::run(config.as_deref(), &cli.dns, format, lang)
        }
        Command::PdfWorker { .. } => Ok(2),
    }
}

/// `check-domain --config`: the report addresses the organisation's records should name.
fn report_addresses(
    config: Option<&std::path::Path>,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    Ok(match config {
        Some(path) => {
            let c = config::load(Some(path))?;
            (Some(c.dmarc_address()), Some(c.tlsrpt_address()))
        }
        None => (None, None),
    })
}

/// `veilpost dkim …`.
fn dkim(command: DkimCommand, lang: Lang) -> anyhow::Result<()> {
    match command {
        DkimCommand::Keygen {
            domain,
            selector,
            algorithm,
            out,
        } => senderauth::keygen(&domain, &selector, algorithm, &out, lang)?,
        DkimCommand::Sign {
            key,
            domain,
            selector,
        } => senderauth::sign(&key, &domain, &selector)?,
        DkimCommand::Show { config } => admin::dkim_show(config.as_deref())?,
        DkimCommand::Rotate {
            selector,
            after,
            config,
        } => admin::dkim_rotate(config.as_deref(), selector.as_deref(), after, lang)?,
    }
    Ok(())
}

/// `veilpost contact …`; the exit code.
fn contact(command: ContactCommand, lang: Lang) -> anyhow::Result<u8> {
    match command {
        ContactCommand::Add {
            email,
            phone,
            name,
            config,
        } => admin::contact_add(config.as_deref(), &email, &phone, name.as_deref(), lang),
        ContactCommand::Import { file, config } => {
            admin::contact_import(config.as_deref(), &file, lang)
        }
        ContactCommand::Export { config } => admin::contact_export(config.as_deref()),
    }
}

/// `veilpost report …`; the exit code.
fn report(command: ReportCommand, lang: Lang) -> anyhow::Result<u8> {
    match command {
        ReportCommand::Import {
            format,
            config,
            paths,
        } => reports::import(config.as_deref(), &paths, format, lang),
        ReportCommand::Summary {
            domain,
            since,
            format,
            config,
        } => reports::summary(config.as_deref(), &domain, since.as_deref(), format, lang),
    }
}

/// The scanner of `veilpost scan`: PDFs in the sandboxed worker, the organisation's
/// `[dlp]` settings when a configuration is given (the file is still checked whole).
fn scanner(pdf_timeout: u64, config: Option<&std::path::Path>) -> anyhow::Result<Scanner> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find own executable for the PDF sandbox: {e}"))?;
    let limits = SandboxLimits {
        timeout: std::time::Duration::from_secs(pdf_timeout.max(1)),
        ..SandboxLimits::default()
    };
    let base = Scanner::new().with_pdf_extractor(Arc::new(SandboxedPdf::new(exe, limits)));
    match config {
        Some(path) => config::load(Some(path))?.dlp.scanner(base),
        None => Ok(base),
    }
}
