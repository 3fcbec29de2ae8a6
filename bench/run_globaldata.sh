#!/usr/bin/env bash
# GlobalData increments/s, side by side in one run:
#   globaldata        our GlobalDataServer (global_data_server example, one worker process)
#   globaldata_redis  our client on the Redis backend (one Lua script per increment)
#   redis_incr        raw Redis INCR (the redis crate, one multiplexed connection): the reference
#   globaldata_php    PHP's GlobalData\Server run by PHP Workerman, with our client (only when
#                     GLOBALDATA_PHP_SRC and WORKERMAN_PHP_SRC point at local checkouts, plus
#                     COROUTINE_PHP_SRC for Workerman >= 5.1; nothing is downloaded or shipped)
# One load process (bench/src/bin/gd_load.rs): CONNS concurrent loops, each awaiting one
# increment at a time (the client pipelines them on one connection). ROUNDS rounds, the order
# rotating each round; medians. Server CPU per op from /proc/<pid>/stat (utime+stime) of the
# server's processes (master + worker, or redis-server).
#
#   bench/run_globaldata.sh                 # ROUNDS=3 DURATION=5 CONNS=50
#   REDIS_URL=redis://127.0.0.1:6379/0 GD_PORT=2227 bench/run_globaldata.sh
#
# Ports: ours GD_PORT (2227), PHP's GD_PHP_PORT (2228) — off 2207, which the tests use.
# REDIS_PID: the redis-server to account (default: the pid Redis reports in INFO).
set -euo pipefail
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
GD_PORT=${GD_PORT:-2227}
GD_PHP_PORT=${GD_PHP_PORT:-2228}

cd "$(dirname "$0")/.."
# BUILD=0 runs the binaries already built.
if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -q -p bench --bin gd_load -p workerman-global-data --example global_data_server
fi
BIN=${CARGO_TARGET_DIR:-target}/release
DIR=$(mktemp -d /tmp/gd_bench.XXXXXX)
export WORKERMAN_PID_FILE=$DIR/gd.pid WORKERMAN_LOG_FILE=$DIR/gd.log GLOBAL_DATA_ADDR=127.0.0.1:$GD_PORT
cleanup() {
  trap - EXIT INT TERM
  "$BIN/examples/global_data_server" stop >/dev/null 2>&1 || true
  if [[ -n ${PHP_MASTER:-} ]]; then
    kill -INT "$PHP_MASTER" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$PHP_MASTER" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
busy() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 100); do busy "$1" && return 0; sleep 0.1; done; return 1; }
busy "$GD_PORT" && { echo "port $GD_PORT busy (set GD_PORT)"; exit 1; }
"$BIN/examples/global_data_server" start -d >/dev/null
wait_port "$GD_PORT"
hp=${REDIS_URL#redis://}; hp=${hp%%/*}
REDIS_PID=${REDIS_PID:-$(redis-cli -h "${hp%:*}" -p "${hp#*:}" info server | tr -d '\r' | sed -n 's/^process_id://p')}
CLK_TCK=$(getconf CLK_TCK)
# CPU ticks of processes and their children.
cpu() {
  local t=0 p
  for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
    # utime + stime: fields 14 and 15, counted after the ")" that ends the name (ours have spaces:
    # "wm channel"; counting from the line's start read other fields for them).
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
  done
  echo "$t"
}
declare -A pid url mode
targets=(globaldata redis_incr globaldata_redis)
pid[globaldata]=$(cat "$DIR/gd.pid") url[globaldata]=globaldata://127.0.0.1:$GD_PORT mode[globaldata]=gd
pid[redis_incr]=$REDIS_PID url[redis_incr]=$REDIS_URL mode[redis_incr]=incr
pid[globaldata_redis]=$REDIS_PID url[globaldata_redis]=$REDIS_URL mode[globaldata_redis]=gd
if [[ -f "${GLOBALDATA_PHP_SRC:-}/src/Server.php" && -f "${WORKERMAN_PHP_SRC:-}/src/Worker.php" ]] \
  && command -v php >/dev/null; then
  busy "$GD_PHP_PORT" && { echo "port $GD_PHP_PORT busy (set GD_PHP_PORT)"; exit 1; }
  cat >"$DIR/server.php" <<PHP
<?php
spl_autoload_register(function (\$class) {
    \$map = [
        ['Workerman\\\\Coroutine\\\\', '${COROUTINE_PHP_SRC:-/nonexistent}/src/'],
        ['Workerman\\\\', '$WORKERMAN_PHP_SRC/src/'],
        ['Workerman\\\\', '${COROUTINE_PHP_SRC:-/nonexistent}/src/'],
        ['GlobalData\\\\', '$GLOBALDATA_PHP_SRC/src/'],
    ];
    foreach (\$map as [\$prefix, \$dir]) {
        if (str_starts_with(\$class, \$prefix)) {
            \$file = \$dir . str_replace('\\\\', '/', substr(\$class, strlen(\$prefix))) . '.php';
            if (is_file(\$file)) { require \$file; return; }
        }
    }
});
new GlobalData\Server('127.0.0.1', $GD_PHP_PORT);
Workerman\Worker::\$pidFile = '$DIR/php.pid';
Workerman\Worker::\$logFile = '$DIR/php.log';
Workerman\Worker::\$stdoutFile = '$DIR/php.out';
Workerman\Worker::runAll();
PHP
  php "$DIR/server.php" start -d >/dev/null 2>&1
  wait_port "$GD_PHP_PORT"
  PHP_MASTER=$(cat "$DIR/php.pid")
  pid[globaldata_php]=$PHP_MASTER url[globaldata_php]=globaldata://127.0.0.1:$GD_PHP_PORT mode[globaldata_php]=gd
  targets+=(globaldata_php)
else
  echo "php: skipped (set GLOBALDATA_PHP_SRC, WORKERMAN_PHP_SRC and COROUTINE_PHP_SRC; needs php-cli)"
fi
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

for r in $(seq "$ROUNDS"); do
  n=${#targets[@]}
  for i in $(seq 0 $((n - 1))); do
    t=${targets[$(((i + r - 1) % n))]}
    before=$(cpu "${pid[$t]}")
    line=$("$BIN/gd_load" "${mode[$t]}" "${url[$t]}" "$CONNS" "$DURATION")
    after=$(cpu "${pid[$t]}")
    ops=$(sed 's/.* ops=\([0-9]*\).*/\1/' <<<"$line")
    us=$(awk -v d="$((after - before))" -v n="$ops" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", n ? d * 1e6 / hz / n : 0 }')
    echo "round $r $t: $line server_cpu_us_per_op=$us load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done | tee "$DIR/results.txt"
echo
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep " $1: " "$DIR/results.txt" | sed -E "s/.* $2=([0-9.]+).*/\1/" | median; }
printf '%-18s %10s %16s %16s\n' target ops/s server_us/op client_cpu_ms
for t in "${targets[@]}"; do
  printf '%-18s %10s %16s %16s\n' "$t" "$(field "$t" ops_per_s)" "$(field "$t" server_cpu_us_per_op)" "$(field "$t" client_cpu_ms)"
done
