//! Table tests: each finding from a case of its own, the actions DMARC asks for, ARC from a
//! trusted forwarder, and legitimate mail staying clean.

use super::*;

fn own() -> Vec<String> {
    vec!["praktijkdelinde.nl".into()]
}

fn partners() -> Vec<String> {
    vec!["zorggroep-oost.nl".into(), "umcutrecht.nl".into()]
}

fn staff() -> Vec<Person> {
    vec![Person {
        name: "Ann Jansen".into(),
        address: "a.jansen@praktijkdelinde.nl".into(),
    }]
}

fn contacts() -> Vec<Person> {
    vec![Person {
        name: "Dr. P. Bakker".into(),
        address: "p.bakker@ziekenhuis-west.nl".into(),
    }]
}

/// Mail that proves where it comes from.
fn passing(domain: &str) -> Authenticity {
    Authenticity {
        spf: (Word::Pass, domain.into()),
        dkim: vec![(Word::Pass, domain.into())],
        dmarc: DmarcFacts {
            result: Word::Pass,
            policy: DmarcPolicy::Reject,
            disposition: DmarcPolicy::Reject,
        },
        arc: ArcFacts::default(),
    }
}

fn failing(domain: &str, policy: DmarcPolicy) -> Authenticity {
    Authenticity {
        spf: (Word::Fail, domain.into()),
        dkim: vec![],
        dmarc: DmarcFacts {
            result: Word::Fail,
            policy,
            disposition: policy,
        },
        arc: ArcFacts::default(),
    }
}

struct Case {
    name: &'static str,
    from: &'static str,
    from_name: &'static str,
    reply_to: Option<&'static str>,
    links: Vec<Link>,
    attachments: Vec<Attachment>,
    auth: Authenticity,
    seen_before: bool,
    /// Findings that must be there (others may be too).
    want: &'static [&'static str],
    /// Findings that must not be there.
    not: &'static [&'static str],
    /// The action, when the case is about it.
    action: Option<Action>,
}

fn case(name: &'static str, from: &'static str, auth: Authenticity) -> Case {
    Case {
        name,
        from,
        from_name: "",
        reply_to: None,
        links: vec![],
        attachments: vec![],
        auth,
        seen_before: true,
        want: &[],
        not: &[],
        action: None,
    }
}

fn link(text: &str, href: &str) -> Link {
    Link {
        text: text.into(),
        href: href.into(),
    }
}

fn file(name: &str, head: &[u8]) -> Attachment {
    Attachment {
        name: name.into(),
        head: head.to_vec(),
        ..Attachment::default()
    }
}

fn run(c: &Case, trusted: &[String]) -> Verdict {
    let (own, partners, staff, contacts) = (own(), partners(), staff(), contacts());
    verdict(
        &Facts {
            from: c.from,
            from_name: c.from_name,
            reply_to: c.reply_to,
            links: &c.links,
            attachments: &c.attachments,
            ..Facts::default()
        },
        &c.auth,
        &Knowledge {
            own_domains: &own,
            staff: &staff,
            partners: &partners,
            contacts: &contacts,
            seen_before: c.seen_before,
            trusted_forwarders: trusted,
            blocked: &[],
        },
        &Settings::default(),
    )
}

