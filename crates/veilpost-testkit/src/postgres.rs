//! The PostgreSQL server the tests share: `./test.sh` starts a private one on 127.0.0.1
//! (initdb in a temporary directory, pg_ctl) and names it in `VEILPOST_TEST_POSTGRES`.
//! Each test takes a fresh database of its own on it.

use std::process::Command;

/// The environment variable that names the test server (a `postgres://` URL with the
/// rights to create databases).
pub const VARIABLE: &str = "VEILPOST_TEST_POSTGRES";

/// The test server's URL. Panics with what to do when there is none: a test that needs
/// PostgreSQL never passes without it.
pub fn server_url() -> String {
    match std::env::var(VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{VARIABLE} is not set: these tests need a PostgreSQL server. Run them with \
             ./test.sh (it starts one on 127.0.0.1), or set {VARIABLE}=postgres://USER@HOST:PORT/postgres"
        ),
    }
}

/// A new, empty database for one test (`name` and this process make it unique; one left
/// from an earlier run is dropped first). Returns its URL.
pub fn fresh_database(name: &str) -> String {
    let server = server_url();
    let mut db: String = format!("vp_{}_{}", std::process::id(), name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    db.truncate(63);
    let out = Command::new("psql")
        .arg(&server)
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .arg("-c")
        .arg(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .arg("-c")
        .arg(format!("CREATE DATABASE {db}"))
        .output()
        .expect("run psql (Debian's postgresql-client)");
    assert!(
        out.status.success(),
        "psql could not make database {db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match server.rsplit_once('/') {
        Some((base, last)) if !last.contains('@') && !base.ends_with('/') => {
            let query = last
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{base}/{db}{query}")
        }
        _ => format!("{}/{db}", server.trim_end_matches('/')),
    }
}

/// Run `sql` on the database at `url` behind the store's back, as someone with the
/// database would (psql; panics when it fails).
pub fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(url)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("run psql (Debian's postgresql-client)");
    assert!(
        out.status.success(),
        "psql could not run {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
