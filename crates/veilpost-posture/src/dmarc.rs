//! DMARC: present, valid, enforcing, with reports.

use veilpost_senderauth::DmarcPolicy;
use veilpost_senderauth::dmarc::{self, Alignment, Record};
use veilpost_senderauth::spf::Answer;

use crate::dns::Dns;
use crate::text::{Lang, dns_error, say};
use crate::{Check, Status};

pub(crate) fn advised_record(domain: &str, policy: &str) -> String {
    format!("_dmarc.{domain}. TXT \"v=DMARC1; p={policy}; rua=mailto:dmarc@{domain}\"")
}

/// What `_dmarc.NAME` holds.
enum Found {
    /// One DMARC record, with the malformed tags receivers ignore.
    One(Record, Vec<String>),
    /// Several DMARC records: receivers apply none (RFC 7489 §6.6.3).
    Several(usize),
    Absent,
    TempError(String),
}

async fn lookup(dns: &Dns, domain: &str) -> Found {
    let txts = match dns.txt(&format!("_dmarc.{domain}")).await {
        Answer::Records(t) => t,
        Answer::Empty => return Found::Absent,
        Answer::TempError(e) => return Found::TempError(e),
    };
    let mut records: Vec<(Record, Vec<String>)> = txts
        .iter()
        .filter_map(|t| Record::parse_lenient(t).ok())
        .collect();
    match records.len() {
        0 => Found::Absent,
        1 => {
            let (r, problems) = records.remove(0);
            Found::One(r, problems)
        }
        n => Found::Several(n),
    }
}

