//! DMARC: present, valid, enforcing, with reports.

use veilpost_senderauth::DmarcPolicy;
use veilpost_senderauth::dmarc::{self, Alignment, Record};
use veilpost_senderauth::spf::Answer;

use crate::dns::Dns;
use crate::text::{Lang, dns_error, say};
use crate::{Check, Status};

/// Where the advice sends aggregate reports: `configured` (Veilpost's
/// `reports.dmarc_address`), or Veilpost's default, `dmarc-rua@` the domain.
pub(crate) fn report_address(domain: &str, configured: Option<&str>) -> String {
    match configured.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => a.to_ascii_lowercase(),
        None => format!("dmarc-rua@{domain}"),
    }
}

/// The DMARC record to publish, with reports to `rua`; when `rua` is in another
/// organisational domain, also the record by which that domain agrees to take them
/// (RFC 7489 §7.1), after a ` + `.
pub(crate) fn advised_record(domain: &str, policy: &str, rua: &str) -> String {
    let record = format!("_dmarc.{domain}. TXT \"v=DMARC1; p={policy}; rua=mailto:{rua}\"");
    match external_authorisation(domain, rua) {
        Some(auth) => format!("{record} + {auth}"),
        None => record,
    }
}

/// The record the report address's domain publishes to take reports about `domain`,
/// when it is another organisational domain.
pub(crate) fn external_authorisation(domain: &str, rua: &str) -> Option<String> {
    let rua_domain = rua
        .rsplit_once('@')?
        .1
        .trim_end_matches('.')
        .to_ascii_lowercase();
    (dmarc::organizational_domain(&rua_domain) != dmarc::organizational_domain(domain))
        .then(|| format!("{domain}._report._dmarc.{rua_domain}. TXT \"v=DMARC1\""))
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

/// What the DNS says about a domain's DMARC: gathered once (all look-ups are here), then
/// graded by [`grade`] (pure).
pub(crate) struct Facts {
    found: Found,
    /// No record of its own: the organisational domain's record, which applies instead.
    inherited: Option<(String, Record)>,
    /// The `rua=`/`ruf=` destinations and what their domains publish.
    destinations: Vec<Destination>,
}

/// One report destination domain.
struct Destination {
    domain: String,
    /// Outside the organisation: the authorisation record's name and whether it exists.
    authorisation: Option<(String, bool)>,
    /// It has an MX (not a null MX) or an address, or the look-up failed temporarily.
    accepts_mail: bool,
}

pub(crate) async fn check(dns: &Dns, domain: &str, rua: &str, lang: Lang) -> Vec<Check> {
    grade(domain, &gather(dns, domain).await, rua, lang)
}

/// Look up the record, the organisational domain's when there is none, and the report
/// destinations (RFC 7489 §7.1).
async fn gather(dns: &Dns, domain: &str) -> Facts {
    let found = lookup(dns, domain).await;
    let mut inherited = None;
    let mut destinations = Vec::new();
    match &found {
        Found::Absent => {
            let org = dmarc::organizational_domain(domain);
            if org != domain
                && let Found::One(r, _) = lookup(dns, &org).await
            {
                inherited = Some((org, r));
            }
        }
        Found::One(record, _) => {
            let org = dmarc::organizational_domain(domain);
            for dest in report_domains(record) {
                let authorisation = if dmarc::organizational_domain(&dest) != org {
                    let name = format!("{domain}._report._dmarc.{dest}");
                    let authorised = match dns.txt(&name).await {
                        Answer::Records(t) => t
                            .iter()
                            .any(|r| r.trim_start().to_ascii_lowercase().starts_with("v=dmarc1")),
                        _ => false,
                    };
                    Some((name, authorised))
                } else {
                    None
                };
                let accepts_mail = match dns.mx(&dest).await {
                    Answer::Records(mx) => !(mx.len() == 1 && mx[0].1.is_empty()),
                    Answer::Empty => matches!(dns.addresses(&dest).await, Answer::Records(_)),
                    Answer::TempError(_) => true,
                };
                destinations.push(Destination {
                    domain: dest,
                    authorisation,
                    accepts_mail,
                });
            }
        }
        Found::Several(_) | Found::TempError(_) => {}
    }
    Facts {
        found,
        inherited,
        destinations,
    }
}

fn advise(domain: &str, policy: &str, rua: &str, lang: Lang) -> String {
    say!(
        lang,
        "Publiceer {} — begin met quarantine, lees de rapporten en ga daarna naar p=reject.",
        "Publish {} — start with quarantine, read the reports, then move to p=reject.",
        advised_record(domain, policy, rua)
    )
}

/// The verdicts on what [`gather`] found.
fn grade(domain: &str, facts: &Facts, rua: &str, lang: Lang) -> Vec<Check> {
    let (found, problems) = match &facts.found {
        Found::TempError(e) => {
            return vec![Check::new(
                "dmarc-record",
                Status::Warn,
                dns_error(lang, &format!("_dmarc.{domain}"), e),
            )];
        }
        Found::One(r, problems) => (r, problems),
        Found::Several(n) => {
            return vec![
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
                    advised_record(domain, "quarantine", rua)
                )),
            ];
        }
        Found::Absent => return vec![absent(domain, facts.inherited.as_ref(), rua, lang)],
    };
    // pct= is gone in RFC 9989; a malformed pct is reported with pct, not as a broken record.
    let (bad_pct, problems): (Vec<&String>, Vec<&String>) =
        problems.iter().partition(|p| p.starts_with("pct="));
    let mut out = vec![
        record_check(domain, found, &problems, rua, lang),
        policy_check(domain, found, rua, lang),
        rua_check(domain, found, rua, lang),
        subdomain_check(found, lang),
        pct_check(found, bad_pct.first().copied(), lang),
    ];
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
    if let Some(c) = destinations_check(domain, &facts.destinations, lang) {
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

fn absent(domain: &str, inherited: Option<&(String, Record)>, rua: &str, lang: Lang) -> Check {
    if let Some((org, r)) = inherited {
        let p = r.sp.or(r.p).unwrap_or(DmarcPolicy::None);
        return Check::new(
            "dmarc-record",
            Status::Info,
            say!(
                lang,
                "Geen eigen DMARC-record; het record van {} geldt (beleid voor subdomeinen: {}).",
                "No DMARC record of its own; the record of {} applies (subdomain policy: {}).",
                org,
                p.as_str()
            ),
        );
    }
    Check::new(
        "dmarc-record",
        Status::Fail,
        say!(
            lang,
            "{} publiceert geen DMARC-record: vervalste afzenders worden niet geweigerd.",
            "{} publishes no DMARC record: forged senders are not refused.",
            domain
        ),
    )
    .advice(advise(domain, "quarantine", rua, lang))
}

fn record_check(
    domain: &str,
    found: &Record,
    problems: &[&String],
    rua: &str,
    lang: Lang,
) -> Check {
    if problems.is_empty() {
        return Check::new(
            "dmarc-record",
            Status::Pass,
            say!(
                lang,
                "DMARC-record gevonden op _dmarc.{}.",
                "DMARC record found at _dmarc.{}.",
                domain
            ),
        );
    }
    let problems: Vec<&str> = problems.iter().map(|p| p.as_str()).collect();
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
    .advice(advise(
        domain,
        match found.p {
            Some(DmarcPolicy::Reject) => "reject",
            _ => "quarantine",
        },
        rua,
        lang,
    ))
}

fn policy_check(domain: &str, found: &Record, rua: &str, lang: Lang) -> Check {
    match found.p {
        Some(DmarcPolicy::Reject) => Check::new(
            "dmarc-policy",
            Status::Pass,
            say!(
                lang,
                "p=reject: vervalste mail wordt geweigerd.",
                "p=reject: forged mail is rejected."
            ),
        ),
        Some(DmarcPolicy::Quarantine) => Check::new(
            "dmarc-policy",
            Status::Pass,
            say!(
                lang,
                "p=quarantine: vervalste mail gaat naar quarantaine; p=reject is de volgende stap.",
                "p=quarantine: forged mail is quarantined; p=reject is the next step."
            ),
        ),
        Some(DmarcPolicy::None) => Check::new(
            "dmarc-policy",
            Status::Warn,
            say!(
                lang,
                "p=none: alleen rapporteren, vervalste mail wordt nog afgeleverd.",
                "p=none: report only, forged mail is still delivered."
            ),
        )
        .advice(advise(domain, "quarantine", rua, lang)),
        None => Check::new(
            "dmarc-policy",
            Status::Fail,
            say!(
                lang,
                "Het record heeft geen p=: ontvangers passen geen DMARC toe (tenzij er een rua= is).",
                "The record has no p=: receivers apply no DMARC (unless there is a rua=)."
            ),
        )
        .advice(advise(domain, "quarantine", rua, lang)),
    }
}

fn rua_check(domain: &str, found: &Record, rua: &str, lang: Lang) -> Check {
    if found.has_valid_rua() {
        return Check::new(
            "dmarc-rua",
            Status::Pass,
            say!(
                lang,
                "Rapporten gaan naar {}.",
                "Reports go to {}.",
                found.rua.join(", ")
            ),
        );
    }
    Check::new(
        "dmarc-rua",
        Status::Warn,
        say!(
            lang,
            "Geen rua=: u ontvangt geen rapporten over wie namens u mailt.",
            "No rua=: you receive no reports on who sends in your name."
        ),
    )
    .advice(match external_authorisation(domain, rua) {
        None => say!(
            lang,
            "Voeg rua=mailto:{} toe: daar leest Veilpost de rapporten.",
            "Add rua=mailto:{}: Veilpost reads the reports there.",
            rua
        ),
        Some(auth) => say!(
            lang,
            "Voeg rua=mailto:{} toe: daar leest Veilpost de rapporten; publiceer ook {}.",
            "Add rua=mailto:{}: Veilpost reads the reports there; also publish {}.",
            rua,
            auth
        ),
    })
}

fn subdomain_check(found: &Record, lang: Lang) -> Check {
    let p = found.p.unwrap_or(DmarcPolicy::None);
    match found.sp {
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
    }
}

fn pct_check(found: &Record, bad_pct: Option<&String>, lang: Lang) -> Check {
    if let Some(bad) = bad_pct {
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
    }
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

/// The distinct domains of the `rua=`/`ruf=` mail destinations, sorted.
fn report_domains(record: &Record) -> Vec<String> {
    let mut dests: Vec<String> = record
        .rua
        .iter()
        .chain(&record.ruf)
        .filter_map(|u| mailto_domain(u))
        .collect();
    dests.sort();
    dests.dedup();
    dests
}

/// Can the report destinations receive reports? A domain outside the policy domain's
/// organisation must authorise them at `DOMAIN._report._dmarc.DEST` (RFC 7489 §7.1), and
/// the destination domain must accept mail (MX, or an address).
fn destinations_check(domain: &str, dests: &[Destination], lang: Lang) -> Option<Check> {
    if dests.is_empty() {
        return None;
    }
    let org = dmarc::organizational_domain(domain);
    let mut problems = Vec::new();
    let mut advice = Vec::new();
    for dest in dests {
        if let Some((name, false)) = &dest.authorisation {
            problems.push(say!(
                lang,
                "{} heeft niet gepubliceerd dat het rapporten over {} aanneemt ({} ontbreekt), dus ontvangers sturen ze niet",
                "{} has not published that it accepts reports about {} ({} is missing), so receivers do not send them",
                dest.domain,
                domain,
                name
            ));
            advice.push(format!("{name}. TXT \"v=DMARC1\""));
        }
        if !dest.accepts_mail {
            problems.push(say!(
                lang,
                "{} neemt geen mail aan (geen MX of adres), dus rapporten komen niet aan",
                "{} accepts no mail (no MX or address), so reports cannot arrive",
                dest.domain
            ));
        }
    }
    if problems.is_empty() {
        let names: Vec<&str> = dests.iter().map(|d| d.domain.as_str()).collect();
        return Some(Check::new(
            "dmarc-rua-destination",
            Status::Pass,
            say!(
                lang,
                "Rapportadressen kunnen mail ontvangen: {}.",
                "Report addresses can receive mail: {}.",
                names.join(", ")
            ),
        ));
    }
    let advice = if advice.is_empty() {
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
    };
    Some(
        Check::new(
            "dmarc-rua-destination",
            Status::Warn,
            format!("{}.", problems.join("; ")),
        )
        .advice(advice),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(record: &str) -> Found {
        let (r, problems) = Record::parse_lenient(record).expect("a DMARC record");
        Found::One(r, problems)
    }

    fn facts(found: Found) -> Facts {
        Facts {
            found,
            inherited: None,
            destinations: Vec::new(),
        }
    }

    /// The status of each check id graded for `facts`, in order.
    fn verdicts(facts: &Facts) -> Vec<(String, Status)> {
        crate::graded::verdicts(&grade("zorg.test", facts, "dmarc-rua@zorg.test", Lang::En))
    }

    fn status_of(facts: &Facts, id: &str) -> Option<Status> {
        crate::graded::status_of(
            &grade("zorg.test", facts, "dmarc-rua@zorg.test", Lang::En),
            id,
        )
    }

    #[test]
    fn advice_points_reports_at_veilpost_and_authorises_another_domain_table() {
        // (report address configured, the record advised, the authorisation advised)
        let cases: &[(Option<&str>, &str, Option<&str>)] = &[
            (None, "rua=mailto:dmarc-rua@zorg.test\"", None),
            (
                Some(" DMARC@Zorg.test "),
                "rua=mailto:dmarc@zorg.test\"",
                None,
            ),
            // A subdomain of the same organisation needs no authorisation.
            (
                Some("rua@mail.zorg.test"),
                "rua=mailto:rua@mail.zorg.test\"",
                None,
            ),
            (
                Some("dmarc-rua@regio-ict.test"),
                "rua=mailto:dmarc-rua@regio-ict.test\"",
                Some("zorg.test._report._dmarc.regio-ict.test. TXT \"v=DMARC1\""),
            ),
        ];
        for (configured, record, auth) in cases {
            let rua = report_address("zorg.test", *configured);
            let advised = advised_record("zorg.test", "quarantine", &rua);
            assert!(advised.contains(record), "{advised}");
            assert_eq!(external_authorisation("zorg.test", &rua).as_deref(), *auth);
            assert_eq!(advised.contains(" + "), auth.is_some(), "{advised}");
            // Without rua=, the advice names the address and, when needed, the authorisation.
            let checks = grade(
                "zorg.test",
                &facts(one("v=DMARC1; p=reject")),
                &rua,
                Lang::En,
            );
            let advice = checks
                .iter()
                .find(|c| c.id == "dmarc-rua")
                .and_then(|c| c.advice.clone())
                .unwrap_or_default();
            assert!(advice.contains(&format!("rua=mailto:{rua}")), "{advice}");
            assert_eq!(
                advice.contains("_report._dmarc"),
                auth.is_some(),
                "{advice}"
            );
        }
    }

    #[test]
    fn grading_table() {
        use Status::{Fail, Info, Pass, Warn};
        let rua = "rua=mailto:dmarc@zorg.test";
        for (record, id, want) in [
            (format!("v=DMARC1; p=reject; {rua}"), "dmarc-policy", Pass),
            (
                format!("v=DMARC1; p=quarantine; {rua}"),
                "dmarc-policy",
                Pass,
            ),
            (format!("v=DMARC1; p=none; {rua}"), "dmarc-policy", Warn),
            (format!("v=DMARC1; {rua}"), "dmarc-policy", Fail),
            ("v=DMARC1; p=reject".to_string(), "dmarc-rua", Warn),
            (format!("v=DMARC1; p=reject; {rua}"), "dmarc-rua", Pass),
            (
                format!("v=DMARC1; p=reject; sp=none; {rua}"),
                "dmarc-subdomain-policy",
                Warn,
            ),
            (
                format!("v=DMARC1; p=none; sp=reject; {rua}"),
                "dmarc-subdomain-policy",
                Info,
            ),
            (
                format!("v=DMARC1; p=reject; {rua}"),
                "dmarc-subdomain-policy",
                Info,
            ),
            (format!("v=DMARC1; p=reject; {rua}"), "dmarc-pct", Pass),
            (
                format!("v=DMARC1; p=reject; pct=100; {rua}"),
                "dmarc-pct",
                Info,
            ),
            (
                format!("v=DMARC1; p=reject; pct=20; {rua}"),
                "dmarc-pct",
                Warn,
            ),
            (
                format!("v=DMARC1; p=reject; pct=abc; {rua}"),
                "dmarc-pct",
                Warn,
            ),
            (
                format!("v=DMARC1; p=reject; pct=abc; {rua}"),
                "dmarc-record",
                Pass,
            ),
            (
                format!("v=DMARC1; p=reject; t=y; {rua}"),
                "dmarc-testing",
                Warn,
            ),
            (
                format!("v=DMARC1; p=reject; {rua}"),
                "dmarc-alignment",
                Info,
            ),
            (format!("v=DMARC1; p=reject; {rua}"), "dmarc-record", Pass),
        ] {
            assert_eq!(
                status_of(&facts(one(&record)), id),
                Some(want),
                "{record} → {id}"
            );
        }
        // No t=y, no testing check; no destinations looked up, no destination check.
        let plain = facts(one(&format!("v=DMARC1; p=reject; {rua}")));
        assert_eq!(status_of(&plain, "dmarc-testing"), None);
        assert_eq!(status_of(&plain, "dmarc-rua-destination"), None);
    }

    #[test]
    fn missing_several_and_unanswered() {
        use Status::{Fail, Info, Warn};
        for (facts, want) in [
            (facts(Found::Absent), Fail),
            (facts(Found::Several(2)), Fail),
            (facts(Found::TempError("timeout".into())), Warn),
            (
                Facts {
                    inherited: Some((
                        "zorg.test".into(),
                        Record::parse_lenient("v=DMARC1; p=reject")
                            .expect("record")
                            .0,
                    )),
                    ..facts(Found::Absent)
                },
                Info,
            ),
        ] {
            assert_eq!(verdicts(&facts), vec![("dmarc-record".to_string(), want)]);
        }
        let absent = grade(
            "zorg.test",
            &facts(Found::Absent),
            "dmarc-rua@zorg.test",
            Lang::En,
        );
        assert!(
            absent[0]
                .advice
                .as_deref()
                .is_some_and(|a| a.contains("_dmarc.zorg.test. TXT")),
            "{:?}",
            absent[0]
        );
    }

    #[test]
    fn report_destinations_table() {
        let dest = |authorisation: Option<(&str, bool)>, accepts_mail| Destination {
            domain: "reports.example".into(),
            authorisation: authorisation.map(|(n, a)| (n.to_string(), a)),
            accepts_mail,
        };
        let name = "zorg.test._report._dmarc.reports.example";
        for (d, want, advice) in [
            (dest(None, true), Status::Pass, None),
            (dest(Some((name, true)), true), Status::Pass, None),
            (dest(Some((name, false)), true), Status::Warn, Some(name)),
            (dest(None, false), Status::Warn, Some("dmarc@zorg.test")),
        ] {
            let c = destinations_check("zorg.test", &[d], Lang::En).expect("a check");
            assert_eq!(c.status, want, "{c:?}");
            if let Some(a) = advice {
                assert!(c.advice.as_deref().is_some_and(|x| x.contains(a)), "{c:?}");
            }
        }
        assert!(destinations_check("zorg.test", &[], Lang::En).is_none());
    }

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
