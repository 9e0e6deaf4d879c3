#!/usr/bin/env python3
"""Read a Prometheus exposition on stdin and print how Veilpost's own accept times
(`veilpost_accept_seconds`, end of DATA to the 250, every message) fall into its buckets:
the share within 10, 25 and 50 ms; and how many messages it scanned and DKIM-signed
(the bench measures a relay that does both). Used by bench/relay.sh."""

import re
import sys

buckets = {}
count = 0
scanned = signed = 0.0
for line in sys.stdin:
    m = re.match(r"veilpost_scan_seconds_count (\S+)", line)
    if m:
        scanned = float(m.group(1))
    m = re.match(r'veilpost_dkim_signatures_total\{result="signed"\} (\S+)', line)
    if m:
        signed = float(m.group(1))
    m = re.match(r'veilpost_accept_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)', line)
    if m and m.group(1) != "+Inf":
        le = float(m.group(1))
        buckets[le] = buckets.get(le, 0) + float(m.group(2))
    m = re.match(r"veilpost_accept_seconds_count(?:\{[^}]*\})? (\S+)", line)
    if m:
        count += float(m.group(1))
if count:
    share = ", ".join(
        f"{buckets.get(le, 0) / count * 100:.1f} % within {le * 1000:g} ms"
        for le in (0.01, 0.025, 0.05)
    )
    print(f"veilpost  server-timed accepts: {count:.0f}; {share}; scanned {scanned:.0f}, DKIM-signed {signed:.0f}")
else:
    print("veilpost  server-timed accepts: none reported")