pub(crate) async fn check(dns: &Dns, domain: &str, lang: Lang) -> Vec<Check> {
    let mut out = Vec::new();
    let advise = |p: &str| {
        say!(
            lang,
            "Publiceer {} — begin met quarantine, lees de rapporten en ga daarna naar p=reject.",
            "Publish {} — start with quarantine, read the reports, then move to p=reject.",
            advised_record(domain, p)
        )
    };
    let (found, problems) = match lookup(dns, domain).await {
        Found::TempError(e) => {
            out.push(Check::new(
                "dmarc-record",
                Status::Warn,
                dns_error(lang, &format!("_dmarc.{domain}"), &e),
            ));
            return out;
        }
        Found::One(r, problems) => (r, problems),
        Found::Several(n) => {
            out.push(
                Check::new(
                    "dmarc-record",
                    Status::Fail,
                    say!(
                        lang,
                        "{} DMARC-records op _dmarc.{}: ontvangers passen er dan geen toe.",
                        "{} DMARC records at _dmarc.{}: receivers then apply none.",
                        n,
                        domain
                    ),
                )
                .advice(say!(
                    lang,
                    "Houd er één over, bijvoorbeeld {}.",
                    "Keep just one, for example {}.",
                    advised_record(domain, "quarantine")
                )),
            );
            return out;
        }
        Found::Absent => {
            let org = dmarc::organizational_domain(domain);
            if org != domain
                && let Found::One(r, _) = lookup(dns, &org).await
            {
                let p = r.sp.or(r.p).unwrap_or(DmarcPolicy::None);
                out.push(Check::new("dmarc-record", Status::Info, say!(lang, "Geen eigen DMARC-record; het record van {} geldt (beleid voor subdomeinen: {}).", "No DMARC record of its own; the record of {} applies (subdomain policy: {}).", org, p.as_str())));
                return out;
            }
            out.push(Check::new("dmarc-record", Status::Fail, say!(lang, "{} publiceert geen DMARC-record: vervalste afzenders worden niet geweigerd.", "{} publishes no DMARC record: forged senders are not refused.", domain)).advice(advise("quarantine")));
            return out;
        }
    };
    // pct= is gone in RFC 9989; a malformed pct is reported with pct, not as a broken record.
    let (bad_pct, problems): (Vec<String>, Vec<String>) =
        problems.into_iter().partition(|p| p.starts_with("pct="));
    if !problems.is_empty() {
        out.push(
            Check::new(
                "dmarc-record",
                Status::Fail,
                say!(
                    lang,
                    "Het DMARC-record bevat fouten: {}. Ontvangers negeren die onderdelen (RFC 7489 §6.3) of het hele record.",
                    "The DMARC record has errors: {}. Receivers ignore those parts (RFC 7489 §6.3) or the whole record.",
                    problems.join("; ")
                ),
            )
            .advice(advise(match found.p {
                Some(DmarcPolicy::Reject) => "reject",
                _ => "quarantine",
            })),
        );
    } else {
        out.push(Check::new(
            "dmarc-record",
            Status::Pass,
            say!(
                lang,
                "DMARC-record gevonden op _dmarc.{}.",
                "DMARC record found at _dmarc.{}.",
                domain
            ),
        ));
    }
    out.push(match found.p {
        Some(DmarcPolicy::Reject) => Check::new("dmarc-policy", Status::Pass, say!(lang, "p=reject: vervalste mail wordt geweigerd.", "p=reject: forged mail is rejected.")),
        Some(DmarcPolicy::Quarantine) => Check::new("dmarc-policy", Status::Pass, say!(lang, "p=quarantine: vervalste mail gaat naar quarantaine; p=reject is de volgende stap.", "p=quarantine: forged mail is quarantined; p=reject is the next step.")),
        Some(DmarcPolicy::None) => Check::new("dmarc-policy", Status::Warn, say!(lang, "p=none: alleen rapporteren, vervalste mail wordt nog afgeleverd.", "p=none: report only, forged mail is still delivered.")).advice(advise("quarantine")),
        None => Check::new("dmarc-policy", Status::Fail, say!(lang, "Het record heeft geen p=: ontvangers passen geen DMARC toe (tenzij er een rua= is).", "The record has no p=: receivers apply no DMARC (unless there is a rua=).")).advice(advise("quarantine")),
    });
    out.push(if found.has_valid_rua() {
        Check::new(
            "dmarc-rua",
            Status::Pass,
            say!(
                lang,
                "Rapporten gaan naar {}.",
                "Reports go to {}.",
                found.rua.join(", ")
            ),
        )
    } else {
        Check::new(
            "dmarc-rua",
            Status::Warn,
            say!(
                lang,
                "Geen rua=: u ontvangt geen rapporten over wie namens u mailt.",
                "No rua=: you receive no reports on who sends in your name."
            ),
        )
        .advice(say!(
            lang,
            "Voeg rua=mailto:dmarc@{} toe (Veilpost kan deze rapporten verwerken).",
            "Add rua=mailto:dmarc@{} (Veilpost can process these reports).",
            domain
        ))
    });
    let p = found.p.unwrap_or(DmarcPolicy::None);
    out.push(match found.sp {
        Some(sp) if sp < p => Check::new(
            "dmarc-subdomain-policy",
            Status::Warn,
            say!(
                lang,
                "sp={} is zwakker dan p={}: subdomeinen zijn makkelijker te vervalsen.",
                "sp={} is weaker than p={}: subdomains are easier to forge.",
                sp.as_str(),
                p.as_str()
            ),
        )
        .advice(say!(
            lang,
            "Laat sp= weg of maak het gelijk aan p=.",
            "Drop sp= or make it equal to p=."
        )),
        Some(sp) => Check::new(
            "dmarc-subdomain-policy",
            Status::Info,
            format!("sp={}", sp.as_str()),
        ),
        None => Check::new(
            "dmarc-subdomain-policy",
            Status::Info,
            say!(
                lang,
                "Subdomeinen volgen p={}.",
                "Subdomains follow p={}.",
                p.as_str()
            ),
        ),
    });
    out.push(if let Some(bad) = bad_pct.first() {
        Check::new(
            "dmarc-pct",
            Status::Warn,
            say!(
                lang,
                "{} is ongeldig; pct= bestaat sinds RFC 9989 niet meer.",
                "{} is invalid; pct= no longer exists since RFC 9989.",
                bad
            ),
        )
        .advice(say!(lang, "Verwijder pct=.", "Remove pct=."))
    } else if !found.pct_given {
        Check::new(
            "dmarc-pct",
            Status::Pass,
            say!(
                lang,
                "Het beleid geldt voor alle mail (geen pct=).",
                "The policy applies to all mail (no pct=)."
            ),
        )
    } else if found.pct == 100 {
        Check::new(
            "dmarc-pct",
            Status::Info,
            say!(
                lang,
                "pct=100: het beleid geldt voor alle mail; pct= is sinds RFC 9989 overbodig.",
                "pct=100: the policy applies to all mail; pct= is obsolete since RFC 9989."
            ),
        )
    } else {
        Check::new(
            "dmarc-pct",
            Status::Warn,
            say!(
                lang,
                "pct={}: ontvangers volgens RFC 7489 passen het beleid toe op maar {}% van de mail; RFC 9989 heeft pct= geschrapt.",
                "pct={}: receivers following RFC 7489 apply the policy to only {}% of mail; RFC 9989 dropped pct=.",
                found.pct,
                found.pct
            ),
        )
        .advice(say!(
            lang,
            "Verwijder pct= (gebruik t=y om een strenger beleid eerst te testen).",
            "Remove pct= (use t=y to trial a stricter policy first)."
        ))
    });
    if found.testing {
        out.push(
            Check::new(
                "dmarc-testing",
                Status::Warn,
                say!(
                    lang,
                    "t=y: testmodus (RFC 9989); ontvangers passen een niveau minder streng beleid toe.",
                    "t=y: testing mode (RFC 9989); receivers apply a policy one level less strict."
                ),
            )
            .advice(say!(
                lang,
                "Verwijder t=y zodra de rapporten geen legitieme mail meer laten falen.",
                "Remove t=y once the reports show no legitimate mail failing."
            )),
        );
    }
    if let Some(c) = report_destinations(dns, domain, &found, lang).await {
        out.push(c);
    }
    let mode = |a: Alignment| match a {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    };
    out.push(Check::new(
        "dmarc-alignment",
        Status::Info,
        format!("adkim={}, aspf={}", mode(found.adkim), mode(found.aspf)),
    ));
    out
}

