#!/usr/bin/env python3
"""Submit mail to Veilpost with Python's smtplib, as a mail client would.

Usage: submit.py < JSON
JSON: {"port": N, "user": "...", "password": "...", "starttls": true,
       "messages": [{"from": "...", "header_from": "... (default: from)", "to": ["..."], "subject": "...", "body": "...",
                     "message_id": "<...>", "headers": {"Reply-To": "..."},
                     "attachments": [{"name": "...", "content_type": "a/b", "text": "..."}]}],
       (an attachment's bytes as "base64" instead of "text"; a whole message as "raw")
       "connections": 1}
Prints one JSON line per message: {"message_id", "ok", "code", "error"}. With several
connections, messages are spread over threads (load for the crash test).
"""

import base64
import json
import smtplib
import ssl
import sys
import threading
from email.message import EmailMessage


def client(job):
    s = smtplib.SMTP("127.0.0.1", job["port"], timeout=30)
    s.ehlo("client.test")
    if job.get("starttls", True):
        s.starttls(context=ssl._create_unverified_context())
        s.ehlo("client.test")
    if job.get("user"):
        s.login(job["user"], job["password"])
    return s


def build(m):
    msg = EmailMessage()
    msg["From"] = m.get("header_from", m["from"])
    msg["To"] = ", ".join(m["to"])
    msg["Subject"] = m.get("subject", "Test")
    if m.get("message_id"):
        msg["Message-ID"] = m["message_id"]
    for name, value in m.get("headers", {}).items():
        msg[name] = value
    msg.set_content(m.get("body", "Hallo."))
    for a in m.get("attachments", []):
        maintype, subtype = a.get("content_type", "application/octet-stream").split("/", 1)
        data = base64.b64decode(a["base64"]) if "base64" in a else a["text"].encode()
        msg.add_attachment(data, maintype=maintype, subtype=subtype,
                           filename=a["name"])
    return msg


def run(job, messages, out, lock):
    s = None
    for m in messages:
        result = {"message_id": m.get("message_id"), "ok": False, "code": None, "error": None}
        try:
            if s is None:
                s = client(job)
            if "raw" in m:
                refused = s.sendmail(m["from"], m["to"], m["raw"].encode())
            else:
                refused = s.send_message(build(m), from_addr=m["from"], to_addrs=m["to"])
            result["ok"] = not refused
            result["code"] = 250
            if refused:  # some recipients refused, the message went to the others
                code, text = next(iter(refused.values()))
                result["code"] = code
                result["error"] = f"{code} {text!r}"
        except smtplib.SMTPResponseException as e:
            result["code"] = e.smtp_code
            result["error"] = str(e)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [c for c, _ in e.recipients.values()]
            result["code"] = codes[0] if codes else None
            result["error"] = str(e)
        except Exception as e:  # connection dropped (the crash test kills the server)
            result["error"] = f"{type(e).__name__}: {e}"
            s = None
        with lock:
            out.append(result)
    if s is not None:
        try:
            s.quit()
        except Exception:
            pass


def main():
    job = json.load(sys.stdin)
    messages = job["messages"]
    n = max(1, job.get("connections", 1))
    out, lock = [], threading.Lock()
    threads = [
        threading.Thread(target=run, args=(job, messages[i::n], out, lock)) for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in out:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
