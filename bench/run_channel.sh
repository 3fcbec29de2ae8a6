#!/usr/bin/env bash
# Channel publish → deliver, side by side in one run: one publisher, SUBS subscriber processes
# (bench/src/bin/channel_bench.rs), against
#   builtin    our ChannelServer (examples/channel_server, through its CLI) with our client
#   redis      our client on the Redis backend
#   raw-redis  the redis crate directly (pipelined PUBLISH / SUBSCRIBE), the same payload bytes
#   php        PHP's Channel\Server (only with CHANNEL_PHP_SRC and WORKERMAN_PHP_SRC, see
#              scripts/channel_php_interop.sh; never shipped) with our client
# in ROUNDS interleaved rounds; prints each RESULT line and the median per target.
#
#   bench/run_channel.sh
#   ROUNDS=3 COUNT=100000 SUBS=4 REDIS_URL=redis://127.0.0.1:6379/0 bench/run_channel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-100000}
SUBS=${SUBS:-4}
SIZE=${SIZE:-32}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
cargo build --release -q -p bench --bin channel_bench
cargo build --release -q -p workerman-channel --example channel_server
bin=target/release
work=$(mktemp -d)
export WORKERMAN_PID_FILE=$work/rs.pid WORKERMAN_LOG_FILE=$work/rs.log WORKERMAN_STDOUT_FILE=$work/rs.out
cleanup() {
  "$bin/examples/channel_server" stop >/dev/null 2>&1 || true
  [[ -f $work/php.pid ]] && kill "$(cat "$work/php.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

"$bin/examples/channel_server" start -d >/dev/null
wait_port 2206
targets=(builtin redis raw-redis)
if [[ -f "${CHANNEL_PHP_SRC:-}/src/Server.php" && -f "${WORKERMAN_PHP_SRC:-}/src/Worker.php" ]] && command -v php >/dev/null; then
  cat >"$work/server.php" <<PHP
<?php
spl_autoload_register(function (\$c) {
    foreach (['Workerman\\\\' => '$WORKERMAN_PHP_SRC/src/', 'Channel\\\\' => '$CHANNEL_PHP_SRC/src/'] as \$p => \$d) {
        if (str_starts_with(\$c, \$p) && is_file(\$f = \$d . str_replace('\\\\', '/', substr(\$c, strlen(\$p))) . '.php')) { require \$f; }
    }
});
new Channel\Server('127.0.0.1', 2216);
Workerman\Worker::\$pidFile = '$work/php.pid';
Workerman\Worker::\$logFile = '$work/php.log';
Workerman\Worker::runAll();
PHP
  php "$work/server.php" start -d >/dev/null 2>&1
  wait_port 2216
  targets+=(php)
else
  echo "php: skipped (set CHANNEL_PHP_SRC and WORKERMAN_PHP_SRC)"
fi

declare -A rates
for round in $(seq "$ROUNDS"); do
  # Interleaved, and the order rotates each round.
  n=${#targets[@]}
  for i in $(seq 0 $((n - 1))); do
    t=${targets[$(((i + round - 1) % n))]}
    case $t in
      builtin) args=(client channel://127.0.0.1:2206) ;;
      redis) args=(client "$REDIS_URL") ;;
      raw-redis) args=(raw-redis "$REDIS_URL") ;;
      php) args=(client channel://127.0.0.1:2216) ;;
    esac
    line=$("$bin/channel_bench" "${args[@]}" --subs "$SUBS" --count "$COUNT" --size "$SIZE" | grep '^RESULT')
    echo "round $round $t: $line"
    rates[$t]+="$(sed -E 's/.* rate=([0-9]+).*/\1/' <<<"$line") "
  done
done
echo
for t in "${targets[@]}"; do
  median=$(tr ' ' '\n' <<<"${rates[$t]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "MEDIAN $t rate=$median"
done
