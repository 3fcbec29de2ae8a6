#!/usr/bin/env bash
# The Gateway against one process, side by side in one run: a room of ROOM WebSocket clients
# that every message is broadcast to, and send_to_uid latency.
#
#   gateway     bench/src/bin/gw_room.rs: Register + 4 WebSocket gateway processes (the clients
#               spread over them by the kernel) + 4 business workers; a message goes to a
#               business worker, which calls send_to_all (one packet per gateway; each gateway
#               encodes once and writes to its clients), via its CLI
#   one-process bench/src/bin/wm_ws_room.rs: the same room inside one WebSocket worker process
#               (Worker::broadcast), via its CLI
#
# Load: bench/src/bin/ws_room.rs (room mode) opens ROOM receivers (from 127.0.0.2..5) and a
# publisher, sends MESSAGES text messages of SIZE bytes, paced (one, then wait until all ROOM+1
# connections have it) and in bursts of BURST, and reads the servers' utime+stime from
# /proc/PID/stat (for the gateway: the Register, the gateways and the business workers) just
# before the first message and after the last delivery. messages/s = deliveries / seconds.
# Then bench/src/bin/gw_uid_latency.rs: CLIENTS clients bind a uid each; a GatewayClient (plain
# tokio program) sends SAMPLES messages one at a time with send_to_uid and times each until the
# client has it.
#
#   bench/run_gateway.sh
#   ROUNDS=3 ROOM=1000 MESSAGES=200 bench/run_gateway.sh
#
# Settings (environment): ROUNDS (3), ROOM (1000), MESSAGES (200), BURST (20), SIZE (32),
# CLIENTS (100), SAMPLES (2000), GW_PORT (2475), GW_REGISTER (127.0.0.1:1240), GW_START_PORT
# (2600), WM_PORT (2476). Everything it starts is stopped on exit.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
ROOM=${ROOM:-1000}
MESSAGES=${MESSAGES:-200}
BURST=${BURST:-20}
SIZE=${SIZE:-32}
CLIENTS=${CLIENTS:-100}
SAMPLES=${SAMPLES:-2000}
GW_PORT=${GW_PORT:-2475}
GW_REGISTER=${GW_REGISTER:-127.0.0.1:1240}
GW_START_PORT=${GW_START_PORT:-2600}
WM_PORT=${WM_PORT:-2476}
HOST=127.0.0.1
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cd "$(dirname "$0")/.."
echo "== building"
cargo build --release -p bench --bin gw_room --bin gw_uid_latency --bin wm_ws_room --bin ws_room
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d /tmp/gw_bench.XXXXXX)
HZ=$(getconf CLK_TCK)
export GW_ROOM_PORT=$GW_PORT GW_ROOM_REGISTER=$GW_REGISTER GW_ROOM_START_PORT=$GW_START_PORT
export WM_WS_ROOM_ADDR=$HOST:$WM_PORT
GW_STARTED= WM_STARTED=
cleanup() {
    set +e
    [[ -n $GW_STARTED ]] && WORKERMAN_PID_FILE=$WORK/gw.pid timeout 10 "$BIN/gw_room" stop >/dev/null
    [[ -n $WM_STARTED ]] && WORKERMAN_PID_FILE=$WORK/wm.pid timeout 10 "$BIN/wm_ws_room" stop >/dev/null
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
for port in "$GW_PORT" "$WM_PORT" "${GW_REGISTER##*:}" $(seq "$GW_START_PORT" $((GW_START_PORT + 3))); do
    if port_open "$port"; then echo "port $port is busy" >&2; exit 1; fi
done

echo "== starting servers"
WORKERMAN_PID_FILE=$WORK/gw.pid WORKERMAN_LOG_FILE=$WORK/gw.log WORKERMAN_STDOUT_FILE=$WORK/gw.out \
    "$BIN/gw_room" start -d >"$WORK/gw.start" 2>&1
GW_STARTED=1
WORKERMAN_PID_FILE=$WORK/wm.pid WORKERMAN_LOG_FILE=$WORK/wm.log WORKERMAN_STDOUT_FILE=$WORK/wm.out \
    "$BIN/wm_ws_room" start -d >"$WORK/wm.start" 2>&1
WM_STARTED=1
for p in "$GW_PORT" "$WM_PORT" $(seq "$GW_START_PORT" $((GW_START_PORT + 3))); do wait_port "$p"; done
declare -A PIDS PORTS
PIDS[gateway]=$(children "$WORK/gw.pid") PORTS[gateway]=$GW_PORT
PIDS[one-process]=$(children "$WORK/wm.pid") PORTS[one-process]=$WM_PORT
echo "pids: gateway ${PIDS[gateway]} (master first), one-process ${PIDS[one-process]}"
sleep 1 # business workers connect to every gateway

declare -A US RATE
run() { # name burst round
    local n=$1 burst=$2 r=$3 out us rate pids
    pids=$(tr ' ' ',' <<<"${PIDS[$n]}")
    out=$("$BIN/ws_room" room --addr "$HOST:${PORTS[$n]}" --conns "$ROOM" --sources 4 \
        --messages "$MESSAGES" --burst "$burst" --size "$SIZE" --pids "${pids%,}" --hz "$HZ") || {
        echo "$out" >&2
        echo "ws_room failed against $n" >&2
        exit 1
    }
    us=$(sed -n 's/.*us_per_msg=\([0-9.]*\).*/\1/p' <<<"$out")
    rate=$(grep RESULT <<<"$out" | awk '{for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } printf "%.0f", v["delivered"] / v["secs"]}')
    printf "  round %d  burst %-3d %-12s %s msgs_per_s=%s\n" "$r" "$burst" "$n" "$(grep RESULT <<<"$out" | cut -d' ' -f2-)" "$rate"
    US["$burst $n"]+="$us "
    RATE["$burst $n"]+="$rate "
    sleep 1 # let the servers drop the closed connections
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== room of $ROOM: $ROUNDS rounds, $MESSAGES messages of $SIZE bytes, paced and in bursts of $BURST"
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order="gateway one-process"; else order="one-process gateway"; fi
    for n in $order; do
        run "$n" 1 "$r"
        run "$n" "$BURST" "$r"
    done
done

echo "== send_to_uid latency: $CLIENTS clients, $SAMPLES sends, one at a time"
LAT=()
for ((r = 1; r <= ROUNDS; r++)); do
    out=$("$BIN/gw_uid_latency" --addr "$HOST:$GW_PORT" --register "$GW_REGISTER" --clients "$CLIENTS" --samples "$SAMPLES")
    echo "  round $r $out"
    LAT+=("$out")
    sleep 1
done

echo
echo "== medians of $ROUNDS rounds"
printf "%-6s %-12s %12s %12s\n" burst server "msgs/s" "us CPU/msg"
for burst in 1 "$BURST"; do
    for n in gateway one-process; do
        printf "%-6s %-12s %12s %12s\n" "$burst" "$n" "$(median "${RATE["$burst $n"]}")" "$(median "${US["$burst $n"]}")"
    done
done
p50=$(for l in "${LAT[@]}"; do sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$l"; done | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
p99=$(for l in "${LAT[@]}"; do sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$l"; done | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "send_to_uid latency: p50 ${p50} us, p99 ${p99} us (medians of the rounds' percentiles)"
