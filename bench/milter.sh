#!/usr/bin/env bash
# Milter benchmark (issue 18, point 9): the same Postfix, the same load, asking first
# Veilpost's milter and then rspamd's (Debian package, proxy worker in milter mode, its
# default rules), one after the other in one run. Load: Postfix's smtp-source, mail for
# the organisation's domain; Postfix delivers to smtp-sink (writes nothing). Both filters
# ask the same loopback DNS server (bench/nxdns.py: every name does not exist, at once), so
# neither waits on the closed network. Accept latency (end of DATA to Postfix's 250, which
# waits for the milter) is sampled by bench/latency.py while the load runs.
#
#   bench/milter.sh [MESSAGES] [SESSIONS] [BODY_BYTES] [ROUNDS]   (defaults 3000 20 4000 2)
#
# Each round runs both filters, alternating which goes first (veilpost first in odd rounds),
# after one run of Postfix without a milter (the ceiling). The ratio compares the mean
# rates. BENCH_DIR=/dev/shm puts Postfix's queue (and Veilpost's data) in memory, so that
# a slow disk does not set the pace for both filters alike.
#
# Needs root (Postfix and rspamd drop privileges), installs postfix and rspamd if missing,
# uses ports 127.0.0.1:27xx. Not part of CI: run it by hand, figures go in the README.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-3000}
SESSIONS=${2:-20}
BODY=${3:-4000}
ROUNDS=${4:-2}
SINK_PORT=2790
PF_PORT=2792
VP_MILTER=2793
RS_MILTER=2794
DNS_PORT=2795
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/veilpost-milter.XXXXXX")
chmod 755 "$WORK"
trap 'kill $(jobs -p) 2>/dev/null || true; postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1 || true' EXIT

