//! Table tests for every detector: the text, and what must (not) be found in it.

use super::*;

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(Engine::new)
}

/// The highest confidence of `kind` in `text`, if any.
fn best(text: &str, kind: Kind) -> Option<Confidence> {
    engine()
        .findings(text, "body")
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.confidence)
        .max()
}

fn verdict(text: &str) -> Verdict {
    engine().report(text, "body").verdict
}

use Confidence::{High, Low, Medium};

#[test]
fn bsn_table() {
    let cases: &[(&str, Option<Confidence>)] = &[
        // The four written forms, with a label.
        ("BSN: 123456782", Some(High)),
        ("bsn 1234.56.782", Some(High)),
        ("Burgerservicenummer 123.456.782", Some(High)),
        ("BSN-nummer: 123 456 782.", Some(High)),
        ("sofinummer 111222333", Some(High)),
        ("Het BSN van mevrouw is 123-456-782", Some(High)),
        // Label after the number.
        ("123456782 (BSN)", Some(High)),
        // Weak context: patient, date of birth.
        ("Patiënt Jansen, 123456782, komt morgen", Some(High)),
        ("geboren 01-02-1980, nummer 111222333", Some(High)),
        // No context either way: checksum-valid, medium.
        ("Het nummer is 123456782.", Some(Medium)),
        // Negative context.
        ("Factuurnummer: 123456782", Some(Low)),
        ("Ordernummer 123456782 is verzonden", Some(Low)),
        ("Ticket #123456782", Some(Low)),
        ("Uw bestelling 111222333 is onderweg", Some(Low)),
        ("KvK 123456782", Some(Low)),
        ("Klantnummer: 123456782", Some(Low)),
        // Checksum fails: nothing.
        ("BSN: 123456789", None),
        ("BSN: 12345678", None),
        // Part of a longer number, an amount, a URL or a word.
        ("rekening 1234567820", None),
        ("bedrag 123.456.782,00", None),
        ("totaal € 123.456.782", Some(Low)),
        ("€123456782", Some(Low)),
        ("https://example.nl/dossier/123456782/view", Some(Low)),
        ("code AB123456782", None),
        ("123456782abc", None),
        // Phone numbers are not BSNs.
        ("Bel 06-12345678 of 020 123 4567", None),
        // Odd layout only next to a label.
        ("BSN 12 34 56 78 2", Some(High)),
        ("waarden 12 34 56 78 2", None),
        // A 9-digit piece inside a run of numbers.
        ("rij 1 123456782 3 bsn", Some(High)),
        // Evasion with zero-width and non-breaking spaces.
        ("BSN: 123\u{200B}456\u{200B}782", Some(High)),
        ("BSN:\u{00A0}123\u{00A0}456\u{00A0}782", Some(High)),
        ("BSN: １２３４５６７８２", Some(High)),
    ];
    for (text, want) in cases {
        assert_eq!(best(text, Kind::Bsn), *want, "{text:?}");
    }
}

#[test]
fn iban_table() {
    let cases: &[(&str, bool)] = &[
        ("IBAN NL91ABNA0417164300", true),
        ("rekening NL91 ABNA 0417 1643 00 t.n.v. Jansen", true),
        ("NL91ABNA0417164300.", true),
        ("BE68 5390 0754 7034", true),
        ("DE89 3704 0044 0532 0130 00", true),
        ("NL91ABNA0417164301", false),
        ("NL91ABNA04171643000", false),
        ("XNL91ABNA0417164300", false),
        ("NL91", false),
    ];
    for (text, want) in cases {
        assert_eq!(best(text, Kind::Iban).is_some(), *want, "{text:?}");
    }
    // An IBAN alone does not make mail sensitive.
    assert_eq!(
        verdict("Graag betalen op NL91ABNA0417164300."),
        Verdict::Clean
    );
}

