#!/usr/bin/env python3
"""Write N DMARC aggregate reports (and a TLS report every tenth) into DIR for the import
speed comparison: the shapes reporters send, 1-12 records each, one day each.

Usage: reports_corpus.py DIR N [DOMAIN]
"""

import gzip
import io
import json
import os
import random
import sys
import zipfile
from email.message import EmailMessage


def xml(reporter, rid, domain, begin, rows):
    recs = "".join(
        f"<record><row><source_ip>{ip}</source_ip><count>{c}</count><policy_evaluated>"
        f"<disposition>none</disposition><dkim>{'pass' if d else 'fail'}</dkim>"
        f"<spf>{'pass' if s else 'fail'}</spf></policy_evaluated></row><identifiers>"
        f"<header_from>{domain}</header_from></identifiers><auth_results><dkim>"
        f"<domain>{domain}</domain><selector>s1</selector><result>{'pass' if d else 'fail'}</result>"
        f"</dkim><spf><domain>{domain}</domain><scope>mfrom</scope>"
        f"<result>{'pass' if s else 'fail'}</result></spf></auth_results></record>"
        for ip, c, s, d in rows
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<feedback><report_metadata>'
        f"<org_name>{reporter}</org_name><email>dmarc@{reporter}</email><report_id>{rid}</report_id>"
        f"<date_range><begin>{begin}</begin><end>{begin + 86399}</end></date_range></report_metadata>"
        f"<policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>"
        f"<sp>none</sp><pct>100</pct></policy_published>{recs}</feedback>\n"
    ).encode()


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    domain = sys.argv[3] if len(sys.argv) > 3 else "praktijk.test"
    os.makedirs(out, exist_ok=True)
    rng = random.Random(19)
    day = 1795651200  # 2026-11-26
    for i in range(n):
        begin = day - 86400 * (i % 30)
        if i % 10 == 9:
            rep = {
                "organization-name": "tls.example",
                "date-range": {"start-datetime": "2026-11-30T00:00:00Z", "end-datetime": "2026-11-30T23:59:59Z"},
                "contact-info": "tlsrpt@tls.example",
                "report-id": f"tls-{i}",
                "policies": [{"policy": {"policy-type": "sts", "policy-domain": domain},
                              "summary": {"total-successful-session-count": rng.randrange(1000),
                                          "total-failure-session-count": 0}}],
            }
            with open(os.path.join(out, f"tls-{i}.json.gz"), "wb") as f:
                f.write(gzip.compress(json.dumps(rep).encode()))
            continue
        rows = [
            (f"198.51.{rng.randrange(255)}.{rng.randrange(1, 255)}", rng.randrange(1, 500),
             rng.random() > 0.3, rng.random() > 0.3)
            for _ in range(rng.randrange(1, 13))
        ]
        data = xml(["google.com", "Yahoo", "Enterprise Outlook"][i % 3], f"r-{i}", domain, begin, rows)
        shape = i % 4
        if shape == 0:
            path, body = f"r-{i}.xml", data
        elif shape == 1:
            path, body = f"r-{i}.xml.gz", gzip.compress(data)
        elif shape == 2:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(f"google.com!{domain}!{begin}!{begin + 86399}.xml", data)
            path, body = f"r-{i}.zip", buf.getvalue()
        else:
            m = EmailMessage()
            m["From"] = "noreply-dmarc-support@google.com"
            m["To"] = f"dmarc-rua@{domain}"
            m["Subject"] = f"Report domain: {domain} Submitter: google.com Report-ID: r-{i}"
            m.set_content("This is an aggregate report.")
            m.add_attachment(gzip.compress(data), maintype="application", subtype="gzip",
                             filename=f"google.com!{domain}!{begin}!{begin + 86399}.xml.gz")
            path, body = f"r-{i}.eml", m.as_bytes()
        with open(os.path.join(out, path), "wb") as f:
            f.write(body)


if __name__ == "__main__":
    main()
