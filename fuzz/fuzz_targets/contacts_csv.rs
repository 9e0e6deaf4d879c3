//! The address book's CSV import (admin page and `veilpost contact import`): whatever an
//! uploaded file holds, the parser must not panic, every saved row must be a plausible
//! address with an E.164 number, and what it writes back must parse to the same rows.
//!
//!     cargo fuzz run -O -s none contacts_csv -- -max_total_time=120
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilpost_store::addressbook;
use veilpost_text::Lang;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = addressbook::parse_csv(data) else {
        return;
    };
    // Every refused line says why, in both languages.
    for r in &parsed.refused {
        assert!(r.line >= 1);
        assert!(!r.text(Lang::Nl).is_empty() && !r.text(Lang::En).is_empty());
    }
    for (email, _, phone) in &parsed.rows {
        assert!(email.contains('@') && !email.contains(char::is_whitespace), "{email:?}");
        assert!(phone.starts_with('+') && phone[1..].bytes().all(|b| b.is_ascii_digit()), "{phone:?}");
    }
    // Export, import again: the same addresses and numbers.
    let rows: Vec<(String, Option<String>, Option<String>)> = parsed
        .rows
        .iter()
        .map(|(e, n, p)| (e.clone(), n.clone(), Some(p.clone())))
        .collect();
    let mut out = Vec::new();
    addressbook::write_csv(&mut out, &rows).expect("write");
    let again = addressbook::parse_csv(out.as_slice()).expect("reparse");
    let key = |r: &Vec<(String, Option<String>, String)>| {
        r.iter().map(|(e, _, p)| (e.clone(), p.clone())).collect::<Vec<_>>()
    };
    assert_eq!(key(&again.rows), key(&parsed.rows));
});
