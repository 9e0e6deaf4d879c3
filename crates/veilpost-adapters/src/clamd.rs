//! Uploads through ClamAV's daemon (clamd) when configured: the `zINSTREAM` command over
//! TCP, the file in chunks, one answer. Anything but a clean "OK" refuses the file: a
//! finding, an error, a size limit, a timeout or an unreachable daemon (fail closed).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What clamd said about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature's name.
    Found(String),
}

/// Why a file could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    #[error("clamd at {0} is unreachable: {1}")]
    Unreachable(String, String),
    #[error("clamd did not answer in time")]
    Timeout,
    #[error("clamd refused the file: {0}")]
    Refused(String),
}

/// Scan `bytes` with the clamd at `addr` (`host:port`). A scan that gives no verdict
/// counts in `veilpost_clamd_failures_total`.
pub async fn scan(addr: &str, bytes: &[u8], timeout: Duration) -> Result<Verdict, ClamdError> {
    let result = tokio::time::timeout(timeout, scan_inner(addr, bytes))
        .await
        .map_err(|_| ClamdError::Timeout)
        .and_then(|r| r);
    if result.is_err() {
        metrics::counter!("veilpost_clamd_failures_total").increment(1);
    }
    result
}

async fn scan_inner(addr: &str, bytes: &[u8]) -> Result<Verdict, ClamdError> {
    let io = |e: std::io::Error| ClamdError::Unreachable(addr.to_string(), e.to_string());
    let mut s = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
    s.write_all(b"zINSTREAM\0").await.map_err(io)?;
    for chunk in bytes.chunks(64 * 1024) {
        s.write_all(&(chunk.len() as u32).to_be_bytes())
            .await
            .map_err(io)?;
        s.write_all(chunk).await.map_err(io)?;
    }
    s.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
    let mut answer = Vec::new();
    // The answer is one short line; a daemon that talks on is cut off.
    (&mut s)
        .take(4096)
        .read_to_end(&mut answer)
        .await
        .map_err(io)?;
    parse(&String::from_utf8_lossy(&answer))
}

/// `stream: OK`, `stream: NAME FOUND`, or an error line.
pub fn parse(answer: &str) -> Result<Verdict, ClamdError> {
    let line = answer.trim_end_matches(['\0', '\n', '\r']).trim();
    let rest = line.strip_prefix("stream:").unwrap_or(line).trim();
    if rest == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(name) = rest.strip_suffix(" FOUND") {
        Ok(Verdict::Found(name.trim().to_string()))
    } else {
        Err(ClamdError::Refused(rest.chars().take(200).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse("stream: OK\0").expect("ok"), Verdict::Clean);
        assert_eq!(
            parse("stream: Eicar-Test-Signature FOUND\0").expect("found"),
            Verdict::Found("Eicar-Test-Signature".into())
        );
        assert!(parse("INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(parse("").is_err());
    }
}
