#!/usr/bin/env bash
# Broadcast to a WebSocket room, side by side in one run: server CPU per delivered message.
#
#   workerman          bench/src/bin/wm_ws_room.rs: Worker::broadcast (encoded once, bytes shared,
#                      one write per recipient per loop tick), one worker process, via its CLI
#   tokio-tungstenite  bench/src/bin/tokio_ws_room.rs: one-thread runtime, one shared Message on a
#                      tokio broadcast channel, each connection feeds all it has, then flushes
#   workerman-php      Workerman (PHP) from a local checkout: WORKERMAN_PHP_SRC=/path/to/workerman
#                      (its src/Worker.php); php-cli with pcntl and posix. Optional.
#
# Load: bench/src/bin/ws_room.rs opens ROOM receivers (from 127.0.0.2..5) plus a publisher that
# sends MESSAGES text messages of SIZE bytes, paced (one, then wait until all delivered) or in
# bursts of BURST (one write), and reads the server's utime+stime (/proc/PID/stat) just before
# the first message and after the last delivery.
#
# Workerman PHP without ext-event (not packaged for this Debian) runs on select(), which stops
# at 1024 descriptors: PHP joins only the second part, a room of ROOM_PHP (1000) receivers; the
# first part is a room of ROOM (10000) for the two others.
#
#   bench/run_ws_room.sh
#   WORKERMAN_PHP_SRC=/tmp/workerman ROUNDS=3 bench/run_ws_room.sh
#
# Settings (environment): ROUNDS (3), ROOM (10000), ROOM_PHP (1000), MESSAGES (100: paced),
# BURST_MESSAGES (1000: in bursts; a burst run of 100 messages lasts ~0.5 s, 50 clock ticks, too
# coarse to compare servers within 10 %), BURST (20),
# SIZE (32), WM_PORT (2472), TT_PORT (2473), PHP_PORT (2474), PIN (1 with taskset and 2+ CPUs).
# Everything it starts is stopped on exit.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
ROOM=${ROOM:-10000}
ROOM_PHP=${ROOM_PHP:-1000}
MESSAGES=${MESSAGES:-100}
BURST_MESSAGES=${BURST_MESSAGES:-1000}
BURST=${BURST:-20}
SIZE=${SIZE:-32}
WM_PORT=${WM_PORT:-2472}
TT_PORT=${TT_PORT:-2473}
PHP_PORT=${PHP_PORT:-2474}
HOST=127.0.0.1
if [[ -z ${PIN:-} ]]; then
    if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then PIN=1; else PIN=0; fi
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < ROOM + 100)); then echo "open file limit $(ulimit -n) is below ROOM + 100" >&2; exit 1; fi

cd "$(dirname "$0")/.."
echo "== building"
cargo build --release -p bench --bin wm_ws_room --bin tokio_ws_room --bin ws_room
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d /tmp/ws_room.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/wm.pid WORKERMAN_LOG_FILE=$WORK/wm.log WORKERMAN_STDOUT_FILE=$WORK/wm.out
HZ=$(getconf CLK_TCK)
SERVER_CPU=() LOAD_CPU=()
if [[ $PIN == 1 ]]; then SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1); fi

