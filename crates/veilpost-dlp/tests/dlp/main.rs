//! Integration tests of the DLP library: golden files for whole messages, and robustness
//! over mutated documents.

mod golden;
mod mime_suite;
mod mutations;
mod peers;
mod probes;

use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}