#[test]
fn date_of_birth_table() {
    let cases: &[(&str, bool)] = &[
        ("geboren 12-03-1956", true),
        ("geb. 12/3/56", true),
        ("Geboortedatum: 1956-03-12", true),
        ("geboren op 12 maart 1956", true),
        ("geb. 3 okt. 1949", true),
        ("Date of birth: March 12, 1956", true),
        ("DOB 12.03.1956", true),
        ("geboortedatum: 1e januari 2001", true),
        // A date without a label is not a date of birth.
        ("afspraak op 12-03-2026", false),
        // A label without a date.
        ("geboren en getogen in Zwolle", false),
        // Impossible dates.
        ("geboren 32-13-1956", false),
    ];
    for (text, want) in cases {
        assert_eq!(best(text, Kind::DateOfBirth).is_some(), *want, "{text:?}");
    }
}

#[test]
fn id_document_table() {
    let cases: &[(&str, bool)] = &[
        ("paspoortnummer NW1234567", true),
        ("Paspoort: SPECI2014", true),
        ("ID-kaart IR98765K1", true),
        ("documentnummer: XR12C45P8", true),
        ("rijbewijsnummer 4123456789", true),
        ("P<NLDDE<BRUIJN<<WILLEKE<LISELOTTE<<<<<<<<<<<", true),
        // Without a label, a 9-character code is nothing.
        ("code NW1234567", false),
        // A label without a number.
        ("neem uw paspoort mee naar de balie", false),
        ("paspoort verlopen op 12-12-2026", false),
    ];
    for (text, want) in cases {
        assert_eq!(best(text, Kind::IdDocument).is_some(), *want, "{text:?}");
    }
}

#[test]
fn health_table() {
    let cases: &[(&str, Option<Confidence>)] = &[
        (
            "Mevrouw Jansen, diabetes type 2, gebruikt metformine.",
            Some(High),
        ),
        (
            "Betreft dhr. P. de Vries: uitslag HbA1c 58 mmol/mol.",
            Some(High),
        ),
        (
            "Patiënt Bakker is verwezen naar de cardioloog wegens hartfalen.",
            Some(High),
        ),
        (
            "Graag verwijs ik J.P. van den Berg (geb. 12-03-1956) naar uw polikliniek.",
            Some(High),
        ),
        (
            "Cliënt El Amrani heeft een psychose doorgemaakt.",
            Some(High),
        ),
        // Only care words and a title: medium.
        ("Mevrouw Smit heeft een consult gehad.", Some(Medium)),
        // No person: nothing.
        ("Diabetes type 2 komt steeds vaker voor bij ouderen.", None),
        (
            "Nieuwsbrief: alles over astma en COPD. Schrijf u in voor de cursus!",
            None,
        ),
        // Names of care givers and signatures are not the patient.
        ("Scholing diabetes door dr. A. Jansen, internist.", None),
        (
            "Over diabetes vertellen wij meer tijdens de avond.\n\nMet vriendelijke groet,\n\nmevrouw Jansen",
            None,
        ),
        // A care giver named with her profession.
        (
            "Mevrouw Jansen, diëtist, vertelt u alles over diabetes.",
            None,
        ),
        (
            "Op de avond spreekt A. de Vries, internist, over hartfalen.",
            None,
        ),
        // A newsletter naming a person: not high.
        (
            "Nieuwsbrief: mevrouw Jansen leeft al jaren met diabetes.",
            Some(Medium),
        ),
        // A disease as the topic of a talk, not somebody's condition.
        ("Nieuwsbrief: mevrouw Jansen vertelt over diabetes.", None),
        ("Anna de Wit gaf een presentatie over hartfalen.", None),
        ("Het protocol COPD is herzien door Jan Smit.", None),
        ("Gesprek met Noor Jansen over haar COPD.", Some(High)),
    ];
    for (text, want) in cases {
        assert_eq!(best(text, Kind::Health), *want, "{text:?}");
    }
}

#[test]
fn contact_details_are_low_sensitivity() {
    let text = "Met vriendelijke groet,\nA. de Vries\nHuisartsenpraktijk De Linde\n\
                Lindelaan 12, 1234 AB Utrecht\nT 030-1234567 | M 06 12 34 56 78\n\
                a.devries@praktijkdelinde.nl | +31 30 123 4567";
    let found = engine().findings(text, "body");
    let kinds: HashSet<Kind> = found.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&Kind::Phone), "{found:?}");
    assert!(kinds.contains(&Kind::EmailAddress), "{found:?}");
    assert!(kinds.contains(&Kind::PostalAddress), "{found:?}");
    assert!(!kinds.contains(&Kind::Bsn), "{found:?}");
    assert_eq!(verdict(text), Verdict::Clean);
}

