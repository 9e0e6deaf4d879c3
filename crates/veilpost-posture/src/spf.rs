//! SPF: one record, valid syntax, at most 10 DNS-querying terms through nested includes
//! and redirects, at most 2 void look-ups, and a strict ending.

use veilpost_senderauth::spf::record::{self, Mechanism, Qualifier, Record};
use veilpost_senderauth::spf::{Answer, MAX_LOOKUPS, MAX_VOID_LOOKUPS};

use crate::dns::Dns;
use crate::text::{Lang, dns_error, say};
use crate::{Check, Status};

/// The record to advise: the domain's own MX hosts, then `-all`.
pub(crate) fn advised_record(domain: &str) -> String {
    format!("{domain}. TXT \"v=spf1 mx -all\"")
}

#[derive(Default)]
struct Walk {
    lookups: u32,
    voids: u32,
    /// The qualifier of the `all` that ends evaluation (through redirects).
    all: Option<Qualifier>,
    problems: Vec<String>,
    ptr: bool,
}

/// The domain's SPF record text(s).
async fn records(dns: &Dns, domain: &str) -> Answer<Vec<String>> {
    match dns.txt(domain).await {
        Answer::Records(t) => {
            let spf: Vec<String> = t.into_iter().filter(|t| record::is_spf1(t)).collect();
            if spf.is_empty() {
                Answer::Empty
            } else {
                Answer::Records(spf)
            }
        }
        other => other,
    }
}

fn has_macro(spec: &str) -> bool {
    spec.contains('%')
}

/// Count look-ups the way an evaluator would, without a client address: every
/// DNS-querying term, recursing into includes and redirects.
fn walk<'a>(
    dns: &'a Dns,
    domain: String,
    rec: Record,
    depth: u8,
    w: &'a mut Walk,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        if depth > 10 {
            w.problems.push(format!(
                "includes/redirects nested more than 10 deep at {domain} (a loop?)"
            ));
            return;
        }
        for d in &rec.directives {
            if d.mechanism.queries_dns() {
                w.lookups += 1;
            }
            match &d.mechanism {
                Mechanism::All => {
                    w.all = Some(d.qualifier);
                    return;
                }
                Mechanism::Include(spec) if !has_macro(spec) => {
                    let target = spec.trim_end_matches('.').to_ascii_lowercase();
                    match records(dns, &target).await {
                        Answer::Records(r) if r.len() == 1 => match record::parse(&r[0]) {
                            Ok(inner) => {
                                let saved = w.all;
                                walk(dns, target, inner, depth + 1, w).await;
                                // An include's own `all` does not end the outer record.
                                w.all = saved;
                            }
                            Err(e) => w.problems.push(format!("include:{target}: {e}")),
                        },
                        Answer::Records(_) => {
                            w.problems
                                .push(format!("include:{target} has more than one SPF record"));
                        }
                        Answer::Empty => {
                            w.voids += 1;
                            w.problems
                                .push(format!("include:{target} has no SPF record"));
                        }
                        Answer::TempError(e) => w.problems.push(format!("include:{target}: {e}")),
                    }
                }
                Mechanism::A { domain: spec, .. } => {
                    let target = spec.clone().unwrap_or_else(|| domain.clone());
                    if !has_macro(&target) && matches!(dns.addresses(&target).await, Answer::Empty)
                    {
                        w.voids += 1;
                    }
                }
                Mechanism::Mx { domain: spec, .. } => {
                    let target = spec.clone().unwrap_or_else(|| domain.clone());
                    if !has_macro(&target) && matches!(dns.mx(&target).await, Answer::Empty) {
                        w.voids += 1;
                    }
                }
                Mechanism::Ptr(_) => w.ptr = true,
                _ => {}
            }
        }
        if let Some(spec) = &rec.redirect {
            w.lookups += 1;
            if has_macro(spec) {
                return;
            }
            let target = spec.trim_end_matches('.').to_ascii_lowercase();
            match records(dns, &target).await {
                Answer::Records(r) if r.len() == 1 => match record::parse(&r[0]) {
                    Ok(inner) => walk(dns, target, inner, depth + 1, w).await,
                    Err(e) => w.problems.push(format!("redirect={target}: {e}")),
                },
                Answer::Empty => {
                    w.voids += 1;
                    w.problems
                        .push(format!("redirect={target} has no SPF record"));
                }
                Answer::Records(_) => w
                    .problems
                    .push(format!("redirect={target} has more than one SPF record")),
                Answer::TempError(e) => w.problems.push(format!("redirect={target}: {e}")),
            }
        }
    })
}

