#!/usr/bin/env bash
# Channel publish → deliver, side by side in one run: one publisher, SUBS subscriber processes
# (bench/src/bin/channel_bench.rs), against
#   builtin    our ChannelServer (examples/channel_server, through its CLI) with our client
#   redis      our client on the Redis backend
#   raw-redis  the redis crate directly (pipelined PUBLISH / SUBSCRIBE), the same payload bytes
#   php        PHP's Channel\Server run by PHP Workerman, with our client (only when
#              CHANNEL_PHP_SRC and WORKERMAN_PHP_SRC point at local checkouts, plus
#              COROUTINE_PHP_SRC for Workerman >= 5.1; nothing is downloaded or shipped)
# in ROUNDS interleaved rounds (the order rotates each round). Per run: delivered events/s, p50
# and p99 latency (worst subscriber), server CPU per delivered event (utime+stime from
# /proc/<pid>/stat of the server's processes: our master + worker, PHP's master + worker, or
# redis-server), client CPU per delivered event (publisher + subscribers, reported by
# channel_bench). Prints every run and the medians.
#
#   bench/run_channel.sh
#   ROUNDS=3 COUNT=100000 SUBS=4 REDIS_URL=redis://127.0.0.1:6379/0 bench/run_channel.sh
#   CHANNEL_PHP_SRC=~/src/channel WORKERMAN_PHP_SRC=~/src/workerman COROUTINE_PHP_SRC=~/src/coroutine \
#     bench/run_channel.sh
#
# Ports: ours RS_PORT (2226), PHP's PHP_PORT (2216) — off 2206, which the tests use.
# REDIS_PID: the redis-server to account (default: the pid Redis reports in INFO).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-100000}
SUBS=${SUBS:-4}
SIZE=${SIZE:-32}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
RS_PORT=${RS_PORT:-2226}
PHP_PORT=${PHP_PORT:-2216}
TARGETS=${TARGETS:-builtin redis raw-redis php}
# BUILD=0 runs the binaries already built.
if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -q -p bench --bin channel_bench
  cargo build --release -q -p workerman-channel --example channel_server