#[test]
fn every_signal_from_a_case_of_its_own() {
    let cases = vec![
        Case {
            not: &["dmarc.reject", "auth.none", "spf.fail"],
            ..case(
                "a partner's genuine mail is clean",
                "info@zorggroep-oost.nl",
                passing("zorggroep-oost.nl"),
            )
        },
        Case {
            want: &["dmarc.reject"],
            action: Some(Action::Reject),
            ..case(
                "p=reject failure is rejected",
                "factuur@umcutrecht.nl",
                failing("umcutrecht.nl", DmarcPolicy::Reject),
            )
        },
        Case {
            want: &["dmarc.quarantine"],
            action: Some(Action::Quarantine),
            ..case(
                "p=quarantine failure is quarantined",
                "lab@zorggroep-oost.nl",
                failing("zorggroep-oost.nl", DmarcPolicy::Quarantine),
            )
        },
        Case {
            want: &["dmarc.fail"],
            action: Some(Action::Tag),
            ..case(
                "p=none failure is tagged",
                "x@example.org",
                failing("example.org", DmarcPolicy::None),
            )
        },
        Case {
            want: &["spoof.own_domain"],
            action: Some(Action::Quarantine),
            ..case(
                "the practice's own domain from outside, unproven",
                "a.jansen@praktijkdelinde.nl",
                Authenticity::default(),
            )
        },
        Case {
            want: &["auth.none"],
            ..case(
                "nothing proven, nothing else wrong",
                "info@kleinbedrijf.nl",
                Authenticity::default(),
            )
        },
        Case {
            from_name: "Ann Jansen",
            want: &["impersonation.staff"],
            action: Some(Action::Tag),
            ..case(
                "CEO fraud: a colleague's name on a free-mail address",
                "ann.jansen.praktijk@gmail.com",
                passing("gmail.com"),
            )
        },
        Case {
            from_name: "dr. p. bakker",
            want: &["impersonation.contact"],
            action: Some(Action::Tag),
            ..case(
                "a contact's name on another domain",
                "bakker@mail-xyz.com",
                passing("mail-xyz.com"),
            )
        },
        Case {
            from_name: "Dr. P. Bakker",
            not: &["impersonation.contact"],
            ..case(
                "the contact's own address is no impersonation",
                "p.bakker@ziekenhuis-west.nl",
                passing("ziekenhuis-west.nl"),
            )
        },
        Case {
            from_name: "servicedesk@umcutrecht.nl",
            want: &["display_name.address"],
            action: Some(Action::Tag),
            ..case(
                "an address in the display name",
                "noreply@mailer.example",
                passing("mailer.example"),
            )
        },
        Case {
            want: &["lookalike.sender"],
            action: Some(Action::Tag),
            ..case(
                "a look-alike of a partner domain",
                "facturen@zorggroep0ost.nl",
                passing("zorggroep0ost.nl"),
            )
        },
        Case {
            want: &["lookalike.sender"],
            action: Some(Action::Tag),
            ..case(
                "a look-alike of the own domain",
                "ann@praktijkdelinde.com",
                passing("praktijkdelinde.com"),
            )
        },
        Case {
            reply_to: Some("betalingen.umc@gmail.com"),
            want: &["reply_to.other_domain"],
            action: Some(Action::Tag),
            ..case(
                "Reply-To to free mail",
                "noreply@umcutrecht.nl",
                passing("umcutrecht.nl"),
            )
        },
        Case {
            reply_to: Some("secretariaat@umcutrecht.nl"),
            not: &["reply_to.other_domain"],
            ..case(
                "Reply-To within the sender's organisation",
                "noreply@mail.umcutrecht.nl",
                passing("umcutrecht.nl"),
            )
        },
        Case {
            links: vec![link(
                "https://www.umcutrecht.nl/uitslagen",
                "https://uitslagen-inzien.example/login",
            )],
            want: &["link.mismatch"],
            action: Some(Action::Tag),
            ..case(
                "a link that shows a partner's domain and goes elsewhere",
                "info@nieuwsbrief.nl",
                passing("nieuwsbrief.nl"),
            )
        },
        Case {
            links: vec![link(
                "www.dilbert.com",
                "https://click.unitedmedia.example/c?q=1",
            )],
            want: &["link.mismatch"],
            action: Some(Action::Accept),
            ..case(
                "a newsletter's name over its click counter is noted, no warning alone",
                "info@nieuwsbrief.nl",
                passing("nieuwsbrief.nl"),
            )
        },
        Case {
            links: vec![link("Uw uitslag", "http://192.0.2.7/uitslag")],
            want: &["link.ip_literal"],
            ..case(
                "a link to an IP address",
                "lab@zorggroep-oost.nl",
                passing("zorggroep-oost.nl"),
            )
        },
        Case {
            links: vec![link("Inloggen", "https://umcutrecht.nl@evil.example/")],
            want: &["link.userinfo"],
            not: &["link.mismatch"],
            ..case(
                "user@host link",
                "info@nieuwsbrief.nl",
                passing("nieuwsbrief.nl"),
            )
        },
        Case {
            links: vec![link("Portaal", "https://xn--umcutrcht-x4a.nl/portal")],
            want: &["link.punycode"],
            ..case(
                "a punycode host",
                "info@nieuwsbrief.nl",
                passing("nieuwsbrief.nl"),
            )
        },
        Case {
            links: vec![link(
                "Portaal",
                "https://zorggroep-oost.nl.verwijzing-portaal.example/",
            )],
            want: &["lookalike.link"],
            ..case(
                "a partner's name as a subdomain of someone else's domain deceives",
                "info@nieuwsbrief.nl",
                passing("nieuwsbrief.nl"),
            )
        },
        Case {
            links: vec![link(
                "Verwijsportaal",
                "https://portal.zorggroep0ost.nl/inloggen",
            )],
            want: &["lookalike.link"],
            action: Some(Action::Tag),
            ..case(
                "a link to a look-alike of a partner",
                "info@nieuwsbrief.nl",
                passing("nieuwsbrief.nl"),
            )
        },
        Case {
            links: vec![link(
                "https://www.umcutrecht.nl/afspraak",
                "https://www.umcutrecht.nl/afspraak",
            )],
            not: &["link.mismatch", "lookalike.link"],
            ..case(
                "an honest link",
                "info@umcutrecht.nl",
                passing("umcutrecht.nl"),
            )
        },
        Case {
            attachments: vec![file("factuur.pdf.exe", b"MZ\x90")],
            want: &["attachment.dangerous"],
            action: Some(Action::Quarantine),
            ..case(
                "a program behind a PDF name",
                "facturen@leverancier.nl",
                passing("leverancier.nl"),
            )
        },
        Case {
            attachments: vec![file("scan.pdf", b"MZ\x90\x00")],
            want: &["attachment.dangerous"],
            ..case(
                "a program by content",
                "scanner@leverancier.nl",
                passing("leverancier.nl"),
            )
        },
        Case {
            attachments: vec![file("Uitslag.htm", b"<html><form action=x>")],
            want: &["attachment.dangerous"],
            ..case(
                "an HTML attachment",
                "lab@leverancier.nl",
                passing("leverancier.nl"),
            )
        },
        Case {
            attachments: vec![file("Bestelling.docm", b"PK\x03\x04")],
            want: &["attachment.dangerous"],
            ..case(
                "macro-enabled Office",
                "inkoop@leverancier.nl",
                passing("leverancier.nl"),
            )
        },
        Case {
            attachments: vec![Attachment {
                encrypted: true,
                ..file("documenten.zip", b"PK\x03\x04")
            }],
            want: &["attachment.encrypted"],
            ..case(
                "an encrypted archive",
                "x@leverancier.nl",
                passing("leverancier.nl"),
            )
        },
        Case {
            attachments: vec![file("verwijsbrief.pdf", b"%PDF-1.7")],
            not: &["attachment.dangerous"],
            ..case(
                "a PDF is a PDF",
                "secretariaat@zorggroep-oost.nl",
                passing("zorggroep-oost.nl"),
            )
        },
        Case {
            seen_before: false,
            want: &["sender.first_time"],
            action: Some(Action::Accept),
            ..case(
                "a first-time sender is a note",
                "nieuw@leverancier.nl",
                passing("leverancier.nl"),
            )
        },
    ];
    for c in &cases {
        let v = run(c, &[]);
        let names: Vec<&str> = v.findings.iter().map(|f| f.name).collect();
        for w in c.want {
            assert!(names.contains(w), "{}: {w} missing in {names:?}", c.name);
        }
        for n in c.not {
            assert!(
                !names.contains(n),
                "{}: {n} unexpected in {names:?}",
                c.name
            );
        }
        if let Some(action) = c.action {
            assert_eq!(v.action, action, "{}: {names:?} score {}", c.name, v.score);
        }
    }
}

