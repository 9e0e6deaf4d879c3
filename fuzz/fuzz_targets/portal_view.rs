//! What the portal does with a stored message before a recipient sees it: parse, sanitise
//! the HTML, list and fetch attachments, make the standalone copy. The message came from
//! outside, so none of this may panic, and no script may survive the sanitiser.
//!
//!     cargo fuzz run -O -s none portal_view -- -max_total_time=120
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilpost_web::render;

/// ` onclick=`-like: an event-handler attribute (outside quotes, roughly).
fn has_handler(tag: &str) -> bool {
    let mut in_quotes = false;
    let b = tag.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'"' => in_quotes = !in_quotes,
            b' ' | b'\t' | b'\n' | b'/' if !in_quotes => {
                let rest = &b[i + 1..];
                if rest.len() > 3 && rest[..2].eq_ignore_ascii_case(b"on") {
                    let name_end = rest
                        .iter()
                        .position(|c| !c.is_ascii_alphabetic())
                        .unwrap_or(rest.len());
                    if name_end > 2 && rest.get(name_end) == Some(&b'=') {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let view = render::view(data);
    if let Some(html) = &view.html {
        // Text may say anything (its `<` is escaped, so every literal `<` opens a tag);
        // the tags may hold no script, event handler or javascript: URL.
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or("").to_ascii_lowercase();
            assert!(
                !tag.starts_with("script") && !tag.starts_with("svg"),
                "{html}"
            );
            assert!(!tag.contains("javascript:") && !has_handler(&tag), "{html}");
        }
    }
    for a in &view.attachments {
        assert!(
            !a.name.contains('/') && !a.name.contains('\\'),
            "{}",
            a.name
        );
    }
    let _ = render::attachment(data, 0);
    let copy = render::standalone_html(&view, "Praktijk");
    assert!(copy.starts_with("<!doctype html>"));
    // The sanitiser on its own, fed the raw bytes as HTML.
    let (clean, _) = render::sanitize(&String::from_utf8_lossy(data));
    for tag in clean.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("").to_ascii_lowercase();
        assert!(
            !tag.starts_with("script") && !tag.contains("javascript:"),
            "{clean}"
        );
    }
});
