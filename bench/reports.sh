#!/usr/bin/env bash
# `veilpost report import` against parsedmarc on the same N reports (default 10,000):
# both read every file; Veilpost also stores every row in SQLite, parsedmarc (offline, no
# DNS) only parses. Prints both times and the ratio.
#
#     bench/reports.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/reports_corpus.py "$work/corpus" "$n"
cargo build --release -q -p veilpost
printf 'data_dir = "%s/data"\n[organisation]\ndomains = ["praktijk.test"]\n' "$work" > "$work/veilpost.toml"
start=$(date +%s.%N)
./target/release/veilpost report import --config "$work/veilpost.toml" --format json "$work/corpus" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("veilpost: counted", r["counted"], "aside", r["aside"])'
ours=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
theirs=$(python3 crates/veilpost/tests/cli/parsedmarc_peer.py "$work/corpus" --time-only \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
echo "files: $n"
echo "veilpost report import (parse + store): ${ours}s"
echo "parsedmarc 11.1.0 (parse only, offline): ${theirs}s"
python3 -c "print(f\"ratio: {$theirs / $ours:.1f}x\")"