#[test]
fn genuine_mail_is_clean_and_says_so() {
    let c = case(
        "partner",
        "info@zorggroep-oost.nl",
        passing("zorggroep-oost.nl"),
    );
    let v = run(&c, &[]);
    assert!(v.is_clean(), "{v:?}");
    assert_eq!(v.header_value(), "clean");
    // "Externe afzender" is silenced by default.
    assert!(v.warnings().is_empty(), "{:?}", v.warnings());
}

#[test]
fn a_trusted_forwarders_arc_seal_explains_a_dmarc_failure() {
    let mut auth = failing("umcutrecht.nl", DmarcPolicy::Reject);
    auth.arc = ArcFacts {
        result: Word::Pass,
        sealer: Some("lists.nictiz.nl".into()),
    };
    let c = case(
        "forwarded by a mailing list",
        "info@umcutrecht.nl",
        auth.clone(),
    );
    let trusted = vec!["nictiz.nl".to_string()];
    let v = run(&c, &trusted);
    assert_eq!(v.action, Action::Accept, "{v:?}");
    assert!(v.findings.iter().any(|f| f.name == "dmarc.fail"));
    // Not trusted: rejected as the domain asks.
    assert_eq!(run(&c, &[]).action, Action::Reject);
    // A failed chain vouches for nothing.
    let mut broken = auth;
    broken.arc.result = Word::Fail;
    let c = case("broken chain", "info@umcutrecht.nl", broken);
    assert_eq!(run(&c, &trusted).action, Action::Reject);
}

