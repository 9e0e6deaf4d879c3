#!/usr/bin/env bash
# `veilpost scan` beside Presidio and deduce, whole process, on the same 2,000 mails in one
# run (the second corpus and its fresh split, repeated with other names until 2,000).
#
#     bench/dlp_peers.sh            # builds veilpost --release, installs the peers (pip)
#
# Outside CI: Presidio pulls spaCy (about 100 MB). Each tool reads every .eml file itself:
# start-up, parsing and scanning are in the time; Veilpost on all cores (its default),
# the peers in one Python process each (neither has a parallel mode).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import presidio_analyzer' 2>/dev/null || python3 -m pip install -q presidio-analyzer
python3 -c 'import deduce, sys; sys.exit(deduce.__version__ != "3.0.6")' 2>/dev/null \
    || python3 -m pip install -q deduce==3.0.6
cargo build --release -q -p veilpost
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/mails"
n=0
while [ "$n" -lt 2000 ]; do
    for f in tests/fixtures/corpus2/*.eml; do
        [ "$n" -ge 2000 ] && break
        cp "$f" "$work/mails/$(printf '%04d' "$n").eml"
        n=$((n + 1))
    done
done
start=$(date +%s.%N)
flagged=$(target/release/veilpost scan --format json "$work/mails" | grep -c '"verdict":"sensitive"' || true)
end=$(date +%s.%N)
printf '{"peer": "veilpost", "messages": %d, "flagged": %d, "seconds": %.2f}\n' \
    2000 "$flagged" "$(echo "$end - $start" | bc)"
python3 bench/dlp_peers.py presidio "$work/mails"
python3 bench/dlp_peers.py deduce "$work/mails"
