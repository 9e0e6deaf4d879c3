//! Conformance of sender authentication against public suites (tests/suites, each with
//! its origin and licence), served by the in-process DNS server: the openspf RFC 7208
//! suite, the ARC validation suite, dkimpy's DKIM vectors (RFC 6376 and RFC 8463), and
//! authheaders' DMARC cases. Plus sign-then-verify round trips and bad-input cases.

mod arc;
mod bad_input;
mod dkim;
mod dmarc;
mod spf;

use std::path::{Path, PathBuf};
use std::time::Duration;

use veilpost_dns::testserver::{TestDnsServer, Zone};
use veilpost_senderauth::Authenticator;

pub fn suites() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/suites")
}

pub fn read(path: &str) -> String {
    std::fs::read_to_string(suites().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Start a server for `zone` and an authenticator asking only it.
pub async fn serve(zone: Zone) -> (TestDnsServer, Authenticator) {
    let server = TestDnsServer::start(zone).await.expect("DNS server starts");
    let auth = Authenticator::new(&server.config(), "mx.veilpost.test")
        .expect("authenticator")
        .with_deadline(Duration::from_secs(10));
    (server, auth)
}

/// LF line ends (as in YAML and some fixtures) to CRLF.
pub fn crlf(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 20);
    for line in text.split_inclusive('\n') {
        let body = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l));
        match body {
            Some(b) => {
                out.extend_from_slice(b.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(line.as_bytes()),
        }
    }
    out
}
