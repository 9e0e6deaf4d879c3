#!/usr/bin/env python3
"""A DNS server for benchmarks on loopback: every question gets NXDOMAIN at once (UDP), so
filters that look things up (SPF, DKIM, DMARC, blocklists) neither wait on a closed
network nor find anything.

Usage: nxdns.py PORT
"""

import socket
import sys

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
while True:
    data, peer = s.recvfrom(4096)
    if len(data) < 12:
        continue
    # The question section ends after the name (labels up to a zero byte) + type + class.
    i = 12
    while i < len(data) and data[i] != 0:
        i += 1 + data[i]
    question = data[12:i + 5]
    flags = 0x8183 | (data[2] & 0x01) << 8  # response, recursion desired as asked, available, NXDOMAIN
    header = data[:2] + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00"
    s.sendto(header + question, peer)
