//! Serve a fixture zone file (`NAME TYPE DATA` lines) on 127.0.0.1, for trying
//! `veilpost check-domain --dns 127.0.0.1:PORT` or other tools against local zones.
//!
//! Run: `cargo run -p veilpost-dns --features test-server --example zone_server -- ZONEFILE`

use veilpost_dns::testserver::{TestDnsServer, Zone};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: zone_server ZONEFILE")?;
    let zone = Zone::parse(&std::fs::read_to_string(&path)?)?;
    let server = TestDnsServer::start(zone).await?;
    println!("{}", server.addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
