//! MX: present and resolvable; per host STARTTLS (version, certificate, suites), DNSSEC
//! and DANE against the certificate actually served.

use hickory_proto::rr::RecordType;
use veilpost_dns::{Proof, ValidatedError};
use veilpost_senderauth::spf::Answer;

use crate::dns::Dns;
use crate::text::{Lang, dns_error, say};
use crate::tls::{Prober, SmtpProbe};
use crate::{Check, Options, Status};

/// At most this many MX hosts are examined.
const MAX_HOSTS: usize = 10;

/// What the summary needs to know about each MX host.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub(crate) hosts: Vec<Host>,
    /// The domain publishes a null MX (it receives no mail).
    pub(crate) null_mx: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Host {
    pub(crate) name: String,
    /// DNSSEC-signed TLSA records that match the served certificate.
    pub(crate) dane: bool,
    /// STARTTLS with TLS 1.2+ and a certificate valid for the name (PKIX).
    pub(crate) pkix_tls: bool,
}

fn proof_word(p: Proof) -> &'static str {
    match p {
        Proof::Secure => "secure",
        Proof::Insecure => "insecure",
        Proof::Bogus => "bogus",
        Proof::Indeterminate => "indeterminate",
    }
}

pub(crate) async fn check(
    dns: &Dns,
    prober: &Prober,
    opts: &Options,
    domain: &str,
) -> (Vec<Check>, Facts) {
    let lang = opts.lang;
    let mut out = Vec::new();
    let mut facts = Facts::default();
    let hosts: Vec<String> = match dns.mx(domain).await {
        Answer::TempError(e) => {
            out.push(Check::new(
                "mx-records",
                Status::Warn,
                dns_error(lang, domain, &e),
            ));
            return (out, facts);
        }
        Answer::Empty => {
            out.push(Check::new("mx-records", Status::Warn, say!(lang, "Geen MX-record: mail gaat naar het A/AAAA-adres van {} (als dat er is).", "No MX record: mail goes to the A/AAAA address of {} (if any).", domain))
                .advice(say!(lang, "Publiceer een MX-record, of een null MX (`{}. MX 0 .`) als het domein geen mail ontvangt.", "Publish an MX record, or a null MX (`{}. MX 0 .`) if the domain receives no mail.", domain)));
            vec![domain.to_string()]
        }
        Answer::Records(mx) => {
            if mx.len() == 1 && (mx[0].1.is_empty() || mx[0].1 == ".") {
                facts.null_mx = true;
                out.push(Check::new(
                    "mx-records",
                    Status::Info,
                    say!(
                        lang,
                        "Null MX (RFC 7505): {} ontvangt geen mail.",
                        "Null MX (RFC 7505): {} receives no mail.",
                        domain
                    ),
                ));
                return (out, facts);
            }
            let list: Vec<String> = mx.iter().map(|(p, h)| format!("{p} {h}")).collect();
            out.push(Check::new("mx-records", Status::Pass, list.join(", ")));
            mx.into_iter().map(|(_, h)| h).take(MAX_HOSTS).collect()
        }
    };
    let mut set = tokio::task::JoinSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let (dns, prober, host, opts) = (dns.clone(), prober.clone(), host.clone(), opts.clone());
        set.spawn(async move {
            let checked =
                tokio::time::timeout(opts.deadline, host_checks(&dns, &prober, &opts, &host)).await;
            let checked = checked.unwrap_or_else(|_| {
                let late = Check::new(
                    format!("mx-{host}-deadline"),
                    Status::Fail,
                    crate::text::deadline(opts.lang, opts.deadline),
                );
                (
                    vec![late],
                    Host {
                        name: host.clone(),
                        ..Host::default()
                    },
                )
            });
            (i, checked)
        });
    }
    let mut results = set.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    for (_, (checks, host)) in results {
        out.extend(checks);
        facts.hosts.push(host);
    }
    (out, facts)
}