#[test]
fn excerpts_are_masked() {
    let found = engine().findings(
        "BSN 123456782, IBAN NL91ABNA0417164300, geb. 12-03-1956, paspoort NW1234567, j.jansen@example.nl",
        "body",
    );
    for f in &found {
        for secret in [
            "123456782",
            "NL91ABNA0417164300",
            "0417",
            "12-03",
            "NW1234567",
            "jansen@",
        ] {
            assert!(!f.excerpt.contains(secret), "{f:?} shows {secret}");
        }
    }
    assert_eq!(found.len(), 5, "{found:?}");
}

#[test]
fn verdict_rules() {
    assert_eq!(verdict("BSN: 123456782"), Verdict::Sensitive);
    assert_eq!(verdict("Het nummer is 123456782."), Verdict::Sensitive);
    assert_eq!(verdict("Factuurnummer 123456782"), Verdict::Clean);
    assert_eq!(
        verdict("Mevrouw Jansen heeft diabetes."),
        Verdict::Sensitive
    );
    assert_eq!(verdict("paspoortnummer NW1234567"), Verdict::Sensitive);
    // One date of birth alone is not enough; two people's are.
    assert_eq!(verdict("geboren 12-03-1956"), Verdict::Clean);
    assert_eq!(
        verdict("Jansen, geb. 12-03-1956\nPietersen, geb. 01-07-1961"),
        Verdict::Sensitive
    );
}

#[test]
fn subject_lends_persons_to_body() {
    let mut out = Collector::new(100);
    let carry = engine().scan_segment(
        "Verwijzing mevrouw Jansen",
        &Segment {
            location: "subject",
            today: None,
        },
        &mut out,
        None,
    );
    engine().scan_segment(
        "Zij heeft diabetes.",
        &Segment {
            location: "body",
            today: None,
        },
        &mut out,
        Some(&carry),
    );
    let report = out.finish();
    assert_eq!(report.verdict, Verdict::Sensitive, "{report:?}");
}

#[test]
fn a_date_of_birth_in_the_subject_makes_the_patient_in_the_text_someone() {
    let mut out = Collector::new(100);
    let carry = engine().scan_segment(
        "Betreft: J.P. van Dijk, geb.datum 12-03-1985",
        &Segment {
            location: "subject",
            today: None,
        },
        &mut out,
        None,
    );
    engine().scan_segment(
        "Graag de gegevens overzetten; de patiënt is verhuisd.",
        &Segment {
            location: "attachment/brief.pdf",
            today: None,
        },
        &mut out,
        Some(&carry),
    );
    let report = out.finish();
    assert_eq!(report.verdict, Verdict::Sensitive, "{report:?}");
}

#[test]
fn many_header_lines() {
    // Hostile: every line a quoted header with a name and a health word (each look-up of
    // a position's header line is a binary search, so this stays linear). A sender's
    // line names no patient.
    let text = "Van: Jan Jansen diabetes\n".repeat(20_000);
    assert_eq!(engine().report(&text, "body").verdict, Verdict::Clean);
    let text = "Onderwerp: mw. Jansen diabetes\n".repeat(20_000);
    assert_eq!(engine().report(&text, "body").verdict, Verdict::Sensitive);
}

