#!/usr/bin/env python3
"""A DNS server for benchmarks on loopback: every question gets NXDOMAIN at once (UDP), so
filters that look things up (SPF, DKIM, DMARC, blocklists) neither wait on a closed
network nor find anything. Like a real server (RFC 2308) it puts the zone's SOA in the
authority section, with a negative TTL of 300 s, so that a resolver may cache the answer;
the zone is the name's top-level domain.

Usage: nxdns.py PORT
"""

import socket
import struct
import sys

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))


def encode(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\x00"


while True:
    data, peer = s.recvfrom(4096)
    if len(data) < 12:
        continue
    # The question section ends after the name (labels up to a zero byte) + type + class.
    i, labels = 12, []
    while i < len(data) and data[i] != 0 and data[i] < 64:
        labels.append(data[i + 1:i + 1 + data[i]])
        i += 1 + data[i]
    question = data[12:i + 5]
    zone = encode(labels[-1:])
    rdata = (encode([b"ns", b"nx"]) + encode([b"hostmaster", b"nx"])
             + struct.pack(">IIIII", 1, 3600, 600, 86400, 300))
    soa = zone + struct.pack(">HHIH", 6, 1, 300, len(rdata)) + rdata
    flags = 0x8183 | (data[2] & 0x01) << 8  # response, recursion desired as asked, available, NXDOMAIN
    header = data[:2] + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x01\x00\x00"
    s.sendto(header + question + soa, peer)
