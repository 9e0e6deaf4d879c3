//! Host:port and CIDR notation in the configuration.

use anyhow::{Context, Result, bail};

/// `host:port` (with `[v6]:port`).
pub fn split_host_port(target: &str) -> Result<(String, u16)> {
    let (host, port) = target.rsplit_once(':').context("expected host:port")?;
    let port: u16 = port.parse().context("bad port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("empty host");
    }
    Ok((host.to_string(), port))
}

/// `10.0.0.0/8`, `192.0.2.1` or `2001:db8::/32`.
pub fn parse_cidr(text: &str) -> Result<(std::net::IpAddr, u8)> {
    let (ip, bits) = match text.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = ip.trim().parse().context("bad IP address")?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.trim().parse::<u8>().context("bad prefix length")?,
        None => max,
    };
    if bits > max {
        bail!("prefix longer than the address");
    }
    Ok((ip, bits))
}

pub use veilpost_portal::client::in_cidr;
