#!/usr/bin/env python3
"""The peer for `veilpost report import`: parsedmarc (PyPI, offline: no DNS) reads every
file in a directory. Prints one JSON object:

  {"files": {NAME: {"kind", "report_id", "rows", "messages", "error"}},
   "sources": {IP: {"count", "spf_aligned", "dkim_aligned"}},
   "seconds": parse time}

`rows` are DMARC records (TLS: policies), `messages` their counts (TLS: sessions).
With --time-only, only the seconds are printed (the speed comparison).
"""

import json
import logging
import os
import sys
import time

import parsedmarc

logging.disable(logging.CRITICAL)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    directory = args[0]
    names = sorted(os.listdir(directory))
    files, sources = {}, {}
    start = time.monotonic()
    for name in names:
        entry = {"kind": None, "report_id": None, "rows": None, "messages": None, "error": None}
        try:
            parsed = parsedmarc.parse_report_file(os.path.join(directory, name), offline=True)
            kind, report = parsed["report_type"], parsed["report"]
            if kind == "aggregate":
                entry["kind"] = "dmarc"
                entry["report_id"] = report["report_metadata"]["report_id"]
                entry["rows"] = len(report["records"])
                entry["messages"] = sum(r["count"] for r in report["records"])
                for r in report["records"]:
                    s = sources.setdefault(
                        r["source"]["ip_address"], {"count": 0, "spf_aligned": 0, "dkim_aligned": 0}
                    )
                    s["count"] += r["count"]
                    s["spf_aligned"] += r["count"] if r["alignment"]["spf"] else 0
                    s["dkim_aligned"] += r["count"] if r["alignment"]["dkim"] else 0
            elif kind == "smtp_tls":
                entry["kind"] = "tlsrpt"
                entry["report_id"] = report["report_id"]
                entry["rows"] = len(report["policies"])
                entry["messages"] = sum(
                    p.get("successful_session_count", 0) + p.get("failed_session_count", 0)
                    for p in report["policies"]
                )
            else:
                entry["error"] = f"report type {kind}"
        except Exception as e:  # noqa: BLE001 - the peer's verdict on a file
            entry["error"] = f"{type(e).__name__}: {e}"
        files[name] = entry
    seconds = time.monotonic() - start
    if "--time-only" in sys.argv:
        print(json.dumps({"files": len(names), "seconds": seconds}))
    else:
        print(json.dumps({"files": files, "sources": sources, "seconds": seconds}))


if __name__ == "__main__":
    main()