#[test]
fn the_header_names_the_action_and_what_counted() {
    let c = Case {
        from_name: "Ann Jansen",
        seen_before: false,
        ..case(
            "fraud",
            "ann@praktijkdelinde-nl.com",
            failing("praktijkdelinde-nl.com", DmarcPolicy::Quarantine),
        )
    };
    let v = run(&c, &[]);
    assert_eq!(v.action, Action::Quarantine);
    let h = v.header_value();
    assert!(h.starts_with("quarantine; "), "{h}");
    assert!(
        h.contains("dmarc.quarantine") && h.contains("impersonation.staff"),
        "{h}"
    );
    assert!(
        !h.contains("sender.first_time"),
        "notes are not listed: {h}"
    );
    // The warnings people see, Dutch and English, each once.
    let w = v.warnings();
    assert!(
        w.iter().any(|w| w.nl.contains("collega Ann Jansen")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.nl.contains("eerste bericht")), "{w:?}");
}

#[test]
fn settings_choose_what_dmarc_and_scores_lead_to() {
    let c = case(
        "p=reject",
        "x@umcutrecht.nl",
        failing("umcutrecht.nl", DmarcPolicy::Reject),
    );
    let (own, partners) = (own(), partners());
    let knowledge = Knowledge {
        own_domains: &own,
        partners: &partners,
        seen_before: true,
        ..Knowledge::default()
    };
    let facts = Facts {
        from: c.from,
        ..Facts::default()
    };
    let settings = Settings {
        dmarc_reject: Action::Quarantine,
        ..Settings::default()
    };
    assert_eq!(
        verdict(&facts, &c.auth, &knowledge, &settings).action,
        Action::Quarantine
    );
    // A silenced finding neither counts nor shows.
    let settings = Settings {
        silenced: vec!["dmarc.reject".into()],
        ..Settings::default()
    };
    let v = verdict(&facts, &c.auth, &knowledge, &settings);
    assert!(v.findings.iter().all(|f| f.name != "dmarc.reject"), "{v:?}");
    assert_eq!(v.action, Action::Accept);
}

