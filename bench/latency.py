#!/usr/bin/env python3
"""Accept-latency probe for bench/relay.sh: over one connection, send messages one after
another until SIGINT and time each from the end of DATA (the final ".") to the server's
reply: how long a client waits while the message is scanned-or-queued and made durable.

Usage: latency.py PORT OUT [RCPT [SENDER]]   (writes "p50 … ms, p99 … ms (n=…)" to OUT, the
count to OUT.n, each sample as "UNIX-TIME MS" to OUT.samples; RCPT defaults to
bob@partner.test, SENDER to ann@praktijk.test)
"""

import signal
import smtplib
import sys
import time

port, out = int(sys.argv[1]), sys.argv[2]
rcpt = sys.argv[3] if len(sys.argv) > 3 else "bob@partner.test"
sender = sys.argv[4] if len(sys.argv) > 4 else "ann@praktijk.test"
stop = False


def on_int(*_):
    global stop
    stop = True


signal.signal(signal.SIGINT, on_int)
body = ("Subject: latency probe\r\nFrom: " + sender + "\r\nTo: " + rcpt + "\r\n\r\n"
        + "Gewone tekst zonder gevoelige gegevens.\r\n" * 100 + ".\r\n").encode()
samples = []
stamps = []  # (when, seconds), written to OUT.samples
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
s.ehlo("probe.bench")
while not stop:
    s.mail(sender)
    s.rcpt(rcpt)
    s.putcmd("data")
    code, _ = s.getreply()
    if code != 354:
        break
    s.sock.sendall(body)
    t0 = time.perf_counter()
    code, _ = s.getreply()
    samples.append(time.perf_counter() - t0)
    stamps.append((time.time(), samples[-1]))
    if code != 250:
        print(f"probe: {code}", file=sys.stderr)
        break
    time.sleep(0.02)
try:
    s.quit()
except Exception:
    pass
samples.sort()


def pct(p):
    return samples[min(len(samples) - 1, int(p * len(samples)))] * 1000 if samples else float("nan")


with open(out, "w") as f:
    f.write(f"p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms (n={len(samples)})")
with open(out + ".samples", "w") as f:
    f.writelines(f"{at:.3f} {secs * 1000:.1f}\n" for at, secs in stamps)
with open(out + ".n", "w") as f:
    f.write(str(len(samples)))
