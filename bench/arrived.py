#!/usr/bin/env python3
"""Wait until smtp-sink's running counter (its `-c` output in COUNT_FILE) reaches WANT, or
LIMIT seconds pass; print how many arrived and when (Unix time) it saw them. For bench/relay.sh: one quiet process that
reads the file's last bytes every 10 ms, where a shell loop would start a handful of
processes every time it looks (CPU taken from the relay being measured).

Usage: arrived.py COUNT_FILE WANT [LIMIT_SECONDS]
"""

import os
import re
import sys
import time

path, want = sys.argv[1], int(sys.argv[2])
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
counter = re.compile(rb"mesg=(\d+)\r")  # each update ends with a carriage return


def arrived():
    """The last complete counter in the file (0 before the first)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 120))
            found = counter.findall(f.read())
    except FileNotFoundError:
        return 0
    return int(found[-1]) if found else 0


deadline = time.monotonic() + limit
n = arrived()
while n < want and time.monotonic() < deadline:
    time.sleep(0.01)
    n = arrived()
print(n, f"{time.time():.6f}")