async fn host_checks(dns: &Dns, prober: &Prober, opts: &Options, host: &str) -> (Vec<Check>, Host) {
    let lang = opts.lang;
    let mut out = Vec::new();
    let mut facts = Host {
        name: host.to_string(),
        ..Host::default()
    };
    let addrs = match dns.addresses(host).await {
        Answer::Records(a) => {
            out.push(Check::new(
                format!("mx-{host}"),
                Status::Pass,
                a.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            a
        }
        Answer::Empty => {
            out.push(Check::new(
                format!("mx-{host}"),
                Status::Fail,
                say!(
                    lang,
                    "{} heeft geen A- of AAAA-record: mail kan niet worden afgeleverd.",
                    "{} has no A or AAAA record: mail cannot be delivered.",
                    host
                ),
            ));
            return (out, facts);
        }
        Answer::TempError(e) => {
            out.push(Check::new(
                format!("mx-{host}"),
                Status::Warn,
                dns_error(lang, host, &e),
            ));
            return (out, facts);
        }
    };
    let (dnssec, tlsa, probe) = tokio::join!(
        dns.proof(
            host,
            if addrs[0].is_ipv4() {
                RecordType::A
            } else {
                RecordType::AAAA
            }
        ),
        veilpost_dns::dane::lookup(&dns.validating, host, 25),
        async {
            if opts.probe_smtp {
                Some(prober.smtp(host, addrs[0]).await)
            } else {
                None
            }
        }
    );
    out.push(match &dnssec {
        Ok(Proof::Secure) => Check::new(format!("dnssec-mx-{host}"), Status::Pass, say!(lang, "{} is met DNSSEC ondertekend en gevalideerd.", "{} is DNSSEC-signed and validates.", host)),
        other => Check::new(format!("dnssec-mx-{host}"), Status::Fail, say!(lang, "{} is niet met DNSSEC beveiligd: {}.", "{} is not protected by DNSSEC: {}.", host, crate::text::dnssec_reason(lang, other)))
            .advice(say!(lang, "Onderteken de zone van {} met DNSSEC (vraag uw DNS-leverancier); dat is nodig voor DANE.", "Sign the zone of {} with DNSSEC (ask your DNS provider); DANE needs it.", host)),
    });
    let chain = probe.as_ref().map(|p| p.chain.clone()).unwrap_or_default();
    let signed = matches!(dnssec, Ok(Proof::Secure));
    out.push(match &tlsa {
        _ if !signed => Check::new(format!("dane-{host}"), Status::Warn, say!(lang, "Geen DANE: de zone van {} is niet met DNSSEC beveiligd, dus TLSA-records tellen niet.", "No DANE: the zone of {} is not DNSSEC-protected, so TLSA records do not count.", host))
            .advice(say!(lang, "Zet eerst DNSSEC aan, publiceer dan `_25._tcp.{}. TLSA 3 1 1 <SHA-256 van de publieke sleutel>`.", "Enable DNSSEC first, then publish `_25._tcp.{}. TLSA 3 1 1 <SHA-256 of the public key>`.", host)),
        Err(ValidatedError::NoRecords) => Check::new(format!("dane-{host}"), Status::Warn, say!(lang, "Geen TLSA-record op _25._tcp.{}: verzenders kunnen de TLS-verbinding niet authenticeren via DANE.", "No TLSA record at _25._tcp.{}: senders cannot authenticate the TLS connection through DANE.", host))
            .advice(say!(lang, "Publiceer (na DNSSEC) `_25._tcp.{}. TLSA 3 1 1 <SHA-256 van de publieke sleutel>`.", "Publish (after DNSSEC) `_25._tcp.{}. TLSA 3 1 1 <SHA-256 of the public key>`.", host)),
        Err(e) => Check::new(format!("dane-{host}"), Status::Fail, say!(lang, "TLSA-records van {} zijn niet bruikbaar: {}.", "The TLSA records of {} are not usable: {}.", host, e)),
        Ok((_, proof)) if *proof != Proof::Secure => Check::new(format!("dane-{host}"), Status::Fail, say!(lang, "TLSA-records van {} zijn niet DNSSEC-ondertekend ({}), dus onbruikbaar.", "The TLSA records of {} are not DNSSEC-signed ({}), so unusable.", host, proof_word(*proof))),
        Ok((records, _)) if probe.is_none() => Check::new(format!("dane-{host}"), Status::Info, say!(lang, "{} TLSA-record(s), ondertekend; niet vergeleken met het certificaat (SMTP-test uit).", "{} TLSA record(s), signed; not compared with the certificate (SMTP probe off).", records.len())),
        Ok((records, _)) if chain.is_empty() => Check::new(format!("dane-{host}"), Status::Fail, say!(lang, "{} TLSA-record(s), maar er kwam geen certificaat om te vergelijken.", "{} TLSA record(s), but no certificate was served to compare.", records.len())),
        Ok((records, _)) => {
            if veilpost_dns::dane::find_match(records, &chain).is_some() {
                facts.dane = true;
                Check::new(format!("dane-{host}"), Status::Pass, say!(lang, "DANE: een TLSA-record past bij het certificaat van {}.", "DANE: a TLSA record matches the certificate of {}.", host))
            } else {
                Check::new(format!("dane-{host}"), Status::Fail, say!(lang, "Geen van de {} TLSA-records past bij het certificaat dat {} toont: DANE-verzenders stellen aflevering uit.", "None of the {} TLSA records matches the certificate {} serves: DANE senders will defer delivery.", records.len(), host))
                    .advice(say!(lang, "Werk de TLSA-records bij na elke certificaatwissel (publiceer de nieuwe eerst).", "Update the TLSA records with every certificate change (publish the new one first)."))
            }
        }
    });
    if let Some(p) = probe {
        out.extend(tls_checks(host, &p, facts.dane, lang));
        facts.pkix_tls =
            p.starttls && p.tls_error.is_none() && p.cert_error.is_none() && p.version.is_some();
    }
    (out, facts)
}

/// The verdicts on one host's STARTTLS probe: the connection, then (once TLS works) the
/// version, the certificate and the cipher suites.
fn tls_checks(host: &str, p: &SmtpProbe, dane: bool, lang: Lang) -> Vec<Check> {
    if let Some(failed) = connection_failed(host, p, lang) {
        return failed;
    }
    vec![
        Check::new(
            format!("starttls-{host}"),
            Status::Pass,
            say!(lang, "STARTTLS aangeboden.", "STARTTLS offered."),
        ),
        version_check(host, p, lang),
        certificate_check(host, p, dane, lang),
        cipher_check(host, p, lang),
    ]
}

/// No SMTP, no STARTTLS, or no TLS 1.2+: the checks that say so.
fn connection_failed(host: &str, p: &SmtpProbe, lang: Lang) -> Option<Vec<Check>> {
    let mut out = Vec::new();
    let id = format!("starttls-{host}");
    if let Some(e) = &p.error {
        out.push(Check::new(
            id,
            Status::Fail,
            say!(
                lang,
                "Geen SMTP-verbinding met {}: {}.",
                "No SMTP connection to {}: {}.",
                host,
                e
            ),
        ));
        return Some(out);
    }
    if !p.starttls {
        out.push(
            Check::new(
                id,
                Status::Fail,
                say!(
                    lang,
                    "{} biedt geen STARTTLS aan: mail gaat onversleuteld.",
                    "{} does not offer STARTTLS: mail travels unencrypted.",
                    host
                ),
            )
            .advice(say!(
                lang,
                "Zet STARTTLS aan met een geldig certificaat voor {}.",
                "Enable STARTTLS with a valid certificate for {}.",
                host
            )),
        );
        return Some(out);
    }
    if let Some(e) = &p.tls_error {
        let legacy_only = !p.legacy.is_empty();
        out.push(Check::new(
            id,
            Status::Fail,
            say!(
                lang,
                "STARTTLS aangeboden, maar geen TLS 1.2 of 1.3 met {}: {}.",
                "STARTTLS offered, but no TLS 1.2 or 1.3 with {}: {}.",
                host,
                e
            ),
        ));
        if legacy_only {
            out.push(
                Check::new(
                    format!("starttls-{host}-tls-version"),
                    Status::Fail,
                    say!(
                        lang,
                        "Alleen verouderde TLS: {}.",
                        "Only outdated TLS: {}.",
                        p.legacy.join(", ")
                    ),
                )
                .advice(say!(
                    lang,
                    "Zet TLS 1.2 en 1.3 aan en TLS 1.0/1.1 uit (NCSC-richtlijnen).",
                    "Enable TLS 1.2 and 1.3 and disable TLS 1.0/1.1 (NCSC guidelines)."
                )),
            );
        }
        return Some(out);
    }
    None
}

fn version_check(host: &str, p: &SmtpProbe, lang: Lang) -> Check {
    let version = p.version.clone().unwrap_or_default();
    let old: Vec<&String> = p
        .legacy
        .iter()
        .filter(|l| l.starts_with("TLS 1.0") || l.starts_with("TLS 1.1"))
        .collect();
    if old.is_empty() {
        Check::new(
            format!("starttls-{host}-tls-version"),
            Status::Pass,
            say!(
                lang,
                "{}; TLS 1.0 en 1.1 worden geweigerd.",
                "{}; TLS 1.0 and 1.1 are refused.",
                version
            ),
        )
    } else {
        Check::new(
            format!("starttls-{host}-tls-version"),
            Status::Fail,
            say!(
                lang,
                "{} is mogelijk, maar {} ook (NCSC: onvoldoende).",
                "{} works, but so does {} (NCSC: insufficient).",
                version,
                old.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .advice(say!(
            lang,
            "Zet TLS 1.0 en 1.1 uit.",
            "Disable TLS 1.0 and 1.1."
        ))
    }
}

fn certificate_check(host: &str, p: &SmtpProbe, dane: bool, lang: Lang) -> Check {
    match &p.cert_error {
        None => Check::new(
            format!("starttls-{host}-certificate"),
            Status::Pass,
            say!(
                lang,
                "Certificaat geldig voor {} en uitgegeven door een vertrouwde partij.",
                "Certificate valid for {} and issued by a trusted authority.",
                host
            ),
        ),
        Some(e) if dane => Check::new(
            format!("starttls-{host}-certificate"),
            Status::Warn,
            say!(
                lang,
                "Certificaat: {} — DANE authenticeert de server wel.",
                "Certificate: {} — DANE does authenticate the server.",
                e
            ),
        ),
        Some(e) => Check::new(
            format!("starttls-{host}-certificate"),
            Status::Fail,
            say!(lang, "Certificaat: {}.", "Certificate: {}.", e),
        )
        .advice(say!(
            lang,
            "Installeer een geldig certificaat voor {} met de volledige keten.",
            "Install a valid certificate for {} with its full chain.",
            host
        )),
    }
}

fn cipher_check(host: &str, p: &SmtpProbe, lang: Lang) -> Check {
    let suites_of = |label: &str| -> Vec<&str> {
        p.legacy
            .iter()
            .filter(|l| l.starts_with(label))
            .map(|s| s.as_str())
            .collect()
    };
    let insufficient = suites_of(crate::tls::INSUFFICIENT_LABEL);
    let phase_out = suites_of(crate::tls::PHASE_OUT_LABEL);
    let suite = format!(
        "{} / {}",
        p.suite.clone().unwrap_or_default(),
        p.kx_group.clone().unwrap_or_default()
    );
    let advice = say!(
        lang,
        "Sta alleen ECDHE met AES-GCM of ChaCha20-Poly1305 toe (NCSC 'goed'); AES-CBC met ECDHE is nog 'voldoende'.",
        "Allow only ECDHE with AES-GCM or ChaCha20-Poly1305 (NCSC 'good'); AES-CBC with ECDHE is still 'sufficient'."
    );
    if !insufficient.is_empty() {
        Check::new(
            format!("starttls-{host}-cipher"),
            Status::Fail,
            say!(
                lang,
                "{}; maar de server accepteert ook onvoldoende veilige suites (RC4, NULL, export): {}.",
                "{}; but the server also accepts insufficient suites (RC4, NULL, export): {}.",
                suite,
                insufficient.join(", ")
            ),
        )
        .advice(advice)
    } else if !phase_out.is_empty() {
        Check::new(
            format!("starttls-{host}-cipher"),
            Status::Warn,
            say!(
                lang,
                "{}; maar de server accepteert ook suites die uitgefaseerd moeten worden (RSA-sleuteluitwisseling, 3DES): {}.",
                "{}; but the server also accepts phase-out suites (RSA key exchange, 3DES): {}.",
                suite,
                phase_out.join(", ")
            ),
        )
        .advice(advice)
    } else {
        Check::new(
            format!("starttls-{host}-cipher"),
            Status::Pass,
            say!(
                lang,
                "{}; geen zwakke suites (RSA-sleuteluitwisseling, 3DES, RC4) geaccepteerd.",
                "{}; no weak suites (RSA key exchange, 3DES, RC4) accepted.",
                suite
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> SmtpProbe {
        SmtpProbe {
            starttls: true,
            version: Some("TLS 1.3".into()),
            suite: Some("TLS13_AES_256_GCM_SHA384".into()),
            kx_group: Some("X25519".into()),
            ..SmtpProbe::default()
        }
    }

    use crate::graded::status_of;

    #[test]
    fn starttls_grading_table() {
        use Status::{Fail, Pass, Warn};
        let host = "mx.zorg.test";
        let with = |f: fn(&mut SmtpProbe)| {
            let mut p = good();
            f(&mut p);
            p
        };
        let cases: Vec<(SmtpProbe, bool, &str, Option<Status>)> = vec![
            (good(), false, "starttls-mx.zorg.test", Some(Pass)),
            (
                good(),
                false,
                "starttls-mx.zorg.test-tls-version",
                Some(Pass),
            ),
            (
                good(),
                false,
                "starttls-mx.zorg.test-certificate",
                Some(Pass),
            ),
            (good(), false, "starttls-mx.zorg.test-cipher", Some(Pass)),
            (
                with(|p| p.error = Some("refused".into())),
                false,
                "starttls-mx.zorg.test",
                Some(Fail),
            ),
            (
                with(|p| p.error = Some("refused".into())),
                false,
                "starttls-mx.zorg.test-certificate",
                None,
            ),
            (
                with(|p| p.starttls = false),
                false,
                "starttls-mx.zorg.test",
                Some(Fail),
            ),
            (
                with(|p| p.tls_error = Some("no common version".into())),
                false,
                "starttls-mx.zorg.test",
                Some(Fail),
            ),
            (
                with(|p| p.tls_error = Some("no common version".into())),
                false,
                "starttls-mx.zorg.test-tls-version",
                None,
            ),
            (
                with(|p| {
                    p.tls_error = Some("no common version".into());
                    p.legacy = vec!["TLS 1.0".into()];
                }),
                false,
                "starttls-mx.zorg.test-tls-version",
                Some(Fail),
            ),
            (
                with(|p| p.legacy = vec!["TLS 1.1".into()]),
                false,
                "starttls-mx.zorg.test-tls-version",
                Some(Fail),
            ),
            (
                with(|p| p.cert_error = Some("expired".into())),
                false,
                "starttls-mx.zorg.test-certificate",
                Some(Fail),
            ),
            (
                with(|p| p.cert_error = Some("self-signed".into())),
                true,
                "starttls-mx.zorg.test-certificate",
                Some(Warn),
            ),
            (
                with(|p| {
                    p.legacy = vec![format!(
                        "{}: TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                        crate::tls::PHASE_OUT_LABEL
                    )]
                }),
                false,
                "starttls-mx.zorg.test-cipher",
                Some(Warn),
            ),
            (
                with(|p| {
                    p.legacy = vec![format!(
                        "{}: TLS_RSA_WITH_RC4_128_SHA",
                        crate::tls::INSUFFICIENT_LABEL
                    )]
                }),
                false,
                "starttls-mx.zorg.test-cipher",
                Some(Fail),
            ),
        ];
        for (probe, dane, id, want) in cases {
            let checks = tls_checks(host, &probe, dane, Lang::En);
            assert_eq!(status_of(&checks, id), want, "{id}: {checks:?}");
            for c in checks
                .iter()
                .filter(|c| c.status == Fail && c.id != "starttls-mx.zorg.test")
            {
                assert!(c.advice.is_some(), "{c:?}");
            }
        }
    }
}