fi
bin=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d /tmp/channel_bench.XXXXXX)
export WORKERMAN_PID_FILE=$work/rs.pid WORKERMAN_LOG_FILE=$work/rs.log WORKERMAN_STDOUT_FILE=$work/rs.out
export CHANNEL_SERVER_ADDR=frame://127.0.0.1:$RS_PORT
cleanup() {
  trap - EXIT INT TERM
  "$bin/examples/channel_server" stop >/dev/null 2>&1 || true
  if [[ -n ${php_master:-} ]]; then
    kill -INT "$php_master" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$php_master" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
busy() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# CPU ticks of a process and its children (a Workerman master + its workers).
cpu() {
  local t=0 p
  for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
    # utime + stime: fields 14 and 15, counted after the ")" that ends the name (ours have spaces:
    # "wm channel"; counting from the line's start read other fields for them).
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
  done
  echo "$t"
}
CLK_TCK=$(getconf CLK_TCK)

targets=()
declare -A server_pids
for t in $TARGETS; do
  case $t in
    builtin)
      busy "$RS_PORT" && { echo "port $RS_PORT busy (set RS_PORT)"; exit 1; }
      "$bin/examples/channel_server" start -d >/dev/null
      wait_port "$RS_PORT"
      server_pids[builtin]=$(cat "$work/rs.pid")
      targets+=(builtin)
      ;;
    redis | raw-redis)
      hp=${REDIS_URL#redis://}; hp=${hp%%/*}
      pid=${REDIS_PID:-$(redis-cli -h "${hp%:*}" -p "${hp#*:}" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')}
      [[ -n $pid ]] || { echo "no Redis at $REDIS_URL"; exit 1; }
      server_pids[$t]=$pid
      targets+=("$t")
      ;;
    php)
      if [[ ! -f "${CHANNEL_PHP_SRC:-}/src/Server.php" || ! -f "${WORKERMAN_PHP_SRC:-}/src/Worker.php" ]] \
        || ! command -v php >/dev/null; then
        echo "php: skipped (set CHANNEL_PHP_SRC, WORKERMAN_PHP_SRC and COROUTINE_PHP_SRC; needs php-cli)"
        continue
      fi
      busy "$PHP_PORT" && { echo "port $PHP_PORT busy (set PHP_PORT)"; exit 1; }
      cat >"$work/server.php" <<PHP
<?php
spl_autoload_register(function (\$class) {
    \$map = [
        ['Workerman\\\\Coroutine\\\\', '${COROUTINE_PHP_SRC:-/nonexistent}/src/'],
        ['Workerman\\\\', '$WORKERMAN_PHP_SRC/src/'],
        ['Workerman\\\\', '${COROUTINE_PHP_SRC:-/nonexistent}/src/'],
        ['Channel\\\\', '$CHANNEL_PHP_SRC/src/'],
    ];
    foreach (\$map as [\$prefix, \$dir]) {
        if (str_starts_with(\$class, \$prefix)) {
            \$file = \$dir . str_replace('\\\\', '/', substr(\$class, strlen(\$prefix))) . '.php';
            if (is_file(\$file)) { require \$file; return; }
        }
    }
});
new Channel\Server('127.0.0.1', $PHP_PORT);
Workerman\Worker::\$pidFile = '$work/php.pid';
Workerman\Worker::\$logFile = '$work/php.log';
Workerman\Worker::\$stdoutFile = '$work/php.out';
Workerman\Worker::runAll();
PHP
      php "$work/server.php" start -d >/dev/null 2>&1
      wait_port "$PHP_PORT"
      php_master=$(cat "$work/php.pid")
      server_pids[php]=$php_master
      targets+=(php)
      ;;
    *) echo "unknown target $t"; exit 2 ;;
  esac
done
echo "server pids: $(for t in "${targets[@]}"; do printf '%s=%s ' "$t" "${server_pids[$t]}"; done)"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

results=$work/results.txt
for round in $(seq "$ROUNDS"); do
  n=${#targets[@]}
  for i in $(seq 0 $((n - 1))); do
    t=${targets[$(((i + round - 1) % n))]}
    case $t in
      builtin) args=(client "channel://127.0.0.1:$RS_PORT") ;;
      redis) args=(client "$REDIS_URL") ;;
      raw-redis) args=(raw-redis "$REDIS_URL") ;;
      php) args=(client "channel://127.0.0.1:$PHP_PORT") ;;
    esac
    before=$(cpu "${server_pids[$t]}")
    line=$("$bin/channel_bench" "${args[@]}" --subs "$SUBS" --count "$COUNT" --size "$SIZE" | grep '^RESULT')
    after=$(cpu "${server_pids[$t]}")
    delivered=$(sed -E 's/.* delivered=([0-9]+).*/\1/' <<<"$line")
    server_us=$(awk -v d="$((after - before))" -v n="$delivered" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", n ? d * 1e6 / hz / n : 0 }')
    echo "round $round $t: ${line#RESULT } server_us_per_ev=$server_us load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
  done
done
echo
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep " $1: " "$results" | sed -E "s/.* $2=([0-9.]+).*/\1/" | median; }
printf '%-10s %12s %8s %8s %14s %14s %6s\n' target events/s p50_us p99_us server_us/ev client_us/ev lost
for t in "${targets[@]}"; do
  printf '%-10s %12s %8s %8s %14s %14s %6s\n' "$t" "$(field "$t" rate)" "$(field "$t" p50_us)" \
    "$(field "$t" p99_us)" "$(field "$t" server_us_per_ev)" "$(field "$t" client_us_per_ev)" "$(field "$t" lost)"
done
rate() { field "$1" rate; }
if [[ -n ${server_pids[php]:-} && -n ${server_pids[builtin]:-} ]]; then
  awk -v a="$(rate builtin)" -v b="$(rate php)" 'BEGIN { printf "builtin / php events/s = %.2fx (target >= 3x)\n", a / b }'
fi
if [[ -n ${server_pids[redis]:-} && -n ${server_pids[raw-redis]:-} ]]; then
  awk -v a="$(rate redis)" -v b="$(rate raw-redis)" 'BEGIN { printf "redis / raw-redis events/s = %.2f (target >= 0.80)\n", a / b }'
fi
