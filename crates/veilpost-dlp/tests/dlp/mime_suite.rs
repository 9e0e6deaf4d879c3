//! CPython's email test messages (tests/suites/mime-cpython-email): garbled boundaries,
//! digests, RFC 2231 parameters, odd charsets. None holds personal data, so every one must
//! parse and come out clean: no crash and no spurious "uninspectable".

use veilpost_dlp::{Scanner, Verdict};

use crate::fixtures;

#[test]
fn cpython_email_corpus_scans_clean() {
    let dir = fixtures().join("../suites/mime-cpython-email");
    let scanner = Scanner::new();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("suite dir") {
        let path = entry.expect("entry").path();
        if !path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("msg_"))
        {
            continue;
        }
        let raw = std::fs::read(&path).expect("read");
        let report = scanner.scan_message(&raw);
        assert_eq!(report.verdict, Verdict::Clean, "{path:?}: {report:?}");
        n += 1;
    }
    assert!(n >= 45, "{n} messages");
}
