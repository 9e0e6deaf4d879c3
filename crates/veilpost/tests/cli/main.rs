//! End-to-end tests of the `veilpost` binary: the public interface in DESIGN.md.

mod auth;
mod contacts;
mod corpus;
mod engines;
mod hostile;
mod identifiers;
mod office;
mod posture;
mod protect;
mod reports;
mod scan;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

pub fn veilpost() -> Command {
    Command::new(env!("CARGO_BIN_EXE_veilpost"))
}

/// Run `veilpost ARGS` under a 1 GiB address-space limit (prlimit) and a wall-clock
/// bound, and return its output. The bound is a hang detector, not a benchmark.
pub fn run_bounded(args: &[&str], limit: Duration) -> Output {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_veilpost"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("prlimit runs (util-linux)");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("veilpost {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Parse JSON-lines output.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}
