//! The client address behind reverse proxies (`X-Forwarded-For`, written by anyone) and
//! the domain spelling every policy decision uses: whatever the header and the name hold,
//! nothing panics; an untrusted peer is always its own client; the answer is the peer or
//! an address written in the header; a canonical domain is canonical again.
//!
//!     cargo fuzz run -O -s none client_address -- -max_total_time=120
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use veilpost_policy::domain::normalize_domain;
use veilpost_portal::client::{Net, client_address, client_key};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let headers: Vec<&str> = text.split('\n').collect();
    let proxies: &[Net] = &[("127.0.0.1".parse().expect("ip"), 8), ("10.0.0.0".parse().expect("ip"), 8)];
    let trusted_peer: IpAddr = [127, 0, 0, first].into();
    let outside_peer: IpAddr = [203, 0, 113, first].into();
    assert_eq!(client_address(outside_peer, &headers, proxies), outside_peer);
    let client = client_address(trusted_peer, &headers, proxies);
    assert!(
        client == trusted_peer || text.contains(&client.to_string()) || client.is_ipv6(),
        "{client} from {text:?}"
    );
    let _ = client_key(client);
    let once = normalize_domain(&text);
    assert_eq!(normalize_domain(&once), once, "{text:?}");
});
