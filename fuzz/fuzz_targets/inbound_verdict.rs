//! The inbound path over arbitrary bytes: the facts gathered from a message (From,
//! Reply-To, anchors, attachments and their ZIP directories), the verdict on them, and the
//! header rewrite that removes forged Authentication-Results, the banner, and the milter
//! edits read off the changed message; and the same bytes as a phishing report.
//!
//!     cargo fuzz run -O -s none inbound_verdict -- -max_total_time=60
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let g = veilpost_verdict::gather(data);
    assert!(g.links.len() <= veilpost_verdict::gather::MAX_LINKS);
    assert!(g.attachments.len() <= veilpost_verdict::gather::MAX_ATTACHMENTS);
    let own = vec!["praktijk.nl".to_string()];
    let knowledge = veilpost_verdict::Knowledge {
        own_domains: &own,
        ..Default::default()
    };
    let v = veilpost_verdict::verdict(
        &g.facts(),
        &veilpost_verdict::Authenticity::default(),
        &knowledge,
        &veilpost_verdict::Settings::default(),
    );
    let fields = [veilpost_verdict::headers::verdict_field(&v)];
    let out = veilpost_verdict::headers::with_our_headers(data, "mx.praktijk.nl", &fields);
    assert!(out.starts_with(fields[0].as_bytes()));
    let out = veilpost_verdict::banner::with_banner(&out, &v.warnings());
    let edits = veilpost_verdict::edits::edits(data, &out);
    assert!(edits.change.iter().all(|(_, n, _)| *n >= 1));
    assert!(veilpost_verdict::edits::edits(&out, &out).is_empty());
    let r = veilpost_verdict::report::reported(data);
    for s in [&r.message_id, &r.from, &r.subject, &r.verdict].into_iter().flatten() {
        assert!(s.chars().count() <= 300 && !s.chars().any(char::is_control));
    }
});
