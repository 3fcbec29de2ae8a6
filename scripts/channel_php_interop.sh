#!/usr/bin/env bash
# Channel wire interop with the PHP originals, both ways:
#   1. PHP's Channel\Client (inside a PHP Workerman worker) against our ChannelServer: on/publish,
#      watch/enqueue, an event with array data published by PHP and by our channel_publish;
#   2. our client (channel_publish / channel_watch) against PHP's Channel\Server.
# Needs php-cli and the PHP sources, which this repository never ships or downloads (opt-in, not
# run by CI):
#   CHANNEL_PHP_SRC    = a checkout of walkor/channel (its src/ holds Client.php, Server.php)
#   WORKERMAN_PHP_SRC  = a checkout of walkor/workerman 5.x (its src/ holds Worker.php)
#   COROUTINE_PHP_SRC  = a checkout of workerman/coroutine (github.com/workerman-php/coroutine;
#                        its src/ holds Coroutine.php): Workerman >= 5.1 requires it. Optional
#                        for Workerman 4.x.
# Prints "skipped: ..." and exits 0 when a source is missing. Ports: ours CHANNEL_RS_PORT (2206
# by default), PHP's CHANNEL_PHP_PORT (2216). Everything started is stopped on exit, also when the
# script is interrupted or killed by `timeout` (SIGTERM), and the whole run is bounded by
# INTEROP_TIMEOUT seconds (120).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v php >/dev/null || [[ ! -f "${CHANNEL_PHP_SRC:-}/src/Client.php" ]] \
  || [[ ! -f "${WORKERMAN_PHP_SRC:-}/src/Worker.php" ]]; then
  echo "skipped: needs php, CHANNEL_PHP_SRC and WORKERMAN_PHP_SRC"
  exit 0
fi
if grep -q 'Workerman\\Coroutine' "$WORKERMAN_PHP_SRC/src/Worker.php" \
  && [[ ! -f "${COROUTINE_PHP_SRC:-}/src/Coroutine.php" ]]; then
  echo "skipped: this Workerman needs workerman/coroutine; set COROUTINE_PHP_SRC"
  exit 0
fi
RS_PORT=${CHANNEL_RS_PORT:-2206}
PHP_PORT=${CHANNEL_PHP_PORT:-2216}
# BUILD=0 uses the examples already built (in BIN_DIR, default target/release/examples).
if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -q -p workerman-channel --example channel_server --example channel_publish \
    --example channel_watch
