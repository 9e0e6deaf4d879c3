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
pub fn serve(path: Option<&Path>, dns: &[String]) -> Result<()> {
    let config = crate::config::load(path)?;
    crate::logging::init(&config.log.format);
    let result = runtime().and_then(|rt| rt.block_on(crate::gateway::serve(config, path, dns)));
    if let Err(e) = &result
        && crate::logging::json()
    {
        // The error that ends the process as a log line too; nothing else is printed.
        tracing::error!("{e:#}");
        std::process::exit(2);
    }
    result
}
