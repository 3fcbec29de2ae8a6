#!/usr/bin/env bash
# Channel wire interop with the PHP originals, both ways:
#   1. PHP's Channel\Client (inside a PHP Workerman worker) against our ChannelServer: on/publish,
#      watch/enqueue, an event with array data published by PHP and by our channel_publish;
#   2. our client (channel_publish / channel_watch) against PHP's Channel\Server.
# Needs php-cli and the PHP sources, which this repository never ships or downloads:
#   CHANNEL_PHP_SRC    = a checkout of walkor/channel (its src/ holds Client.php, Server.php)
#   WORKERMAN_PHP_SRC  = a checkout of walkor/workerman 5.x (its src/ holds Worker.php)
# Prints "skipped: ..." and exits 0 when either is missing. Ports: ours 2206, PHP's 2216.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v php >/dev/null || [[ ! -f "${CHANNEL_PHP_SRC:-}/src/Client.php" ]] \
  || [[ ! -f "${WORKERMAN_PHP_SRC:-}/src/Worker.php" ]]; then
  echo "skipped: needs php, CHANNEL_PHP_SRC and WORKERMAN_PHP_SRC"
  exit 0
fi
cargo build --release -q -p workerman-channel --examples
bin=target/release/examples
work=$(mktemp -d)
export WORKERMAN_PID_FILE=$work/rs.pid WORKERMAN_LOG_FILE=$work/rs.log WORKERMAN_STDOUT_FILE=$work/rs.out
cleanup() {
  "$bin/channel_server" stop >/dev/null 2>&1 || true
  [[ -f $work/php_server.pid ]] && kill "$(cat "$work/php_server.pid")" 2>/dev/null || true
  [[ -n ${watch_pid:-} ]] && kill "$watch_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/autoload.php" <<PHP
<?php
spl_autoload_register(function (\$class) {
    foreach (['Workerman\\\\' => '$WORKERMAN_PHP_SRC/src/', 'Channel\\\\' => '$CHANNEL_PHP_SRC/src/'] as \$prefix => \$dir) {
        if (str_starts_with(\$class, \$prefix)) {
            \$file = \$dir . str_replace('\\\\', '/', substr(\$class, strlen(\$prefix))) . '.php';
            if (is_file(\$file)) { require \$file; }
        }
    }
});
PHP

# A PHP worker that subscribes to `news`, watches `jobs`, publishes and enqueues itself, and
# waits for one event from us (`from-rust`); prints what it got, then stops.
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
    $done = function () use (&$got) {
        if (count($got) >= 3) { echo implode("\n", $got), "\n"; Worker::stopAll(); }
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
    Timer::add(20, function () { echo "timeout\n"; Worker::stopAll(); }, [], false);
};
Worker::$pidFile = getenv('CH_WORK') . '/php_client.pid';
Worker::$logFile = getenv('CH_WORK') . '/php_client.log';
Worker::runAll();
PHP

cat >"$work/server.php" <<'PHP'
<?php
require __DIR__ . '/autoload.php';
use Workerman\Worker;
new Channel\Server('127.0.0.1', 2216);
Worker::$pidFile = getenv('CH_WORK') . '/php_server.pid';
Worker::$logFile = getenv('CH_WORK') . '/php_server.log';
Worker::runAll();
PHP

expect_eq() { if [[ "$1" != "$2" ]]; then echo "FAIL $3: got [$1], want [$2]"; exit 1; fi; echo "ok   $3"; }
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

run_php_client() { # $1 = port; publishes `from-rust` from our CLI once the PHP side is ready
  local ready=$work/ready.$1
  rm -f "$ready"
  CH_PORT=$1 CH_READY=$ready CH_WORK=$work php "$work/client.php" start >"$work/client.$1.out" 2>&1 &
  local php_pid=$!
  for _ in $(seq 100); do [[ -f $ready ]] && break; sleep 0.1; done
  "$bin/channel_publish" from-rust 'hi from rust' "channel://127.0.0.1:$1"
  wait "$php_pid" || true
  grep -E '^(event|queue|from-rust|timeout)' "$work/client.$1.out" | sort
}

want=$'event {"id":7,"tags":["a","b"],"price":9.99}\nfrom-rust "hi from rust"\nqueue "j1"'

echo "== 1. PHP Channel\\Client against our ChannelServer (2206)"
"$bin/channel_server" start -d >/dev/null
wait_port 2206
expect_eq "$(run_php_client 2206)" "$want" "PHP client: on/publish, watch/enqueue, event from our CLI"

echo "== 2. our client against PHP's Channel\\Server (2216)"
CH_WORK=$work php "$work/server.php" start -d >/dev/null 2>&1
wait_port 2216
expect_eq "$(run_php_client 2216)" "$want" "PHP client against the PHP server (baseline)"
"$bin/channel_watch" jobs channel://127.0.0.1:2216 >"$work/watch.out" &
watch_pid=$!
"$bin/channel_publish" enqueue:jobs 'rust job' channel://127.0.0.1:2216
for _ in $(seq 100); do grep -q 'rust job' "$work/watch.out" && break; sleep 0.1; done
expect_eq "$(head -1 "$work/watch.out")" "rust job" "our watch + enqueue through the PHP server"
kill "$watch_pid"; watch_pid=
"$bin/channel_watch" event:news channel://127.0.0.1:2216 >"$work/events.out" &
watch_pid=$!
for i in $(seq 50); do
  "$bin/channel_publish" news "rust event $i" channel://127.0.0.1:2216
  grep -q 'rust event' "$work/events.out" && break
  sleep 0.1
done
expect_eq "$(head -1 "$work/events.out" | cut -d' ' -f1-2)" "rust event" "our on + publish through the PHP server"
echo "2 passed, 0 failed"
