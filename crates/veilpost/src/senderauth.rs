//! `veilpost verify` and `veilpost dkim keygen|sign`.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde_json::json;
use veilpost_dns::DnsConfig;
use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};
use veilpost_senderauth::{AuthResult, Authenticator, Verification, VerifyRequest};

use crate::lang::{Lang, Words};

/// Messages larger than this are refused by `verify` and `dkim sign`.
const MAX_MESSAGE: u64 = 100 * 1024 * 1024;

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

/// `--algorithm` of `dkim keygen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Algorithm {
    /// RSA 2048 bits (rsa-sha256): what every receiver verifies.
    #[default]
    Rsa2048,
    /// Ed25519 (RFC 8463): small and fast; publish it next to an RSA key.
    Ed25519,
}

fn read_limited(mut reader: impl Read, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader
        .by_ref()
        .take(MAX_MESSAGE + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {what}"))?;
    if buf.len() as u64 > MAX_MESSAGE {
        bail!("{what} is larger than {MAX_MESSAGE} bytes");
    }
    Ok(buf)
}

/// This host's name, for the Authentication-Results header.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "veilpost".to_string())
}

/// `veilpost verify`; returns the exit code.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    dns: &DnsConfig,
    message: &Path,
    ip: IpAddr,
    helo: Option<&str>,
    mail_from: Option<&str>,
    authserv_id: Option<&str>,
    format: Format,
    lang: Lang,
) -> Result<u8> {
    let raw = if message.as_os_str() == "-" {
        read_limited(io::stdin().lock(), "standard input")?
    } else {
        let file = std::fs::File::open(message)
            .with_context(|| format!("cannot open {}", message.display()))?;
        read_limited(file, &message.display().to_string())?
    };
    let authserv = authserv_id.map_or_else(hostname, str::to_string);
    let auth = Authenticator::new(dns, &authserv)?;
    let helo = helo.unwrap_or_default();
    let mail_from = mail_from.unwrap_or_default();
    let v = crate::serve::runtime()?.block_on(auth.verify(&VerifyRequest {
        message: &raw,
        ip,
        helo,
        mail_from,
    }));
    let mut out = io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", verification_json(&v))?,
        Format::Text => write!(out, "{}", verification_text(&v, lang))?,
    }
    let failed = v.dmarc.result == AuthResult::Fail
        || (v.dmarc.result == AuthResult::None
            && v.spf.result == AuthResult::Fail
            && !v.dkim.iter().any(|d| d.result == AuthResult::Pass));
    Ok(u8::from(failed))
}

fn verification_json(v: &Verification) -> serde_json::Value {
    json!({
        "spf": {
            "result": v.spf.result.as_str(),
            "identity": match v.spf.identity {
                veilpost_senderauth::SpfIdentity::MailFrom => "mailfrom",
                veilpost_senderauth::SpfIdentity::Helo => "helo",
            },
            "value": v.spf.value,
            "domain": v.spf.domain,
            "explanation": v.spf.explanation,
        },
        "dkim": v.dkim.iter().map(|d| json!({
            "result": d.result.as_str(),
            "domain": d.domain,
            "selector": d.selector,
            "algorithm": d.algorithm,
            "detail": d.detail,
        })).collect::<Vec<_>>(),
        "dmarc": {
            "result": v.dmarc.result.as_str(),
            "domain": v.dmarc.from_domain,
            "policy_domain": v.dmarc.policy_domain,
            "policy": v.dmarc.policy.as_str(),
            "disposition": v.dmarc.disposition.as_str(),
            "dkim_aligned": v.dmarc.dkim_aligned,
            "spf_aligned": v.dmarc.spf_aligned,
            "detail": v.dmarc.detail,
        },
        "arc": {
            "result": v.arc.result.as_str(),
            "instances": v.arc.instances,
            "detail": v.arc.detail,
        },
        "authentication_results": v.authentication_results.trim_end(),
    })
}

fn verification_text(v: &Verification, lang: Lang) -> String {
    let mut s = String::new();
    let detail = |d: &Option<String>| d.as_ref().map(|d| format!(" — {d}")).unwrap_or_default();
    s.push_str(&format!(
        "SPF    {:<10} {}{}\n",
        v.spf.result.as_str(),
        v.spf.value,
        detail(&v.spf.explanation)
    ));
    if v.dkim.is_empty() {
        s.push_str(&format!("DKIM   {:<10} {}\n", "none", lang.no_signature()));
    }
    for d in &v.dkim {
        s.push_str(&format!(
            "DKIM   {:<10} {} (s={}, {}){}\n",
            d.result.as_str(),
            d.domain,
            d.selector,
            d.algorithm,
            detail(&d.detail)
        ));
    }
    s.push_str(&format!(
        "DMARC  {:<10} {} (p={}){}\n",
        v.dmarc.result.as_str(),
        v.dmarc.from_domain,
        v.dmarc.policy.as_str(),
        if v.dmarc.result == AuthResult::Pass {
            String::new()
        } else {
            detail(&v.dmarc.detail)
        }
    ));
    s.push_str(&format!(
        "ARC    {:<10}{}\n\n",
        v.arc.result.as_str(),
        detail(&v.arc.detail)
    ));
    s.push_str(&v.authentication_results.replace("\r\n", "\n"));
    s
}

/// `veilpost dkim keygen`.
pub fn keygen(
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
    out_dir: &Path,
    lang: Lang,
) -> Result<()> {
    let alg = match algorithm {
        Algorithm::Rsa2048 => KeyAlgorithm::Rsa2048,
        Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
    };
    let key = SigningKey::generate(alg)?;
    // Prove the names are usable before writing anything.
    key.sign(b"From: x@example.nl\r\n\r\n", domain, selector)?;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let base = format!("{selector}.{}", domain.trim_end_matches('.'));
    let key_path = out_dir.join(format!("{base}.key"));
    let txt_path = out_dir.join(format!("{base}.txt"));
    write_private(&key_path, key.to_pem().as_bytes())?;
    let zone = key.zone_line(domain, selector);
    std::fs::write(&txt_path, format!("{zone}\n"))
        .with_context(|| format!("cannot write {}", txt_path.display()))?;
    let mut out = io::stdout().lock();
    writeln!(out, "{}", lang.keygen_done(&key_path, &txt_path))?;
    writeln!(out, "{zone}")?;
    Ok(())
}

/// Write a private key readable by its owner only, never replacing an existing file.
fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (does it exist already?)", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// `veilpost dkim sign`: message on stdin, signed message on stdout.
pub fn sign(key_file: &Path, domain: &str, selector: &str) -> Result<()> {
    let pem = std::fs::read_to_string(key_file)
        .with_context(|| format!("cannot read key {}", key_file.display()))?;
    let key = SigningKey::from_pem(&pem)?;
    let message = read_limited(io::stdin().lock(), "standard input")?;
    if message.is_empty() {
        bail!("no message on standard input");
    }
    let header = key.sign(&message, domain, selector)?;
    let mut out = io::stdout().lock();
    out.write_all(header.as_bytes())?;
    out.write_all(&message)?;
    out.flush()?;
    Ok(())
}