/// What the DNS says about a domain's SPF: its record(s) and, for one valid record, the
/// walk through its includes and redirects. Gathered once, graded by [`grade`] (pure).
pub(crate) struct Facts {
    found: Answer<Vec<String>>,
    walk: Option<Walk>,
}

pub(crate) async fn check(dns: &Dns, domain: &str, lang: Lang) -> Vec<Check> {
    grade(domain, &gather(dns, domain).await, lang)
}

async fn gather(dns: &Dns, domain: &str) -> Facts {
    let found = records(dns, domain).await;
    let mut facts = Facts { found, walk: None };
    if let Answer::Records(texts) = &facts.found
        && let [text] = texts.as_slice()
        && let Ok(rec) = record::parse(text)
    {
        let mut w = Walk::default();
        walk(dns, domain.to_string(), rec, 0, &mut w).await;
        facts.walk = Some(w);
    }
    facts
}

/// The verdicts on what [`gather`] found.
fn grade(domain: &str, facts: &Facts, lang: Lang) -> Vec<Check> {
    let mut out = Vec::new();
    let texts = match &facts.found {
        Answer::TempError(e) => {
            out.push(Check::new(
                "spf-record",
                Status::Warn,
                dns_error(lang, domain, e),
            ));
            return out;
        }
        Answer::Empty => {
            out.push(
                Check::new(
                    "spf-record",
                    Status::Fail,
                    say!(lang, "{} publiceert geen SPF-record: iedereen kan namens dit domein mailen.", "{} publishes no SPF record: anyone can send mail in its name.", domain),
                )
                .advice(say!(
                    lang,
                    "Publiceer {} — voeg de diensten toe die namens u mailen (bijvoorbeeld include:spf.protection.outlook.com).",
                    "Publish {} — add the services that send on your behalf (for example include:spf.protection.outlook.com).",
                    advised_record(domain)
                )),
            );
            return out;
        }
        Answer::Records(t) => t,
    };
    if texts.len() > 1 {
        out.push(
            Check::new(
                "spf-record",
                Status::Fail,
                say!(
                    lang,
                    "{} SPF-records gevonden; er mag er precies één zijn (anders: permerror).",
                    "{} SPF records found; there must be exactly one (otherwise: permerror).",
                    texts.len()
                ),
            )
            .advice(say!(
                lang,
                "Voeg de records samen tot één: {}",
                "Merge them into one: {}",
                advised_record(domain)
            )),
        );
        return out;
    }
    let text = &texts[0];
    out.push(Check::new("spf-record", Status::Pass, text.clone()));
    match record::parse(text) {
        Ok(_) => {
            out.push(Check::new(
                "spf-syntax",
                Status::Pass,
                say!(lang, "Syntax volgens RFC 7208.", "Syntax follows RFC 7208."),
            ));
        }
        Err(e) => {
            out.push(
                Check::new(
                    "spf-syntax",
                    Status::Fail,
                    say!(
                        lang,
                        "Syntaxfout: {} (ontvangers geven permerror).",
                        "Syntax error: {} (receivers return permerror).",
                        e
                    ),
                )
                .advice(say!(
                    lang,
                    "Herstel het record, bijvoorbeeld: {}",
                    "Fix the record, for example: {}",
                    advised_record(domain)
                )),
            );
            return out;
        }
    }
    let Some(w) = &facts.walk else {
        return out;
    };
    out.push(lookups_check(w, lang));
    out.push(voids_check(w, lang));
    for p in &w.problems {
        out.push(
            Check::new("spf-include", Status::Fail, p.clone()).advice(say!(
                lang,
                "Controleer of deze dienst nog een SPF-record publiceert.",
                "Check that this service still publishes an SPF record."
            )),
        );
    }
    if w.ptr {
        out.push(
            Check::new(
                "spf-ptr",
                Status::Warn,
                say!(
                    lang,
                    "Het ptr-mechanisme is afgeraden (RFC 7208 §5.5): traag en onbetrouwbaar.",
                    "The ptr mechanism is discouraged (RFC 7208 §5.5): slow and unreliable."
                ),
            )
            .advice(say!(
                lang,
                "Vervang ptr door ip4:/ip6:-reeksen.",
                "Replace ptr by ip4:/ip6: ranges."
            )),
        );
    }
    out.push(all_check(w.all, lang));
    out
}