#[test]
fn signature_zones_are_searched() {
    // Hostile: thousands of closings, each with a name after it and a health word (every
    // look-up of a position in the signature zones is a binary search). A signature names
    // no patient.
    let text = "Met vriendelijke groet,\nJan Jansen\ndiabetes\n\n".repeat(5_000);
    assert_eq!(engine().report(&text, "body").verdict, Verdict::Clean);
    // Overlapping and nested zones merge; positions between them are outside.
    let text = "Groet,\nJan\n\nMet vriendelijke groet,\n-- \nAnna";
    let hits = engine().keyword_hits(text);
    let zones = signature_zones(text, &hits);
    assert!(zones.windows(2).all(|w| w[0].1 < w[1].0), "{zones:?}");
    for (pos, _) in text.char_indices() {
        let want = zones.iter().any(|&(s, e)| s <= pos && pos < e);
        assert_eq!(in_zones(&zones, pos), want, "{pos}");
    }
    assert!(!in_zones(&[(5, 10), (20, 30)], 15));
    assert!(in_zones(&[(5, 10), (20, 30)], 20));
    assert!(!in_zones(&[(5, 10), (20, 30)], 30));
    assert!(!in_zones(&[], 0));
}

#[test]
fn header_line_lookup() {
    let lines = [(0, 10), (20, 30), (30, 35)];
    for (pos, want) in [
        (0, Some(0)),
        (9, Some(0)),
        (10, None),
        (25, Some(1)),
        (30, Some(2)),
        (35, None),
    ] {
        assert_eq!(line_at(&lines, pos), want, "{pos}");
    }
    assert_eq!(line_at(&[], 3), None);
}

#[test]
fn findings_are_deduplicated() {
    let found = engine().findings("BSN 123456782 en nogmaals BSN 123456782", "body");
    assert_eq!(found.len(), 1);
}

#[test]
fn collector_cap_keeps_the_strongest() {
    let mut out = Collector::new(2);
    out.add(
        Kind::Phone,
        "body",
        Medium,
        "1",
        "a".into(),
        Rule::new("t", &[]),
    );
    out.add(
        Kind::Phone,
        "body",
        Medium,
        "2",
        "b".into(),
        Rule::new("t", &[]),
    );
    out.add(
        Kind::Bsn,
        "body",
        High,
        "3",
        "c".into(),
        Rule::new("t", &[]),
    );
    let report = out.finish();
    assert_eq!(report.findings.len(), 2);
    assert!(report.findings.iter().any(|f| f.kind == Kind::Bsn));
    assert_eq!(report.verdict, Verdict::Sensitive);
}

#[test]
fn hostile_text_does_not_panic() {
    let long_digits = "1 ".repeat(100_000);
    let long_at = "@".repeat(10_000);
    let mixed = "NL9".repeat(10_000);
    for text in [
        "",
        "€",
        "\u{200B}",
        long_digits.as_str(),
        long_at.as_str(),
        mixed.as_str(),
        "geb.",
        "paspoort",
        "P<NLD",
        "mevrouw",
        "diabetes mevrouw",
    ] {
        let _ = engine().report(text, "body");
    }
}

/// The verdict of `text` on 2 December 2026, with the reasons and rules for messages.
fn verdict_on(text: &str) -> (Verdict, Vec<String>) {
    let r = engine().report_on(text, "body", Some((2026, 12, 2)));
    let rules = r
        .findings
        .iter()
        .filter(|f| f.confidence == High)
        .map(|f| f.rule.clone())
        .collect();
    (r.verdict, rules)
}

