//! The S3-compatible object store the tests share: `./test.sh` starts `moto_server` on
//! 127.0.0.1 and names it in `VEILPOST_TEST_S3` (credentials in `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY`, any value). Each test takes a fresh bucket of its own.

use std::io::{Read, Write};

/// The environment variable that names the test object store (its `http://` endpoint).
pub const VARIABLE: &str = "VEILPOST_TEST_S3";

/// The test object store's endpoint. Panics with what to do when there is none.
pub fn endpoint() -> String {
    match std::env::var(VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url.trim_end_matches('/').to_string(),
        _ => panic!(
            "{VARIABLE} is not set: these tests need an S3-compatible store. Run them with \
             ./test.sh (it starts moto_server on 127.0.0.1), or set {VARIABLE}=http://HOST:PORT"
        ),
    }
}

/// A new, empty bucket for one test (`name` and this process make it unique). Returns
/// its name.
pub fn fresh_bucket(name: &str) -> String {
    let endpoint = endpoint();
    let mut bucket: String = format!("vp-{}-{}", std::process::id(), name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    bucket.truncate(63);
    let bucket = bucket.trim_end_matches('-').to_string();
    request(&endpoint, &format!("PUT /{bucket}"));
    bucket
}

/// The names of every object in `bucket` (up to 1,000: a test's bucket holds fewer).
pub fn object_names(bucket: &str) -> Vec<String> {
    request(&endpoint(), &format!("GET /{bucket}?list-type=2"))
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

/// One unsigned request (`METHOD /PATH`, no body) to the test object store; its whole
/// answer, which must be a 200. HTTP/1.0, so the answer comes whole and never chunked.
fn request(endpoint: &str, line: &str) -> String {
    let host = endpoint
        .strip_prefix("http://")
        .expect("the test object store speaks plain http on loopback");
    let mut conn = std::net::TcpStream::connect(host).expect("connect to the test object store");
    write!(
        conn,
        "{line} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send to the test object store");
    let mut answer = String::new();
    conn.read_to_string(&mut answer)
        .expect("the test object store's answer");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "the test object store answered {line} with: {answer}"
    );
    answer
}