fn lookups_check(w: &Walk, lang: Lang) -> Check {
    if w.lookups <= MAX_LOOKUPS {
        Check::new(
            "spf-lookups",
            Status::Pass,
            say!(
                lang,
                "{} DNS-opvragingen (via include en redirect), maximaal {}.",
                "{} DNS look-ups (through include and redirect), at most {}.",
                w.lookups,
                MAX_LOOKUPS
            ),
        )
    } else {
        Check::new(
            "spf-lookups",
            Status::Fail,
            say!(lang, "{} DNS-opvragingen: meer dan {}, dus permerror bij ontvangers.", "{} DNS look-ups: more than {}, so receivers return permerror.", w.lookups, MAX_LOOKUPS),
        )
        .advice(say!(lang, "Vervang includes door ip4:/ip6:-reeksen of verwijder diensten die u niet meer gebruikt.", "Replace includes by ip4:/ip6: ranges or remove services you no longer use."))
    }
}

fn voids_check(w: &Walk, lang: Lang) -> Check {
    if w.voids <= MAX_VOID_LOOKUPS {
        Check::new(
            "spf-void-lookups",
            Status::Pass,
            say!(
                lang,
                "{} lege opvragingen, maximaal {}.",
                "{} void look-ups, at most {}.",
                w.voids,
                MAX_VOID_LOOKUPS
            ),
        )
    } else {
        Check::new(
            "spf-void-lookups",
            Status::Fail,
            say!(
                lang,
                "{} lege opvragingen (naam bestaat niet of geen record), meer dan {}.",
                "{} void look-ups (name missing or no record), more than {}.",
                w.voids,
                MAX_VOID_LOOKUPS
            ),
        )
        .advice(say!(
            lang,
            "Verwijder verwijzingen naar namen zonder records.",
            "Remove references to names without records."
        ))
    }
}

