//! DMARC: present, valid, enforcing, with reports.

use veilpost_senderauth::DmarcPolicy;
use veilpost_senderauth::dmarc::{self, Alignment, Lookup};
use veilpost_senderauth::spf::Answer;

use crate::dns::Dns;
use crate::text::{Lang, dns_error, say};
use crate::{Check, Status};

pub(crate) fn advised_record(domain: &str, policy: &str) -> String {
    format!("_dmarc.{domain}. TXT \"v=DMARC1; p={policy}; rua=mailto:dmarc@{domain}\"")
}

async fn lookup(dns: &Dns, domain: &str) -> Result<Lookup, String> {
    match dns.txt(&format!("_dmarc.{domain}")).await {
        Answer::Records(t) => Ok(dmarc::select(&t)),
        Answer::Empty => Ok(Lookup::Absent),
        Answer::TempError(e) => Err(e),
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
    let found = match lookup(dns, domain).await {
        Err(e) => {
            out.push(Check::new(
                "dmarc-record",
                Status::Warn,
                dns_error(lang, &format!("_dmarc.{domain}"), &e),
            ));
            return out;
        }
        Ok(Lookup::Found(r)) => r,
        Ok(Lookup::Broken(why)) => {
            out.push(
                Check::new(
                    "dmarc-record",
                    Status::Fail,
                    say!(
                        lang,
                        "Het DMARC-record is ongeldig: {} (ontvangers geven permerror).",
                        "The DMARC record is invalid: {} (receivers return permerror).",
                        why
                    ),
                )
                .advice(advise("quarantine")),
            );
            return out;
        }
        Ok(Lookup::TempError(e)) => {
            out.push(Check::new(
                "dmarc-record",
                Status::Warn,
                dns_error(lang, &format!("_dmarc.{domain}"), &e),
            ));
            return out;
        }
        Ok(Lookup::Absent) => {
            let org = dmarc::organizational_domain(domain);
            if org != domain
                && let Ok(Lookup::Found(r)) = lookup(dns, &org).await
            {
                let p = r.sp.or(r.p).unwrap_or(DmarcPolicy::None);
                out.push(Check::new("dmarc-record", Status::Info, say!(lang, "Geen eigen DMARC-record; het record van {} geldt (beleid voor subdomeinen: {}).", "No DMARC record of its own; the record of {} applies (subdomain policy: {}).", org, p.as_str())));
                return out;
            }
            out.push(Check::new("dmarc-record", Status::Fail, say!(lang, "{} publiceert geen DMARC-record: vervalste afzenders worden niet geweigerd.", "{} publishes no DMARC record: forged senders are not refused.", domain)).advice(advise("quarantine")));
            return out;
        }
    };
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
    out.push(if found.pct == 100 {
        Check::new(
            "dmarc-pct",
            Status::Pass,
            say!(
                lang,
                "Het beleid geldt voor alle mail (pct=100).",
                "The policy applies to all mail (pct=100)."
            ),
        )
    } else {
        Check::new(
            "dmarc-pct",
            Status::Warn,
            say!(
                lang,
                "pct={}: het beleid geldt voor maar {}% van de mail.",
                "pct={}: the policy applies to only {}% of mail.",
                found.pct,
                found.pct
            ),
        )
        .advice(say!(
            lang,
            "Verhoog pct naar 100 (of laat het weg).",
            "Raise pct to 100 (or drop it)."
        ))
    });
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