/// The domain of a `mailto:` report address.
fn mailto_domain(uri: &str) -> Option<String> {
    let rest = uri
        .get(..7)?
        .eq_ignore_ascii_case("mailto:")
        .then(|| &uri[7..])?;
    let addr = rest.split('!').next()?;
    let domain = addr.rsplit_once('@')?.1.trim().trim_end_matches('.');
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// Can the `rua=`/`ruf=` mail destinations receive reports? A domain outside the policy
/// domain's organisation must authorise them at `DOMAIN._report._dmarc.DEST`
/// (RFC 7489 §7.1), and the destination domain must accept mail (MX, or an address).
async fn report_destinations(
    dns: &Dns,
    domain: &str,
    record: &Record,
    lang: Lang,
) -> Option<Check> {
    let mut dests: Vec<String> = record
        .rua
        .iter()
        .chain(&record.ruf)
        .filter_map(|u| mailto_domain(u))
        .collect();
    dests.sort();
    dests.dedup();
    if dests.is_empty() {
        return None;
    }
    let org = dmarc::organizational_domain(domain);
    let mut problems = Vec::new();
    let mut advice = Vec::new();
    for dest in &dests {
        if dmarc::organizational_domain(dest) != org {
            let name = format!("{domain}._report._dmarc.{dest}");
            let authorised = match dns.txt(&name).await {
                Answer::Records(t) => t
                    .iter()
                    .any(|r| r.trim_start().to_ascii_lowercase().starts_with("v=dmarc1")),
                _ => false,
            };
            if !authorised {
                problems.push(say!(
                    lang,
                    "{} heeft niet gepubliceerd dat het rapporten over {} aanneemt ({} ontbreekt), dus ontvangers sturen ze niet",
                    "{} has not published that it accepts reports about {} ({} is missing), so receivers do not send them",
                    dest,
                    domain,
                    name
                ));
                advice.push(format!("{name}. TXT \"v=DMARC1\""));
            }
        }
        let accepts_mail = match dns.mx(dest).await {
            Answer::Records(mx) => !(mx.len() == 1 && mx[0].1.is_empty()),
            Answer::Empty => matches!(dns.addresses(dest).await, Answer::Records(_)),
            Answer::TempError(_) => true,
        };
        if !accepts_mail {
            problems.push(say!(
                lang,
                "{} neemt geen mail aan (geen MX of adres), dus rapporten komen niet aan",
                "{} accepts no mail (no MX or address), so reports cannot arrive",
                dest
            ));
        }
    }
    Some(if problems.is_empty() {
        Check::new(
            "dmarc-rua-destination",
            Status::Pass,
            say!(
                lang,
                "Rapportadressen kunnen mail ontvangen: {}.",
                "Report addresses can receive mail: {}.",
                dests.join(", ")
            ),
        )
    } else {
        let mut c = Check::new(
            "dmarc-rua-destination",
            Status::Warn,
            format!("{}.", problems.join("; ")),
        );
        c = c.advice(if advice.is_empty() {
            say!(
                lang,
                "Gebruik een rapportadres op een domein dat mail ontvangt, bijvoorbeeld dmarc@{}.",
                "Use a report address on a domain that receives mail, for example dmarc@{}.",
                org
            )
        } else {
            say!(
                lang,
                "Laat de beheerder van het rapportdomein publiceren: {}.",
                "Have the report domain's administrator publish: {}.",
                advice.join(" ")
            )
        });
        c
    })
}

#[cfg(test)]
mod tests {
    use super::mailto_domain;

    #[test]
    fn report_address_domains() {
        assert_eq!(
            mailto_domain("mailto:dmarc@Zorg.NL"),
            Some("zorg.nl".into())
        );
        assert_eq!(
            mailto_domain("MAILTO:d@reports.example!10m"),
            Some("reports.example".into())
        );
        assert_eq!(mailto_domain("https://r.example/dmarc"), None);
        assert_eq!(mailto_domain("mailto:nobody"), None);
        assert_eq!(mailto_domain("mailto:x@"), None);
        assert_eq!(mailto_domain("mail"), None);
    }
}
