//! The inbound verdict's own cost per message, without DNS or clamd (`cargo bench -p
//! veilpost-verdict`): gathering the facts (parse, anchors, attachments), judging them, the
//! header rewrite and the warning banner, on a 40 kB HTML invoice-fraud mail with a
//! 100 kB attachment and on a 2 kB plain partner mail.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use veilpost_verdict::{
    ArcFacts, Authenticity, DmarcFacts, DmarcPolicy, Knowledge, Person, Settings, Word, banner,
    gather, headers, verdict,
};

fn phishing() -> Vec<u8> {
    let mut html = String::from("<p>Geachte collega,</p>");
    while html.len() < 40_000 {
        html.push_str(
            "<p>De factuur staat klaar in het <a href=\"https://portal.zorggroep0ost.nl/login\">\
             verwijsportaal</a>; betaal via <a href=\"https://rabo-veilig.example/x\">www.rabobank.nl</a>.</p>",
        );
    }
    let file = "A".repeat(100_000);
    format!(
        "From: \"Ann Jansen\" <ann.jansen.praktijk@gmail.com>\r\nReply-To: betalingen@example.net\r\n\
         To: balie@praktijkdelinde.nl\r\nSubject: Factuur\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         {html}\r\n--b\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"factuur.pdf.exe\"\r\n\r\nMZ{file}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn plain() -> Vec<u8> {
    let mut body = String::new();
    while body.len() < 2000 {
        body.push_str("Hierbij de verwijzing voor het spreekuur van dinsdag. ");
    }
    format!(
        "From: Secretariaat <secretariaat@zorggroep-oost.nl>\r\nTo: ann@praktijkdelinde.nl\r\n\
         Subject: Verwijzing\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let own = vec!["praktijkdelinde.nl".to_string()];
    let partners = vec!["zorggroep-oost.nl".to_string(), "umcutrecht.nl".to_string()];
    let staff: Vec<Person> = (0..50)
        .map(|i| Person {
            name: format!("Medewerker {i}"),
            address: format!("m{i}@praktijkdelinde.nl"),
        })
        .chain([Person {
            name: "Ann Jansen".into(),
            address: "a.jansen@praktijkdelinde.nl".into(),
        }])
        .collect();
    let contacts: Vec<Person> = (0..500)
        .map(|i| Person {
            name: format!("Contact {i}"),
            address: format!("c{i}@partner{}.nl", i % 50),
        })
        .collect();
    let knowledge = Knowledge {
        own_domains: &own,
        staff: &staff,
        partners: &partners,
        contacts: &contacts,
        seen_before: false,
        trusted_forwarders: &[],
        blocked: &[],
    };
    let auth = Authenticity {
        spf: (Word::Pass, "gmail.com".into()),
        dkim: vec![(Word::Pass, "gmail.com".into())],
        dmarc: DmarcFacts {
            result: Word::Pass,
            policy: DmarcPolicy::None,
            disposition: DmarcPolicy::None,
        },
        arc: ArcFacts::default(),
    };
    let settings = Settings::default();
    let mut group = c.benchmark_group("inbound");
    for (name, raw) in [("phishing-140kB", phishing()), ("plain-2kB", plain())] {
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| {
                let g = gather(black_box(&raw));
                let v = verdict(&g.facts(), &auth, &knowledge, &settings);
                let fields = [headers::verdict_field(&v)];
                let out = headers::with_our_headers(&raw, "mx.praktijkdelinde.nl", &fields);
                black_box(banner::with_banner(&out, &v.warnings()))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
