#!/usr/bin/env bash
# End-to-end relay benchmark: Veilpost (accept, scan, DKIM-sign, spool with fsync, deliver)
# beside Postfix from Debian relaying the same load in the same run. Load: Postfix's
# smtp-source; receiver: Postfix's smtp-sink (it keeps nothing and counts what arrives;
# bench/arrived.py watches the count). Accept latency (end of DATA to the 250) is sampled
# by bench/latency.py while the load runs.
#
#   bench/relay.sh [MESSAGES] [SESSIONS] [BODY_BYTES]     (defaults 5000 20 4000)
#
# STORE=postgres runs Veilpost on PostgreSQL (a private cluster, fsync on) with its blobs
# in an S3-compatible store (moto), as scaled out; BLOBS=dir keeps them in one directory
# the nodes share instead (moto itself takes only about 100 writes a second here, so with
# it the figure is moto's); NODES=2 (with STORE=postgres) runs two nodes on them and splits
# the load between them.
#
# Needs root (Postfix drops privileges to its own user), installs postfix if missing, and
# uses ports 127.0.0.1:26xx. ONLY=veilpost (or postfix) runs one side alone, for tuning.
# Not part of CI: run it by hand, figures go in the README.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-5000}
SESSIONS=${2:-20}
BODY=${3:-4000}
SINK_PORT=2690
VP_PORT=2691
PF_PORT=2692
WORK=$(mktemp -d /tmp/veilpost-bench.XXXXXX)
chmod 755 "$WORK"   # the postfix user must reach its data directory
STORE=${STORE:-sqlite}
NODES=${NODES:-1}
. scripts/services.sh
trap 'kill $(jobs -p) 2>/dev/null || true; postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1 || true; stop_services' EXIT

if ! command -v smtp-source >/dev/null || ! command -v postfix >/dev/null; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix
fi
# VEILPOST=path runs that binary instead (to compare two builds in turn).
if [ -z "${VEILPOST:-}" ]; then
    cargo build --release -q -p veilpost
    VEILPOST=${CARGO_TARGET_DIR:-target}/release/veilpost
fi

# The receiver counts what it accepts (`-c`: a running counter on its standard output, one
# short write a message) and keeps nothing: the count tells when everything has arrived.
# (It used to write each message to a file of its own, counted with find every 50 ms: a
# third of a core at 700 messages a second, taken from whichever relay was running.)
start_sink() { # NAME
    pkill -f "smtp-sink .*:$SINK_PORT" 2>/dev/null || true
    count="$WORK/sink-$1.count"
    smtp-sink -u nobody -c 127.0.0.1:$SINK_PORT 1000 > "$count" &
    sink_pid=$!
    sleep 0.3
}
# CPU clock ticks the Veilpost nodes used so far.
cpu_ticks() {
    local sum=0 pid
    for pid in "${vp_pids[@]:-}"; do
        [ -n "$pid" ] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo $sum
}