#[test]
fn people_named_plainly() {
    use Verdict::{Clean, Sensitive};
    let cases: &[(&str, Verdict)] = &[
        // First name and surname, with a date beside it or a diagnosis near it.
        (
            "Gesprek gehad met Noor Jansen (14-02-1961) over haar COPD.",
            Sensitive,
        ),
        ("Bij Daan van Leeuwen is autisme vastgesteld.", Sensitive),
        (
            "Noor Jansen, 14-02-1961, komt morgen voor haar diabetescontrole.",
            Sensitive,
        ),
        (
            "Noor Jansen, geb. 14 februari 1961: verwijzing naar de cardioloog",
            Sensitive,
        ),
        ("14-02-1961 Noor Jansen: astma", Sensitive),
        // A first name with a date of birth.
        (
            "Noor (14-02-1961) heeft gebeld over haar medicatie.",
            Sensitive,
        ),
        // Initials, titles, tussenvoegsels, hyphens.
        (
            "J.P. de Vries-Bakker gebruikt metformine 500 mg 2dd.",
            Sensitive,
        ),
        ("Mw. El Amrani is bekend met DM2.", Sensitive),
        ("Anna Maria Jansen-de Vries heeft een depressie.", Sensitive),
        ("Lotte in 't Veld: er is sprake van PTSS.", Sensitive),
        // A relation points at a person.
        ("De zoon van mevrouw Bakker heeft ADHD.", Sensitive),
        (
            "Zoon Daan (3 jaar) is aangemeld; er is sprake van een ondertoezichtstelling.",
            Sensitive,
        ),
        (
            "Namens Noor Jansen (cliënt) vraag ik een PGB aan wegens een depressie.",
            Sensitive,
        ),
        // Client and patient numbers.
        ("Cliëntnummer 1234567: graag het dossier.", Sensitive),
        (
            "Dossiernummer 2026-0042 van Sem Visser: schuldhulpverlening gestart.",
            Sensitive,
        ),
        // Youth care and the social domain.
        (
            "Voor Sem Visser loopt een jeugdbeschermingsmaatregel.",
            Sensitive,
        ),
        (
            "Fatima Yilmaz heeft een Wmo-indicatie voor beschermd wonen.",
            Sensitive,
        ),
        // Lab values with units and doses.
        ("Pieter Smit: HbA1c 64 mmol/mol, RR 150/95 mmHg.", Sensitive),
        // Lists of several people with dates of birth, in running text.
        (
            "Aanmeldingen: Sem Bakker 03-04-2012 en Julia de Boer 21-11-2013.",
            Sensitive,
        ),
        // Hard negatives: the addressee, the sender, care givers, staff, appointments.
        (
            "Beste Jan,\n\nWil jij de diabetesspreekuren overnemen?\n\nGroet, Anna",
            Clean,
        ),
        ("Huisarts Bakker geeft een nascholing over COPD.", Clean),
        (
            "Overleg met Jan de Vries op 12-03-2026 om 10:00 over het rooster.",
            Clean,
        ),
        ("maandag 19-05-2025: Sem de Vries (avonddienst)", Clean),
        (
            "Van harte gefeliciteerd Anna de Wit! Taart om 15:00 in de keuken.",
            Clean,
        ),
        (
            "Met vriendelijke groet,\n\nAnna Bakker\nPraktijkondersteuner GGZ\nBehandelplannen en verwijzingen",
            Clean,
        ),
        (
            "Nieuwsbrief: Jan de Vries vertelt over leven met diabetes.",
            Clean,
        ),
        (
            "Vacature doktersassistente. Contact: Sanne de Boer, teamleider.",
            Clean,
        ),
        (
            "Aanwezig: Jan de Vries, Anna Bakker, Piet Smit. Onderwerp: zorgpad COPD.",
            Clean,
        ),
        (
            "Op 12 maart 2026 om 10:14 schreef Jan de Vries <jan@praktijk.nl>:",
            Clean,
        ),
        ("BIG-registratienummer 12345678901 van de arts", Clean),
        // Found by the blind third corpus (2026-12-04). A first name with an age, a
        // family by surname.
        (
            "Er is een melding bij Veilig Thuis gedaan over Sven (5) en Lotte (12 jaar).",
            Sensitive,
        ),
        (
            "Melding Veilig Thuis over de kinderen van familie Dekker.",
            Sensitive,
        ),
        (
            "Over Bilal, 14 jr: hij heeft suïcidale gedachten.",
            Sensitive,
        ),
        ("Uitslag biopt mw. Koopmans: maligne", Sensitive),
        // A compound condition the lists do not name, by its ending; not an engine's
        // ignition, not a talk's topic.
        (
            "Bij Daan de Vries is een blaasontsteking vastgesteld.",
            Sensitive,
        ),
        ("Kees Jansen heeft last van een gameverslaving.", Sensitive),
        ("Pim Kok heeft een polsfractuur opgelopen.", Sensitive),
        ("Sanne Bos heeft sinusitis.", Sensitive),
        ("De auto van Jan Smit heeft een defecte ontsteking.", Clean),
        (
            "Op 3 maart is er een lezing over alvleesklierkanker door dr. Piet de Groot.",
            Clean,
        ),
        // Two capitalised words after "met", "voor", "bij", "over": a name, listed or not;
        // not when an organisation's noun ends one.
        ("Gesprek met Kwabena Mensah over zijn depressie.", Sensitive),
        ("Overleg met Veilig Thuis over de nieuwe meldcode.", Clean),
        (
            "Het contract met Menzis Zorgkantoor voor de Wlz-indicatie is rond.",
            Clean,
        ),
        (
            "Vergadering bij Stichting Humanitas over eenzaamheid en depressie bij ouderen.",
            Clean,
        ),
        // A double first name of two known ones, before an unlisted surname.
        (
            "Graag een afspraak voor Wouter-Jan Berkhout, hij heeft COPD.",
            Sensitive,
        ),
        // A name typed without capitals in a quick question.
        (
            "kun je naar de uitslag van sanne de vries-kok kijken? crp 120, pneumonie",
            Sensitive,
        ),
        (
            "Patient Maaike Wouters was admitted with a pulmonary embolism.",
            Sensitive,
        ),
        // A table below the signature is not part of it.
        (
            "Met vriendelijke groet,\n\nJesse Bos\nWijkverpleegkundige\n\nCliënt\tMiddel\tDosering\n\
             Cliënt: Ruud Verbeek; Middel: lorazepam; Dosering: 1 mg 2dd\n",
            Sensitive,
        ),
        // A staff list's row, and its header row.
        (
            "Naam\tToestel\tFunctie\nNaam: Jan Bos; Toestel: 123; Functie: Gezinsvoogd\n\
             Naam: Pim Kok; Toestel: 124; Functie: Behandelaar\n",
            Clean,
        ),
        // Institutions by name, in an attendee list.
        (
            "Naam: Jeroen van der Linden; Organisatie: GGZ Kompas; Workshop: B\n\
             Naam: Ria Kok; Organisatie: Verpleeghuis De Hoge Hof; Workshop: A\n",
            Clean,
        ),
        // A study's topic, and a researcher named by role.
        (
            "Voor een onderzoek naar astma bij kinderen zoeken wij ouders. Informatie bij \
             Noor Jansen, onderzoeker.",
            Clean,
        ),
        // A quoted header line's subject pairs with no name below it.
        (
            "Ok.\n\nVan: Tom Bos\nOnderwerp: Cijfers jeugdbescherming\n\nXander de Vries \
             presenteert de cijfers in de raad.",
            Clean,
        ),
        (
            "Onderwerp: Uitslag biopt mw. Koopmans: maligne\n\nGraag bellen.",
            Sensitive,
        ),
        // Where a colleague works is not what a client receives; a colleague's own
        // diagnosis still counts, and so does a client of the same service.
        (
            "Fatima Benali begint maandag als nieuwe collega bij de schuldhulpverlening.",
            Clean,
        ),
        (
            "Jan de Vries werkt als doktersassistent; in dienst sinds mei heeft hij een \
             burn-out.",
            Sensitive,
        ),
        (
            "Sem Visser is aangemeld bij de schuldhulpverlening. Hij werkt als kok.",
            Sensitive,
        ),
        (
            "Een medewerker van de schuldhulpverlening belde over cliënt Jansen, die in de \
             schuldsanering zit.",
            Sensitive,
        ),
        // A name in capitals, surname first, as a lab prints it.
        (
            "JANSEN, PETRA (12-05-1975) - uitslag mammografie: BI-RADS 4.",
            Sensitive,
        ),
        ("VERSLAG MDO WIJKTEAM NOORD - COPD en hartfalen.", Clean),
        // "Mr." in English is "meneer"; the Dutch jurist's "mr." is written in lower case.
        ("Mr. Peter Evans has type 2 diabetes.", Sensitive),
        (
            "Het advies van mr. Jan de Vries over de ondertoezichtstelling volgt.",
            Clean,
        ),
        // English names a service with a second word.
        (
            "Rachel Green leads the breast cancer awareness campaign this October.",
            Clean,
        ),
        ("Noor Jansen organises the diabetes awareness week.", Clean),
        (
            "Noor Jansen has diabetes and needs a nurse at home.",
            Sensitive,
        ),
        // Criminal records, not a postponed agenda item.
        (
            "Jan-Willem Bosch heeft een taakstraf gekregen en staat onder \
             reclasseringstoezicht.",
            Sensitive,
        ),
        (
            "Het voorstel van wethouder Piet Jansen wordt aangehouden tot de volgende \
             vergadering.",
            Clean,
        ),
    ];
    for (text, want) in cases {
        let (got, rules) = verdict_on(text);
        assert_eq!(got, *want, "{text:?}: {rules:?}");
    }
}

