//! `veilpost healthcheck`: ask the running node's `/healthz/ready` on its web listener,
//! for container images without curl (`HEALTHCHECK CMD veilpost healthcheck`). Exit
//! status 0 ready, 1 not ready or not answering.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::config::load;

/// The URL of the readiness endpoint for a listener address: a wildcard address is asked
/// on loopback.
pub fn ready_url(listen: &str) -> String {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8080"));
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    format!("http://{host}:{port}/healthz/ready")
}

pub fn run(config: Option<&Path>) -> Result<u8> {
    let config = load(config)?;
    let url = ready_url(&config.web.listen);
    crate::serve::runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        match client.get(&url).send().await {
            Ok(r) => {
                let ready = r.status().is_success();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                for check in body["checks"].as_array().into_iter().flatten() {
                    if check["ok"] != true {
                        eprintln!(
                            "{}: {}",
                            check["id"].as_str().unwrap_or("?"),
                            check["detail"].as_str().unwrap_or("")
                        );
                    }
                }
                println!("{}", if ready { "ready" } else { "not ready" });
                Ok(if ready { 0 } else { 1 })
            }
            Err(e) => {
                eprintln!("{url}: {e}");
                println!("not ready");
                Ok(1)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcard_listeners_are_asked_on_loopback() {
        for (listen, url) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080/healthz/ready"),
            ("0.0.0.0:443", "http://127.0.0.1:443/healthz/ready"),
            ("[::]:8080", "http://[::1]:8080/healthz/ready"),
            ("[2001:db8::1]:80", "http://[2001:db8::1]:80/healthz/ready"),
        ] {
            assert_eq!(super::ready_url(listen), url);
        }
    }
}