TT_PID= WM_STARTED= PHP_STARTED=
cleanup() {
    set +e
    [[ -n $TT_PID ]] && kill "$TT_PID" 2>/dev/null && wait "$TT_PID" 2>/dev/null
    [[ -n $WM_STARTED ]] && WM_WS_ROOM_ADDR=$HOST:$WM_PORT timeout 10 "$BIN/wm_ws_room" stop >/dev/null
    [[ -n $PHP_STARTED ]] && timeout 10 php "$WORK/room.php" stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
wait_port() {
    local i
    for ((i = 0; i < 200; i++)); do port_open "$1" && return 0; sleep 0.05; done
    echo "port $1 did not open" >&2
    return 1
}
children() { # the pid file's master and its children
    local m i c
    for ((i = 0; i < 200; i++)); do [[ -s $1 ]] && break; sleep 0.05; done
    m=$(cat "$1")
    for ((i = 0; i < 200; i++)); do c=$(pgrep -P "$m" | tr '\n' ' ') && [[ -n $c ]] && break; sleep 0.05; done
    echo "$m $c"
}
for port in "$WM_PORT" "$TT_PORT" "$PHP_PORT"; do
    if port_open "$port"; then echo "port $port is busy" >&2; exit 1; fi
done

echo "== starting servers"
"${SERVER_CPU[@]}" "$BIN/tokio_ws_room" "$HOST:$TT_PORT" >"$WORK/tt.log" 2>&1 &
TT_PID=$!
WM_WS_ROOM_ADDR=$HOST:$WM_PORT "${SERVER_CPU[@]}" "$BIN/wm_ws_room" start -d >"$WORK/wm.start" 2>&1
WM_STARTED=1
wait_port "$TT_PORT"
wait_port "$WM_PORT"
declare -A PIDS PORTS
PIDS[tokio-tungstenite]=$TT_PID PORTS[tokio-tungstenite]=$TT_PORT
PIDS[workerman]=$(children "$WORKERMAN_PID_FILE") PORTS[workerman]=$WM_PORT
NAMES_PHP="workerman tokio-tungstenite"
if [[ -f "${WORKERMAN_PHP_SRC:-}/src/Worker.php" ]] && command -v php >/dev/null; then
    cat >"$WORK/room.php" <<PHP
<?php
// A room: every text message is sent to every connection of the worker (Workerman's own
// broadcast idiom: a send per connection).
spl_autoload_register(function (\$c) {
    \$p = 'Workerman\\\\';
    if (str_starts_with(\$c, \$p) && is_file(\$f = '$WORKERMAN_PHP_SRC/src/' . str_replace('\\\\', '/', substr(\$c, strlen(\$p))) . '.php')) { require \$f; }
});
use Workerman\Worker;
Worker::\$pidFile = '$WORK/php.pid';
Worker::\$logFile = '$WORK/php.log';
Worker::\$stdoutFile = '$WORK/php.out';
\$w = new Worker('websocket://$HOST:$PHP_PORT');
\$w->count = 1;
\$w->onMessage = function (\$conn, \$data) use (\$w) {
    foreach (\$w->connections as \$c) { \$c->send(\$data); }
};
Worker::runAll();
PHP
    "${SERVER_CPU[@]}" php "$WORK/room.php" start -d >"$WORK/php.start" 2>&1
    PHP_STARTED=1
    wait_port "$PHP_PORT"
    PIDS[workerman-php]=$(children "$WORK/php.pid") PORTS[workerman-php]=$PHP_PORT
    NAMES_PHP="workerman tokio-tungstenite workerman-php"
    php -r 'echo "php ", PHP_VERSION, "\n";'
    echo "Workerman PHP: $(sed -n "s/.*const VERSION = '\([^']*\)'.*/\1/p" "$WORKERMAN_PHP_SRC/src/Worker.php") (event loop: $(php -m | grep -qx event && echo Event || echo Select))"
else
    echo "workerman-php: skipped (set WORKERMAN_PHP_SRC to a checkout of walkor/workerman)"
fi
echo "pids: workerman ${PIDS[workerman]}, tokio-tungstenite $TT_PID${PIDS[workerman-php]:+, workerman-php ${PIDS[workerman-php]}}"

declare -A RES
run() { # part name room burst round
    local part=$1 n=$2 room=$3 burst=$4 r=$5 out us msgs=$MESSAGES
    ((burst > 1)) && msgs=$BURST_MESSAGES
    local pids
    pids=$(tr ' ' ',' <<<"${PIDS[$n]}")
    out=$("${LOAD_CPU[@]}" "$BIN/ws_room" room --addr "$HOST:${PORTS[$n]}" --conns "$room" --sources 4 \
        --messages "$msgs" --burst "$burst" --size "$SIZE" --pids "${pids%,}" --hz "$HZ") || {
        echo "$out" >&2
        echo "ws_room failed against $n" >&2
        exit 1
    }
    us=$(sed -n 's/.*us_per_msg=\([0-9.]*\).*/\1/p' <<<"$out")
    printf "  %-6s round %d  burst %-3d %-18s %s\n" "$part" "$r" "$burst" "$n" "$(grep RESULT <<<"$out" | cut -d' ' -f2-)"
    RES["$part $burst $n"]+="$us "
    sleep 1 # let the server drop the closed connections
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for part in "room=$ROOM" "room=$ROOM_PHP"; do
    room=${part#room=}
    names="workerman tokio-tungstenite"
    [[ $room == "$ROOM_PHP" ]] && names=$NAMES_PHP
    echo "== $part: $ROUNDS rounds, messages of $SIZE bytes: $MESSAGES paced, $BURST_MESSAGES in bursts of $BURST; pin=$PIN"
    for ((r = 1; r <= ROUNDS; r++)); do
        # Interleaved; the order rotates each round.
        set -- $names
        k=$(((r - 1) % $#))
        order="${*:k+1} ${*:1:k}"
        for n in $order; do
            run "$part" "$n" "$room" 1 "$r"
            run "$part" "$n" "$room" "$BURST" "$r"
        done
    done
done

echo
echo "== median server CPU per delivered message (us, user+system), $ROUNDS rounds"
printf "%-12s %-6s %-18s %10s %10s\n" part burst server "us/msg" "vs workerman"
for key in "${!RES[@]}"; do echo "$key"; done | sort | while read -r part burst n; do
    m=$(median "${RES["$part $burst $n"]}")
    w=$(median "${RES["$part $burst workerman"]}")
    awk -v p="$part" -v b="$burst" -v n="$n" -v m="$m" -v w="$w" \
        'BEGIN { printf "%-12s %-6s %-18s %10.3f %9.2fx\n", p, b, n, m, (w > 0 ? w / m : 0) }'
done
echo "(vs workerman = workerman's CPU / this server's: below 1 means workerman uses less)"