#[test]
fn findings_say_why() {
    let r = engine().report_on(
        "Gesprek gehad met Noor Jansen (14-02-1961) over haar COPD.",
        "body",
        Some((2026, 12, 2)),
    );
    let dob = r.of_kind(Kind::DateOfBirth).next().expect("date of birth");
    assert_eq!(dob.rule, "dob.name");
    let health = r.of_kind(Kind::Health).next().expect("health");
    assert_eq!(health.rule, "health.person");
    assert_eq!(health.evidence, ["name", "date_of_birth", "diagnosis"]);
    let bsn = engine().findings("BSN: 123456782", "body");
    assert_eq!(bsn[0].rule, "bsn.label");
}

#[test]
fn identity_documents_in_current_formats() {
    let cases: &[(&str, bool)] = &[
        ("Paspoortnummer: NXF4BK8L2", true),
        ("ID-kaart IR5123456", true),
        ("identiteitskaart nummer SPECI2014", true),
        ("Rijbewijs 5123456789", true),
        ("Verblijfsdocument W12345678", true),
        ("V-nummer 1234567890", true),
        // Without a label: next to a name with a date of birth.
        ("Noor Jansen (14-02-1961), NXF4BK8L2", true),
        // The letter O is never used; a product code without a person is nothing.
        ("paspoort NO1234567", false),
        ("Artikel NXF4BK8L2 is op voorraad", false),
    ];
    for (text, want) in cases {
        let found = engine()
            .report_on(text, "body", Some((2026, 12, 2)))
            .findings
            .iter()
            .any(|f| f.kind == Kind::IdDocument);
        assert_eq!(found, *want, "{text:?}");
    }
}

