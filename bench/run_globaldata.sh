#!/usr/bin/env bash
# GlobalData increments/s: the built-in GlobalData server (global_data_server example, one
# worker process), GlobalData on the Redis backend (Lua script per increment), and raw Redis INCR
# as the reference. One load process (bench/src/bin/gd_load.rs), CONNS concurrent request loops
# on one connection (the client pipelines), rounds interleaved, median of ROUNDS reported.
# Server CPU per op from /proc/<pid>/stat (utime+stime) of the GlobalData worker process or of
# redis-server.
#
#   bench/run_globaldata.sh                 # ROUNDS=3 DURATION=5 CONNS=50
#   REDIS_URL=redis://127.0.0.1:6379/0 GD_PORT=2207 bench/run_globaldata.sh
#
# Needs a Redis at REDIS_URL (its pid found with pgrep -o redis-server unless REDIS_PID is set).
set -euo pipefail
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
GD_PORT=${GD_PORT:-2207}

cd "$(dirname "$0")/.."
echo "== building"
cargo build --release -p bench --bin gd_load -p workerman-global-data --example global_data_server
BIN=${CARGO_TARGET_DIR:-target}/release
DIR=$(mktemp -d /tmp/gd_bench.XXXXXX)
export WORKERMAN_PID_FILE=$DIR/gd.pid WORKERMAN_LOG_FILE=$DIR/gd.log GLOBAL_DATA_ADDR=127.0.0.1:$GD_PORT
"$BIN/examples/global_data_server" start -d >/dev/null
trap '"$BIN/examples/global_data_server" stop >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do [[ -s $DIR/gd.pid ]] && pgrep -P "$(cat "$DIR/gd.pid")" >/dev/null && break; sleep 0.1; done
GD_WORKER=$(pgrep -P "$(cat "$DIR/gd.pid")")
REDIS_PID=${REDIS_PID:-$(pgrep -o redis-server)}
CLK_TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }

run() { # name mode url server_pid
    local before after line ops
    before=$(cpu "$4")
    line=$("$BIN/gd_load" "$2" "$3" "$CONNS" "$DURATION")
    after=$(cpu "$4")
    ops=$(sed 's/.* ops=\([0-9]*\).*/\1/' <<<"$line")
    echo "$1 $line server_cpu_us_per_op=$(( (after - before) * 1000000 / CLK_TCK / (ops > 0 ? ops : 1) ))"
}

for r in $(seq "$ROUNDS"); do
    echo "== round $r"
    run globaldata gd "globaldata://127.0.0.1:$GD_PORT" "$GD_WORKER"
    run redis_incr incr "$REDIS_URL" "$REDIS_PID"
    run globaldata_redis gd "$REDIS_URL" "$REDIS_PID"
done | tee "$DIR/results.txt"
echo "== medians (ops/s, server CPU µs/op)"
for name in globaldata redis_incr globaldata_redis; do
    ops=$(grep "^$name " "$DIR/results.txt" | sed 's/.*ops_per_s=\([0-9]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    cpu=$(grep "^$name " "$DIR/results.txt" | sed 's/.*server_cpu_us_per_op=\([0-9]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$name ops_per_s=$ops server_cpu_us_per_op=$cpu"
done
