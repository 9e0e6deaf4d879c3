# Private services on 127.0.0.1 for the tests and benchmarks (sourced by ./test.sh and
# bench/relay.sh): a throw-away PostgreSQL cluster (Debian's postgresql: initdb in a
# temporary directory, pg_ctl) and an S3-compatible store (moto in standalone mode).
# Each start_* exports the URL the tests read and defines stop_services for an EXIT trap.
#
#   start_postgres [FSYNC]   FSYNC "off" (tests: nothing to survive) or "on" (benchmarks)
#   start_s3

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_postgres() {
    local fsync=${1:-off}
    pg_bin=$(compgen -G "/usr/lib/postgresql/*/bin" | sort -V | tail -1)
    pg_dir=$(mktemp -d /tmp/veilpost-pg.XXXXXX)
    pg_as=()
    # initdb refuses to run as root: the cluster belongs to the postgres user then.
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$pg_dir"
        pg_as=(runuser -u postgres --)
    fi
    pg_port=$(free_port)
    "${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 \
        --no-locale >/dev/null
    "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -s \
        -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=400 -c fsync=$fsync" start
    export VEILPOST_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pg_port/postgres"
}

start_s3() {
    s3_port=$(free_port)
    python3 -m moto.server -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
    s3_pid=$!
    for _ in $(seq 1 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 1)" 2>/dev/null && break
        sleep 0.2
    done
    export VEILPOST_TEST_S3="http://127.0.0.1:$s3_port"
    export AWS_ACCESS_KEY_ID=veilpost-test AWS_SECRET_ACCESS_KEY=veilpost-test
}

stop_services() {
    if [ -n "${pg_dir:-}" ]; then
        "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -s stop || true
        rm -rf "$pg_dir"
    fi
    if [ -n "${s3_pid:-}" ]; then kill "$s3_pid" 2>/dev/null || true; fi
}