#[test]
fn a_virus_is_refused_and_an_unchecked_message_is_marked() {
    let c = case(
        "virus",
        "lab@zorggroep-oost.nl",
        passing("zorggroep-oost.nl"),
    );
    let (own, partners) = (own(), partners());
    let knowledge = Knowledge {
        own_domains: &own,
        partners: &partners,
        seen_before: true,
        ..Knowledge::default()
    };
    let infected = Facts {
        from: c.from,
        malware: Some("Win.Test.EICAR_HDB-1"),
        ..Facts::default()
    };
    let v = verdict(&infected, &c.auth, &knowledge, &Settings::default());
    assert_eq!(v.action, Action::Reject);
    assert!(v.header_value().contains("attachment.malware"));
    let quarantine = Settings {
        malware: Action::Quarantine,
        ..Settings::default()
    };
    assert_eq!(
        verdict(&infected, &c.auth, &knowledge, &quarantine).action,
        Action::Quarantine
    );
    let unchecked = Facts {
        from: c.from,
        unscanned: true,
        ..Facts::default()
    };
    let v = verdict(&unchecked, &c.auth, &knowledge, &Settings::default());
    assert_eq!(v.action, Action::Tag);
    assert!(
        v.warnings()
            .iter()
            .any(|w| w.nl.contains("niet op virussen"))
    );
}

#[test]
fn registrable_domains() {
    for (input, want) in [
        ("a@mail.umcutrecht.nl", "umcutrecht.nl"),
        ("Zorg.Example.co.uk.", "example.co.uk"),
        ("localhost", "localhost"),
    ] {
        assert_eq!(registrable(input), want, "{input}");
    }
}

#[test]
fn blocked_senders_and_domains_are_refused_however_well_they_authenticate() {
    let blocked = vec![
        "oplichter@gmail.com".to_string(),
        "factuur-service.nl".to_string(),
    ];
    let own = own();
    for (from, refused) in [
        ("oplichter@gmail.com", true),
        ("Oplichter@Gmail.com", true),
        ("iemand@gmail.com", false),
        ("a@factuur-service.nl", true),
        ("a@mail.factuur-service.nl", true),
        ("a@factuur-service.nl.example", false),
    ] {
        let knowledge = Knowledge {
            own_domains: &own,
            blocked: &blocked,
            seen_before: true,
            ..Knowledge::default()
        };
        let facts = Facts {
            from,
            ..Facts::default()
        };
        let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
        let v = verdict(&facts, &passing(domain), &knowledge, &Settings::default());
        let has = v.findings.iter().any(|f| f.name == "sender.blocked");
        assert_eq!(has, refused, "{from}: {v:?}");
        assert_eq!(v.action == Action::Reject, refused, "{from}: {v:?}");
    }
}

#[test]
fn a_program_inside_a_zip_is_dangerous_by_its_name() {
    let own = own();
    let knowledge = Knowledge {
        own_domains: &own,
        seen_before: true,
        ..Knowledge::default()
    };
    for (inner, dangerous) in [
        (vec!["factuur.pdf.exe".to_string()], true),
        (vec!["readme.txt".into(), "setup.js".into()], true),
        (vec!["brief.pdf".into(), "foto.jpg".into()], false),
    ] {
        let attachments = vec![Attachment {
            name: "factuur.zip".into(),
            head: b"PK\x03\x04".to_vec(),
            inner: inner.clone(),
            ..Attachment::default()
        }];
        let facts = Facts {
            from: "info@leverancier.nl",
            attachments: &attachments,
            ..Facts::default()
        };
        let v = verdict(
            &facts,
            &passing("leverancier.nl"),
            &knowledge,
            &Settings::default(),
        );
        let found = v.findings.iter().any(|f| f.name == "attachment.dangerous");
        assert_eq!(found, dangerous, "{inner:?}: {v:?}");
    }
}