fn all_check(all: Option<Qualifier>, lang: Lang) -> Check {
    match all {
        Some(Qualifier::Fail) => Check::new(
            "spf-all",
            Status::Pass,
            say!(
                lang,
                "Eindigt in -all: andere servers worden geweigerd.",
                "Ends in -all: other servers are refused."
            ),
        ),
        Some(Qualifier::SoftFail) => Check::new(
            "spf-all",
            Status::Pass,
            say!(
                lang,
                "Eindigt in ~all (softfail); -all is strikter.",
                "Ends in ~all (softfail); -all is stricter."
            ),
        ),
        Some(Qualifier::Pass) => Check::new(
            "spf-all",
            Status::Fail,
            say!(
                lang,
                "Eindigt in +all: elke server op internet mag namens u mailen.",
                "Ends in +all: every server on the internet may send in your name."
            ),
        )
        .advice(say!(
            lang,
            "Vervang +all door -all.",
            "Replace +all by -all."
        )),
        Some(Qualifier::Neutral) => Check::new(
            "spf-all",
            Status::Fail,
            say!(
                lang,
                "Eindigt in ?all: geen uitspraak over andere servers.",
                "Ends in ?all: no statement about other servers."
            ),
        )
        .advice(say!(
            lang,
            "Vervang ?all door -all (of ~all).",
            "Replace ?all by -all (or ~all)."
        )),
        None => Check::new(
            "spf-all",
            Status::Warn,
            say!(
                lang,
                "Het record eindigt niet in all: de uitkomst voor andere servers is neutral.",
                "The record does not end in all: the result for other servers is neutral."
            ),
        )
        .advice(say!(lang, "Sluit af met -all.", "End with -all.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(found: Answer<Vec<String>>, walk: Option<Walk>) -> Facts {
        Facts { found, walk }
    }

    fn one(text: &str, walk: Walk) -> Facts {
        facts(Answer::Records(vec![text.to_string()]), Some(walk))
    }

    fn verdicts(facts: &Facts) -> Vec<(String, Status)> {
        crate::graded::verdicts(&grade("zorg.test", facts, Lang::En))
    }

    fn status_of(facts: &Facts, id: &str) -> Option<Status> {
        crate::graded::status_of(&grade("zorg.test", facts, Lang::En), id)
    }

    #[test]
    fn record_table() {
        use Status::{Fail, Warn};
        for (facts, want) in [
            (facts(Answer::TempError("timeout".into()), None), Warn),
            (facts(Answer::Empty, None), Fail),
            (
                facts(
                    Answer::Records(vec!["v=spf1 -all".into(), "v=spf1 mx -all".into()]),
                    None,
                ),
                Fail,
            ),
        ] {
            assert_eq!(verdicts(&facts), vec![("spf-record".to_string(), want)]);
        }
        let broken = facts(
            Answer::Records(vec!["v=spf1 ip4:300.1.1.1 -all".into()]),
            None,
        );
        assert_eq!(status_of(&broken, "spf-syntax"), Some(Fail));
        assert_eq!(status_of(&broken, "spf-lookups"), None);
    }

    #[test]
    fn walk_table() {
        use Status::{Fail, Pass, Warn};
        let w = |lookups, voids, all, ptr, problems: &[&str]| Walk {
            lookups,
            voids,
            all,
            ptr,
            problems: problems.iter().map(|p| p.to_string()).collect(),
        };
        let fail = Some(Qualifier::Fail);
        for (walk, id, want) in [
            (w(1, 0, fail, false, &[]), "spf-lookups", Pass),
            (w(10, 0, fail, false, &[]), "spf-lookups", Pass),
            (w(11, 0, fail, false, &[]), "spf-lookups", Fail),
            (w(1, 2, fail, false, &[]), "spf-void-lookups", Pass),
            (w(1, 3, fail, false, &[]), "spf-void-lookups", Fail),
            (w(1, 0, fail, true, &[]), "spf-ptr", Warn),
            (
                w(1, 0, fail, false, &["include:x has no SPF record"]),
                "spf-include",
                Fail,
            ),
            (w(1, 0, fail, false, &[]), "spf-all", Pass),
            (
                w(1, 0, Some(Qualifier::SoftFail), false, &[]),
                "spf-all",
                Pass,
            ),
            (w(1, 0, Some(Qualifier::Pass), false, &[]), "spf-all", Fail),
            (
                w(1, 0, Some(Qualifier::Neutral), false, &[]),
                "spf-all",
                Fail,
            ),
            (w(1, 0, None, false, &[]), "spf-all", Warn),
        ] {
            let f = one("v=spf1 mx -all", walk);
            assert_eq!(status_of(&f, id), Some(want), "{id}");
            assert_eq!(status_of(&f, "spf-record"), Some(Pass));
            assert_eq!(status_of(&f, "spf-syntax"), Some(Pass));
        }
        let clean = one("v=spf1 mx -all", w(1, 0, fail, false, &[]));
        assert_eq!(status_of(&clean, "spf-ptr"), None);
        assert_eq!(status_of(&clean, "spf-include"), None);
    }
}