run() { # NAME PORT [PORT...]: the load split over the ports
    local name=$1
    shift
    local ports=("$@")
    start_sink "$name"
    python3 bench/latency.py "${ports[0]}" "$WORK/$name.latency" &
    local probe=$!
    local t0 t1 sources=()
    local cpu0
    cpu0=$(cpu_ticks)
    t0=$(date +%s.%N)
    for port in "${ports[@]}"; do
        smtp-source -s $((SESSIONS / ${#ports[@]})) -m $((N / ${#ports[@]})) -l "$BODY" \
            -M client.bench -f ann@praktijk.test -t bob@partner.test "127.0.0.1:$port" &
        sources+=($!)
    done
    wait "${sources[@]}"
    local accepted_at
    accepted_at=$(date +%s.%N)
    # Wait for every message (plus the probe's) to reach the sink.
    kill -INT $probe 2>/dev/null || true
    wait $probe 2>/dev/null || true
    local want=$(( (N / ${#ports[@]}) * ${#ports[@]} + $(cat "$WORK/$name.latency.n")))
    local got
    read -r got t1 < <(python3 bench/arrived.py "$count" "$want" 600)
    [ "$got" -ge "$want" ] || echo "$name: only $got of $want delivered after 600 s" >&2
    kill $sink_pid 2>/dev/null || true
    local secs accept_secs
    secs=$(echo "$t1 - $t0" | bc)
    accept_secs=$(echo "$accepted_at - $t0" | bc)
    if [ "$name" = veilpost ]; then
        # CPU time per message (user + system), steadier than rates on a shared machine.
        echo "veilpost  CPU $(echo "scale=2; ($(cpu_ticks) - $cpu0) * 1000 / $(getconf CLK_TCK) / $want" | bc) ms per message"
        # Every accept as the server timed it (end of DATA to the 250), from its own
        # histogram: thousands of samples where the probe has a hundred or two.
        for port in "${ports[@]}"; do
            curl -s "http://127.0.0.1:$((port + 3))/metrics" | python3 bench/accepts.py
        done
    fi
    printf '%-9s %6d msgs  accepted in %6.2f s (%7.1f/s)  delivered in %6.2f s (%7.1f/s)  accept latency %s\n' \
        "$name" "$want" "$accept_secs" "$(echo "$N / $accept_secs" | bc -l)" \
        "$secs" "$(echo "$want / $secs" | bc -l)" "$(cat "$WORK/$name.latency")"
    echo "$name $(echo "$want / $secs" | bc -l)" >> "$WORK/rates"
}

# --- Veilpost: the organisation's mail server relays through it (trusted network). ---
scaled=""
if [ "$STORE" = postgres ]; then
    start_postgres on
    start_s3
    python3 -c "import socket; s = socket.create_connection(('127.0.0.1', $s3_port)); s.sendall(b'PUT /bench HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 0\\r\\n\\r\\n'); s.recv(100)"
    "$VEILPOST" dkim keygen --domain praktijk.test --selector veilpost --out "$WORK/dkim" >/dev/null
    scaled="[store]
database_url = \"$VEILPOST_TEST_POSTGRES\"
[blobs]
$(if [ "${BLOBS:-s3}" = dir ]; then
    echo "url = \"$WORK/shared-blobs\""
else
    printf 'url = "s3://bench/veilpost"\nendpoint = "%s"\npath_style = true\n' "$VEILPOST_TEST_S3"
fi)
[dkim]
key_dir = \"$WORK/dkim\"
[portal]
master_key = \"$(head -c 32 /dev/urandom | base64)\""
fi
vp_ports=()
vp_pids=()
for n in $(seq 1 "$NODES"); do
    port=$((VP_PORT + 10 * (n - 1)))
    vp_ports+=("$port")
    mkdir -p "$WORK/vp$n"
    cat > "$WORK/vp$n/veilpost.toml" <<TOML
data_dir = "$WORK/vp$n/data"
[smtp]
submission_listen = "127.0.0.1:$port"
hostname = "gw.praktijk.test"
trusted_networks = ["127.0.0.0/8"]
max_messages_per_hour = 1000000
max_connections = 1000
[web]
listen = "127.0.0.1:$((port + 2))"
[metrics]
listen = "127.0.0.1:$((port + 3))"
[delivery]
mode = "mx"
[delivery.routes]
"*" = "127.0.0.1:$SINK_PORT"
[organisation]
name = "Bench"
domains = ["praktijk.test"]
$scaled
${EXTRA_TOML:-}
TOML
    "$VEILPOST" serve --config "$WORK/vp$n/veilpost.toml" > "$WORK/vp$n/serve.log" 2>&1 &
    vp_pids+=($!)
    until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.1; done
done

# --- Postfix: a private instance relaying everything to the sink. ---
mkdir -p "$WORK/pf/etc" "$WORK/pf/spool" "$WORK/pf/data"
chown postfix "$WORK/pf/data"
cat > "$WORK/pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $WORK/pf/spool
data_directory = $WORK/pf/data
maillog_file = $WORK/pf/maillog
maillog_file_prefixes = /tmp
meta_directory = /etc/postfix
myhostname = relay.bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject
default_process_limit = 100
smtp_destination_concurrency_limit = 20
relay_destination_concurrency_limit = 20
CF
sed -e "s/^smtp      inet  n       -       y/127.0.0.1:$PF_PORT inet n - n/" \
    -e 's/^\([a-z]* *unix *[-n] *- *\)y/\1n/' /etc/postfix/master.cf > "$WORK/pf/etc/master.cf"
postfix -c "$WORK/pf/etc" check
postfix -c "$WORK/pf/etc" start
until (exec 3<>/dev/tcp/127.0.0.1/$PF_PORT) 2>/dev/null; do sleep 0.1; done

echo "# $N messages of ~$BODY bytes over $SESSIONS sessions; Veilpost on $STORE (blobs: ${BLOBS:-default}), $NODES node(s); $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
if [ -n "${ONLY:-}" ]; then
    # Quick look at one side while tuning (no ratio).
    if [ "$ONLY" = veilpost ]; then run veilpost "${vp_ports[@]}"; else run postfix $PF_PORT; fi
    exit 0
elif [ "${FIRST:-postfix}" = veilpost ]; then
    run veilpost "${vp_ports[@]}"
    run postfix $PF_PORT
else
    run postfix $PF_PORT
    run veilpost "${vp_ports[@]}"
fi
pf=$(awk '$1=="postfix"{print $2}' "$WORK/rates")
vp=$(awk '$1=="veilpost"{print $2}' "$WORK/rates")
printf 'ratio veilpost/postfix (delivered per second): %.2f\n' "$(echo "$vp / $pf" | bc -l)"
if [ "$STORE" = postgres ]; then
    # What the database keeps per message (for sizing): rows stay for the trace and audit;
    # delivered content leaves the bucket.
    psql "$VEILPOST_TEST_POSTGRES" -Atc "SELECT 'database bytes ' || pg_database_size(current_database()),
        'messages ' || (SELECT COUNT(*) FROM messages), 'recipients ' || (SELECT COUNT(*) FROM recipients),
        'audit entries ' || (SELECT COUNT(*) FROM audit)"
fi
