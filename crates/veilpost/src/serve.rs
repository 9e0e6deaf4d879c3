//! `veilpost serve`: logging, the async runtime, and the gateway.

use std::path::Path;

use anyhow::{Context, Result};

/// A multi-threaded runtime for the commands that do I/O.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `veilpost serve`.
pub fn serve(config: Option<&Path>, dns: &[String]) -> Result<()> {
    let config = crate::config::load(config)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("VEILPOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    runtime()?.block_on(crate::gateway::serve(config, dns))
}