#[test]
fn custom_identifiers_in_a_message() {
    let ids = vec![
        CustomIdentifier {
            name: "patientnummer".into(),
            pattern: r"\bPAT-\d{7}\b".into(),
            checksum: Checksum::None,
            keywords: vec![],
            confidence: High,
            sensitive_alone: true,
        },
        CustomIdentifier {
            name: "ecd_id".into(),
            pattern: r"\b\d{9}\b".into(),
            checksum: Checksum::Elfproef,
            keywords: vec!["ECD".into()],
            confidence: Medium,
            sensitive_alone: false,
        },
    ];
    let e = Engine::with_identifiers(ids).expect("valid");
    let r = e.report("Graag terugbellen over PAT-1234567.", "body");
    assert_eq!(r.verdict, Verdict::Sensitive);
    assert_eq!(r.reasons, [Reason::Identifier]);
    let f = &r.findings[0];
    assert_eq!(
        (f.kind, f.kind_name(), f.rule.as_str()),
        (Kind::Custom, "patientnummer", "custom.patientnummer")
    );
    assert!(!f.excerpt.contains("1234567"));
    // Not sensitive alone, but it identifies the person the diagnosis is about.
    let alone = e.report("ECD 123456782 bijgewerkt.", "body");
    assert!(alone.findings.iter().any(|f| f.kind_name() == "ecd_id"));
    assert!(!alone.reasons.contains(&Reason::Identifier));
    let with_health = e.report("ECD 123456782: diabetes type 2, metformine.", "body");
    assert!(
        with_health.reasons.contains(&Reason::Health),
        "{with_health:?}"
    );
    // The checksum and the keyword both count.
    assert!(
        e.findings("ECD 123456788", "body")
            .iter()
            .all(|f| f.kind != Kind::Custom)
    );
    assert!(
        e.findings("order 123456782", "body")
            .iter()
            .all(|f| f.kind_name() != "ecd_id")
    );
}