missing=()
command -v postfix >/dev/null || missing+=(postfix)
command -v rspamd >/dev/null || missing+=(rspamd)
if [ ${#missing[@]} -gt 0 ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
cargo build --release -q -p veilpost
VEILPOST=${CARGO_TARGET_DIR:-target}/release/veilpost

python3 bench/nxdns.py $DNS_PORT &
sleep 0.3

# --- Veilpost: the milter only (its MX listener and submission are not used here). ---
mkdir -p "$WORK/vp"
cat > "$WORK/vp/veilpost.toml" <<TOML
data_dir = "$WORK/vp/data"
[smtp]
submission_listen = "127.0.0.1:2796"
hostname = "mx.praktijk.test"
max_connections = 1000
[web]
listen = "127.0.0.1:2797"
[milter]
listen = "127.0.0.1:$VP_MILTER"
[inbound]
relay_to = "127.0.0.1:$SINK_PORT"
digest_hour = -1
[dns]
nameservers = ["127.0.0.1:$DNS_PORT"]
[organisation]
name = "Bench"
domains = ["praktijk.test"]
TOML
"$VEILPOST" serve --config "$WORK/vp/veilpost.toml" > "$WORK/vp/serve.log" 2>&1 &
until (exec 3<>/dev/tcp/127.0.0.1/$VP_MILTER) 2>/dev/null; do sleep 0.1; done

# --- rspamd: Debian's configuration, the proxy worker as a milter, our DNS server. ---
mkdir -p "$WORK/rs/local.d" "$WORK/rs/db" "$WORK/rs/run"
chown -R _rspamd "$WORK/rs/db" "$WORK/rs/run" 2>/dev/null || true
cat > "$WORK/rs/local.d/worker-proxy.inc" <<CONF
bind_socket = "127.0.0.1:$RS_MILTER";
milter = yes;
timeout = 120s;
upstream "local" { default = yes; self_scan = yes; }
count = 2;
CONF
cat > "$WORK/rs/local.d/options.inc" <<CONF
dns { nameserver = ["127.0.0.1:$DNS_PORT"]; timeout = 1s; retransmits = 1; }
CONF
cat > "$WORK/rs/local.d/logging.inc" <<CONF
type = "file"; filename = "$WORK/rs/rspamd.log"; level = "error";
CONF
cat > "$WORK/rs/local.d/worker-controller.inc" <<CONF
bind_socket = "127.0.0.1:2798";
CONF
cat > "$WORK/rs/local.d/worker-normal.inc" <<CONF
bind_socket = "127.0.0.1:2799";
CONF
rspamd -f -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf \
    --var LOCAL_CONFDIR="$WORK/rs" --var DBDIR="$WORK/rs/db" --var RUNDIR="$WORK/rs/run" \
    > "$WORK/rs/stdout.log" 2>&1 &
for _ in $(seq 1 300); do
    (exec 3<>/dev/tcp/127.0.0.1/$RS_MILTER) 2>/dev/null && break
    sleep 0.1
done
# rspamd listens before it has compiled its rules: wait until its processes are idle, so
# that neither run shares the cores with that.
cpu() { ps -C rspamd -o times= | awk '{s+=$1} END {print s+0}'; }
before=-1
until [ "$(cpu)" = "$before" ]; do before=$(cpu); sleep 3; done

# --- Postfix: mail for praktijk.test to the sink, asking MILTER first. ---
mkdir -p "$WORK/pf/etc" "$WORK/pf/spool" "$WORK/pf/data"
chown postfix "$WORK/pf/data"
write_postfix() { # MILTER_PORT
    cat > "$WORK/pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $WORK/pf/spool
data_directory = $WORK/pf/data
maillog_file = $WORK/pf/maillog
maillog_file_prefixes = ${BENCH_DIR:-/tmp}
meta_directory = /etc/postfix
myhostname = mail.praktijk.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = praktijk.test
transport_maps = inline:{ praktijk.test=smtp:[127.0.0.1]:$SINK_PORT }
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
default_process_limit = 100
smtp_destination_concurrency_limit = 20
milter_protocol = 6
milter_default_action = tempfail
smtpd_milters = ${1:+inet:127.0.0.1:$1}
CF
}
write_postfix $VP_MILTER
sed -e "s/^smtp      inet  n       -       y/127.0.0.1:$PF_PORT inet n - n/" \
    -e 's/^\([a-z]* *unix *[-n] *- *\)y/\1n/' /etc/postfix/master.cf > "$WORK/pf/etc/master.cf"
postfix -c "$WORK/pf/etc" check
postfix -c "$WORK/pf/etc" start
until (exec 3<>/dev/tcp/127.0.0.1/$PF_PORT) 2>/dev/null; do sleep 0.1; done

start_sink() { # NAME
    pkill -f "smtp-sink .*:$SINK_PORT" 2>/dev/null || true
    dump="$WORK/dump-$1"
    mkdir -p "$dump" && chown nobody "$dump"
    smtp-sink -u nobody -d "$dump/" 127.0.0.1:$SINK_PORT 1000 &
    sink_pid=$!
    sleep 0.3
}
delivered() { find "$dump" -type f | wc -l; }

run() { # NAME [MILTER_PORT]
    local name=$1
    write_postfix "${2:-}"
    postfix -c "$WORK/pf/etc" reload >/dev/null 2>&1
    sleep 1
    start_sink "$name"
    python3 bench/latency.py "$PF_PORT" "$WORK/$name.latency" bob@praktijk.test facturen@leverancier.test &
    local probe=$!
    local t0 accepted_at t1
    t0=$(date +%s.%N)
    smtp-source -s "$SESSIONS" -m "$N" -l "$BODY" -M client.bench \
        -f facturen@leverancier.test -t bob@praktijk.test "127.0.0.1:$PF_PORT"
    accepted_at=$(date +%s.%N)
    kill -INT $probe 2>/dev/null || true
    wait $probe 2>/dev/null || true
    local want=$((N + $(cat "$WORK/$name.latency.n")))
    until [ "$(delivered)" -ge "$want" ]; do
        sleep 0.05
        if (( $(echo "$(date +%s.%N) - $t0 > 900" | bc) )); then
            echo "$name: only $(delivered) of $want delivered after 900 s" >&2
            break
        fi
    done
    t1=$(date +%s.%N)
    kill $sink_pid 2>/dev/null || true
    local accept_secs secs
    accept_secs=$(echo "$accepted_at - $t0" | bc)
    secs=$(echo "$t1 - $t0" | bc)
    printf '%-9s %6d msgs  accepted in %6.2f s (%7.1f/s)  delivered in %6.2f s (%7.1f/s)  accept latency %s\n' \
        "$name" "$want" "$accept_secs" "$(echo "$N / $accept_secs" | bc -l)" \
        "$secs" "$(echo "$want / $secs" | bc -l)" "$(cat "$WORK/$name.latency")"
    echo "$name $(echo "$N / $accept_secs" | bc -l)" >> "$WORK/rates"
}

echo "# $N messages of ~$BODY bytes over $SESSIONS sessions through Postfix $(postconf -c "$WORK/pf/etc" -h mail_version); rspamd $(rspamd --version | head -1 | awk '{print $NF}'); $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
run postfix-alone
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
        run veilpost $VP_MILTER
        run rspamd $RS_MILTER
    else
        run rspamd $RS_MILTER
        run veilpost $VP_MILTER
    fi
done
vp=$(awk '$1=="veilpost"{s+=$2; n++} END {print s/n}' "$WORK/rates")
rs=$(awk '$1=="rspamd"{s+=$2; n++} END {print s/n}' "$WORK/rates")
printf 'ratio veilpost/rspamd (mean accepted per second through Postfix): %.2f\n' "$(echo "$vp / $rs" | bc -l)"
grep -c "warning:.*milter" "$WORK/pf/maillog" | xargs printf 'postfix warnings naming a milter (errors, timeouts): %s\n' || true
