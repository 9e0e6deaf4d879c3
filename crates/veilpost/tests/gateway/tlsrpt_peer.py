#!/usr/bin/env python3
"""A TLS report as tlsrpt-reporter (sys4's RFC 8460 reporting service; PyPI, GPL: run as
a separate program for the tests, never linked or copied) renders it: its report daemon's
own aggregation and rendering, fed the collected data of one day for DOMAIN without its
datagram socket and daemons. Writes the gzip body it would POST to OUT.

Usage: tlsrpt_peer.py DOMAIN DAY OUT        (DAY as YYYY-MM-DD)
Prints {"successes", "failures", "report-id"} as the report says them.
"""

import gzip
import json
import logging
import sqlite3
import sys
import types

from tlsrpt_reporter import tlsrpt

logging.disable(logging.CRITICAL)


class Destinations:
    def map_destination(self, dom, ruas, logger):
        return ruas


def main():
    domain, day, out = sys.argv[1], sys.argv[2], sys.argv[3]
    reportd = object.__new__(tlsrpt.TLSRPTReportd)
    reportd.cfg = types.SimpleNamespace(
        organization_name="Reporter Example B.V.",
        contact_info="tlsrpt@reporter.example",
    )
    reportd.destination_map = Destinations()
    reportd.schedule_report_delivery = lambda: 0
    reportd.con = sqlite3.connect(":memory:")
    reportd.con.executescript(
        "CREATE TABLE reportdata (day, domain, data);"
        "CREATE TABLE reports (r_id INTEGER PRIMARY KEY, day, domain, uniqid, report);"
        "CREATE TABLE destinations (destination, d_r_id, retries, status, nexttry);"
    )
    # What tlsrpt-fetcher hands the report daemon: per TLSRPT record, per policy, the
    # session counters and the failures keyed by the collectd short form.
    sts = json.dumps({"policy-type": 2, "policy-string": ["version: STSv1", "mode: enforce",
                      "mx: mx1." + domain, "max_age: 86400"], "policy-domain": domain,
                      "mx-host": ["mx1." + domain]})
    dane = json.dumps({"policy-type": 1, "policy-string": ["3 1 1 AB12"], "policy-domain": domain})
    record = f"v=TLSRPTv1; rua=https://veilpost.{domain}/tlsrpt"
    parts = [
        {record: {sts: {"cntrtotal": 120, "cntrfailure": 7, "failures": {
            json.dumps({"c": 204, "n": "mx1." + domain, "s": "192.0.2.44", "r": "198.51.100.1"}): 5,
            json.dumps({"c": 201, "n": "mx1." + domain, "s": "192.0.2.45"}): 2}}}},
        {record: {sts: {"cntrtotal": 30, "cntrfailure": 0, "failures": {}},
                  dane: {"cntrtotal": 10, "cntrfailure": 1, "failures": {
                      json.dumps({"c": 306, "n": "mx2." + domain}): 1}}}},
    ]
    for p in parts:
        reportd.con.execute("INSERT INTO reportdata VALUES (?, ?, ?)", (day, domain, json.dumps(p)))
    reportd.create_report_for(day, domain)
    (text,) = reportd.con.execute("SELECT report FROM reports").fetchone()
    report = json.loads(text)
    with open(out, "wb") as f:
        f.write(gzip.compress(text.encode()))
    print(json.dumps({
        "report-id": report["report-id"],
        "successes": sum(p["summary"]["total-successful-session-count"] for p in report["policies"]),
        "failures": sum(p["summary"]["total-failure-session-count"] for p in report["policies"]),
    }))


if __name__ == "__main__":
    main()
