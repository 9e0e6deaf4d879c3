#!/usr/bin/env python3
"""Run one DLP peer over a directory of .eml files, whole process, and print a JSON line
with how many messages it flagged and how long it took (wall clock, start-up included).

    python3 bench/dlp_peers.py presidio DIR    # Presidio: pattern recognisers + a BSN one
    python3 bench/dlp_peers.py deduce DIR      # deduce 3.0.6: persons, dates, BSNs

Used by bench/dlp_peers.sh; neither peer is linked into Veilpost (deduce is LGPL).
Presidio runs without a language model (spaCy's blank Dutch pipeline: no model download),
with its built-in pattern recognisers (e-mail, IBAN, phone, credit card, ...) and a BSN
recogniser (9 digits passing the 11-check); deduce with its default configuration.
"""

import email
import json
import os
import sys
import time
from email import policy

start = time.perf_counter()
peer, folder = sys.argv[1], sys.argv[2]


def texts(path):
    with open(path, "rb") as fh:
        msg = email.message_from_binary_file(fh, policy=policy.default)
    out = [str(msg.get("Subject", ""))]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                out.append(part.get_content())
            except Exception:  # noqa: BLE001 (a broken part is skipped, as by the peers)
                pass
    return "\n".join(out)


files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".eml"))

if peer == "presidio":
    import logging
    logging.disable(logging.WARNING)
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry

    class Bsn(PatternRecognizer):
        def validate_result(self, pattern_text):
            d = [int(c) for c in pattern_text if c.isdigit()]
            return len(d) == 9 and (sum((9 - i) * d[i] for i in range(8)) - d[8]) % 11 == 0

    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankDutch(SpacyNlpEngine):
        """spaCy's blank Dutch pipeline: tokens only, no model to download."""

        def load(self):
            self.nlp = {"nl": spacy.blank("nl")}

    nlp = BlankDutch(models=[{"lang_code": "nl", "model_name": "blank:nl"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["nl"])
    registry.load_predefined_recognizers(languages=["nl"])
    for r in registry.recognizers:
        r.supported_language = "nl"
    registry.add_recognizer(Bsn(supported_entity="NL_BSN", supported_language="nl",
                                patterns=[Pattern("bsn", r"\b\d{9}\b|\b\d{4}\.\d{2}\.\d{3}\b", 0.5)],
                                context=["bsn", "burgerservicenummer"]))
    engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["nl"])
    flagged = 0
    for f in files:
        results = engine.analyze(text=texts(f), language="nl")
        flagged += any(r.entity_type in ("NL_BSN", "IBAN_CODE", "CREDIT_CARD") for r in results)
elif peer == "deduce":
    import logging
    logging.disable(logging.INFO)
    from deduce import Deduce
    deduce = Deduce()
    flagged = 0
    for f in files:
        doc = deduce.deidentify(texts(f))
        flagged += any("persoon" in a.tag or "patient" in a.tag or a.tag == "bsn" for a in doc.annotations)
else:
    sys.exit(f"unknown peer {peer}")

print(json.dumps({"peer": peer, "messages": len(files), "flagged": flagged,
                  "seconds": round(time.perf_counter() - start, 2)}))