fi
bin=${BIN_DIR:-target/release/examples}
work=$(mktemp -d)
export WORKERMAN_PID_FILE=$work/rs.pid WORKERMAN_LOG_FILE=$work/rs.log WORKERMAN_STDOUT_FILE=$work/rs.out
export CHANNEL_SERVER_ADDR=frame://127.0.0.1:$RS_PORT
pids=()
cleanup() {
  trap - EXIT INT TERM HUP
  "$bin/channel_server" stop >/dev/null 2>&1 || true
  for f in "$work"/php_*.pid; do
    [[ -f $f ]] && kill -INT "$(cat "$f")" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # PHP masters stop their workers within a second; then make sure nothing is left.
  sleep 1
  for f in "$work"/php_*.pid; do
    [[ -f $f ]] || continue
    pkill -KILL -P "$(cat "$f")" 2>/dev/null || true
    kill -KILL "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
# Without these, bash dies on SIGTERM/SIGINT without running the EXIT trap.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# A watchdog: the whole run is bounded.
(
  trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  sleep "${INTEROP_TIMEOUT:-120}" &
  sp=$!
  wait "$sp"
  echo "FAIL: timed out after ${INTEROP_TIMEOUT:-120} s"
  kill -TERM $$
) &
pids+=($!)

cat >"$work/autoload.php" <<PHP
<?php
// PSR-4 by hand for the three source trees (no composer: nothing is downloaded).
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
PHP

# A PHP worker that subscribes to `news`, watches `jobs`, publishes and enqueues itself, and
# waits for one event from us (`from-rust`); prints what it got, then stops its master (a
# worker's Worker::stopAll() only ends the worker, which its master would restart).
cat >"$work/client.php" <<'PHP'
<?php
require __DIR__ . '/autoload.php';
use Workerman\Worker;
use Workerman\Timer;
$port = (int)getenv('CH_PORT');
$w = new Worker();
$w->onWorkerStart = function () use ($port) {
    Channel\Client::connect('127.0.0.1', $port);
    $got = [];
    $finish = function (array $lines) {
        echo implode("\n", $lines), "\n";
        posix_kill(posix_getppid(), SIGINT);
    };
    $done = function () use (&$got, $finish) {
        if (count($got) == 3) { $finish($got); }
    };
    Channel\Client::on('news', function ($data) use (&$got, $done) {
        $got[] = 'event ' . json_encode($data); $done();
    });
    Channel\Client::on('from-rust', function ($data) use (&$got, $done) {
        $got[] = 'from-rust ' . json_encode($data); $done();
    });
    Channel\Client::watch('jobs', function ($data) use (&$got, $done) {
        $got[] = 'queue ' . json_encode($data); $done();
    });
    Timer::add(0.3, function () {
        Channel\Client::publish('news', ['id' => 7, 'tags' => ['a', 'b'], 'price' => 9.99]);
        Channel\Client::enqueue('jobs', 'j1');
        file_put_contents(getenv('CH_READY'), "1");
    }, [], false);
    Timer::add(20, function () use (&$got, $finish) { $got[] = 'timeout'; $finish($got); }, [], false);
};
Worker::$pidFile = getenv('CH_WORK') . '/php_client_' . $port . '.pid';
Worker::$logFile = getenv('CH_WORK') . '/php_client.log';
Worker::runAll();
PHP

cat >"$work/server.php" <<'PHP'
<?php
require __DIR__ . '/autoload.php';
use Workerman\Worker;
new Channel\Server('127.0.0.1', (int)getenv('CH_PORT'));
Worker::$pidFile = getenv('CH_WORK') . '/php_server.pid';
Worker::$logFile = getenv('CH_WORK') . '/php_server.log';
Worker::runAll();
PHP

passed=0
expect_eq() {
  if [[ "$1" != "$2" ]]; then
    echo "FAIL $3: got [$1], want [$2]"
    exit 1
  fi
  echo "ok   $3"
  passed=$((passed + 1))
}
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
port_free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$RS_PORT" "$PHP_PORT"; do
  port_free "$p" || { echo "FAIL: port $p is busy (set CHANNEL_RS_PORT / CHANNEL_PHP_PORT)"; exit 1; }
done

run_php_client() { # $1 = port; publishes `from-rust` from our CLI once the PHP side is ready
  local ready=$work/ready.$1
  rm -f "$ready"
  CH_PORT=$1 CH_READY=$ready CH_WORK=$work php "$work/client.php" start >"$work/client.$1.out" 2>&1 &
  local php_pid=$!
  pids+=("$php_pid")
  for _ in $(seq 100); do [[ -f $ready ]] && break; sleep 0.1; done
  "$bin/channel_publish" from-rust 'hi from rust' "channel://127.0.0.1:$1" >/dev/null
  wait "$php_pid" || true
  grep -E '^(event |queue |from-rust |timeout$)' "$work/client.$1.out" | sort
}

want=$'event {"id":7,"tags":["a","b"],"price":9.99}\nfrom-rust "hi from rust"\nqueue "j1"'

echo "== 1. PHP Channel\\Client against our ChannelServer ($RS_PORT)"
"$bin/channel_server" start -d >/dev/null
wait_port "$RS_PORT"
expect_eq "$(run_php_client "$RS_PORT")" "$want" "PHP client: on/publish, watch/enqueue, event from our CLI"

echo "== 2. our client against PHP's Channel\\Server ($PHP_PORT)"
CH_PORT=$PHP_PORT CH_WORK=$work php "$work/server.php" start -d >/dev/null 2>&1
wait_port "$PHP_PORT"
expect_eq "$(run_php_client "$PHP_PORT")" "$want" "PHP client against the PHP server (baseline)"
"$bin/channel_watch" jobs "channel://127.0.0.1:$PHP_PORT" >"$work/watch.out" &
pids+=($!)
"$bin/channel_publish" enqueue:jobs 'rust job' "channel://127.0.0.1:$PHP_PORT" >/dev/null
for _ in $(seq 100); do grep -q 'rust job' "$work/watch.out" && break; sleep 0.1; done
expect_eq "$(head -1 "$work/watch.out")" "rust job" "our watch + enqueue through the PHP server"
"$bin/channel_watch" event:news "channel://127.0.0.1:$PHP_PORT" >"$work/events.out" &
pids+=($!)
for i in $(seq 50); do
  "$bin/channel_publish" news "rust event $i" "channel://127.0.0.1:$PHP_PORT" >/dev/null
  grep -q 'rust event' "$work/events.out" && break
  sleep 0.1
done
expect_eq "$(head -1 "$work/events.out" | cut -d' ' -f1-2)" "rust event" "our on + publish through the PHP server"
echo "$passed passed, 0 failed"
