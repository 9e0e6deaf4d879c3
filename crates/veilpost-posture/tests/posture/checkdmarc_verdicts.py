#!/usr/bin/env python3
"""checkdmarc's SPF, DMARC and MX verdicts on zones served on loopback, as JSON.

Usage: checkdmarc_verdicts.py PORT DOMAIN...           verdicts per domain
       checkdmarc_verdicts.py --time N PORT DOMAIN     median and p99 of N whole checks

Verdicts use Veilpost's words: "pass", "warn" (valid with warnings), "fail" (missing or
invalid). checkdmarc asks 127.0.0.1:PORT only, for its resolver, its DNSSEC queries and
(through a patched getaddrinfo) the MTA-STS policy host: nothing leaves the machine.
"""

import json
import socket
import statistics
import sys
import time

import checkdmarc
import checkdmarc.dnssec
import checkdmarc.smtp
import checkdmarc.utils
import dns.nameserver
import dns.resolver

_real_getaddrinfo = socket.getaddrinfo
_port = None


def loopback_getaddrinfo(host, port, *args, **kwargs):
    """Host names (the MTA-STS policy host) resolve through the loopback server only."""
    try:
        socket.inet_pton(socket.AF_INET, host)
        return _real_getaddrinfo(host, port, *args, **kwargs)
    except (OSError, TypeError):
        pass
    try:
        answer = resolver(_port).resolve(host, "A")
    except Exception as e:
        raise socket.gaierror(socket.EAI_NONAME, str(e))
    out = []
    for rr in answer:
        if not rr.address.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, "not on loopback")
        out.extend(_real_getaddrinfo(rr.address, port, *args, **kwargs))
    return out


socket.getaddrinfo = loopback_getaddrinfo


def clear_caches():
    """Every check starts cold, as Veilpost's own benchmark does."""
    for cache in (
        checkdmarc.utils.DNS_CACHE,
        checkdmarc.dnssec.DNSSEC_CACHE,
        checkdmarc.dnssec.DNSKEY_CACHE,
        checkdmarc.dnssec.TLSA_CACHE,
        checkdmarc.smtp.TLS_CACHE,
        checkdmarc.smtp.STARTTLS_CACHE,
    ):
        cache.clear()


def resolver(port):
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.timeout = 2
    r.lifetime = 4
    return r


def check(domain, port):
    clear_caches()
    global _port
    _port = port
    return checkdmarc.check_domains(
        [domain],
        resolver=resolver(port),
        nameservers=[dns.nameserver.Do53Nameserver("127.0.0.1", port)],
        timeout=2.0,
        retries=0,
    )


def verdict(section):
    if not section or not section.get("valid", False):
        return "fail"
    return "warn" if section.get("warnings") else "pass"


def summary(result):
    spf = result.get("spf") or {}
    dmarc = result.get("dmarc") or {}
    mx = result.get("mx") or {}
    out = {
        "spf": verdict(spf),
        "spf_detail": spf.get("error") or spf.get("warnings") or [],
        "dmarc": verdict(dmarc),
        "dmarc_detail": dmarc.get("error") or dmarc.get("warnings") or [],
        "dmarc_policy": ((dmarc.get("tags") or {}).get("p") or {}).get("value"),
        "mx_hosts": sorted(h.get("hostname", "") for h in mx.get("hosts", [])),
        "mx_detail": mx.get("error") or mx.get("warnings") or [],
    }
    lookups = (spf.get("parsed") or {}).get("dns_lookups", spf.get("dns_lookups"))
    if lookups is not None:
        out["spf_lookups"] = lookups
    return out


def main():
    args = sys.argv[1:]
    if args[0] == "--time":
        n, port, domain = int(args[1]), int(args[2]), args[3]
        check(domain, port)  # warm up imports and caches the same way Veilpost's bench does
        times = []
        for _ in range(n):
            start = time.perf_counter()
            check(domain, port)
            times.append((time.perf_counter() - start) * 1000.0)
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            json.dumps(
                {
                    "median_ms": round(statistics.median(times), 2),
                    "p99_ms": round(p99, 2),
                    "runs": n,
                    "slowest_ms": [round(t, 1) for t in times[-5:]],
                }
            )
        )
        return
    port = int(args[0])
    print(json.dumps({d: summary(check(d, port)) for d in args[1:]}, default=str))


if __name__ == "__main__":
    main()
