#!/usr/bin/env bash
# Soak run, bounded: HTTP keep-alive load (wrk) + WebSocket chat traffic against one master
# (bench/src/bin/wm_soak.rs: an http:// worker and a websocket:// chat worker, COUNT processes
# each), a `reload` every RELOAD_EVERY seconds and a SIGKILL of a random worker process every
# KILL_EVERY seconds, for SOAK_MINUTES minutes.
#
#   bench/soak.sh                        # 30 minutes
#   SOAK_MINUTES=10 bench/soak.sh
#
# Reports:
# - HTTP: requests done and failed (wrk's socket errors + non-2xx). A failure is allowed only
#   on a connection of a killed worker: the script counts the HTTP connections each killed
#   process held (ss) and the verdict is failed <= that sum;
# - chat: messages sent and received, reconnections (a reload or a kill closes WebSocket
#   connections: the clients reconnect), connect failures and bad frames (must be 0);
# - every SAMPLE_EVERY seconds: RSS and open fds of the master and of each worker process
#   (a table in the output), then the trend from minute 5 to the end: master RSS and fds, the
#   workers' summed RSS (each sample just before a reload, so in the same phase), fds of workers
#   minus their connections. Pass: RSS growth < 5%, no fd growth.
#
# Needs wrk (apt-get install wrk). Settings (environment): SOAK_MINUTES (30), RELOAD_EVERY (60),
# KILL_EVERY (180), SAMPLE_EVERY (30), COUNT (2), WRK_CONNS (32), CHAT_CONNS (50),
# CHAT_INTERVAL_MS (200), HTTP_PORT (2480), WS_PORT (2481). Everything it starts is stopped on
# exit.
set -euo pipefail
SOAK_MINUTES=${SOAK_MINUTES:-30}
RELOAD_EVERY=${RELOAD_EVERY:-60}
KILL_EVERY=${KILL_EVERY:-180}
SAMPLE_EVERY=${SAMPLE_EVERY:-30}
COUNT=${COUNT:-2}
WRK_CONNS=${WRK_CONNS:-32}
CHAT_CONNS=${CHAT_CONNS:-50}
CHAT_INTERVAL_MS=${CHAT_INTERVAL_MS:-200}
HTTP_PORT=${HTTP_PORT:-2480}
WS_PORT=${WS_PORT:-2481}
HOST=127.0.0.1
DURATION=$((SOAK_MINUTES * 60))
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cd "$(dirname "$0")/.."
echo "== building"
cargo build --release -p bench --bin wm_soak --bin ws_room
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d /tmp/soak.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/wm.pid WORKERMAN_LOG_FILE=$WORK/wm.log WORKERMAN_STDOUT_FILE=$WORK/wm.out
export WM_SOAK_HTTP=$HOST:$HTTP_PORT WM_SOAK_WS=$HOST:$WS_PORT WM_SOAK_COUNT=$COUNT
WRK_PID= CHAT_PID= WM_STARTED=
cleanup() {
    set +e
    [[ -n $WRK_PID ]] && kill "$WRK_PID" 2>/dev/null && wait "$WRK_PID" 2>/dev/null
    [[ -n $CHAT_PID ]] && kill "$CHAT_PID" 2>/dev/null && wait "$CHAT_PID" 2>/dev/null
    [[ -n $WM_STARTED ]] && timeout 30 "$BIN/wm_soak" stop >/dev/null
    [[ -n ${KEEP_WORK:-} ]] && echo "work files kept in $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
for port in "$HTTP_PORT" "$WS_PORT"; do
    if port_open "$port"; then echo "port $port is busy" >&2; exit 1; fi
done
"$BIN/wm_soak" start -d >"$WORK/wm.start" 2>&1
WM_STARTED=1
for port in "$HTTP_PORT" "$WS_PORT"; do
    for ((i = 0; i < 200; i++)); do port_open "$port" && break; sleep 0.05; done
done
MASTER=$(cat "$WORKERMAN_PID_FILE")
workers() { pgrep -P "$MASTER" | tr '\n' ' '; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
nfd() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# Established TCP connections a process holds on our ports.
conns_of() { ss -tnpH state established "( sport = :$HTTP_PORT or sport = :$WS_PORT )" 2>/dev/null | grep -c "pid=$1," || true; }
http_conns_of() { ss -tnpH state established "( sport = :$HTTP_PORT )" 2>/dev/null | grep -c "pid=$1," || true; }

echo "== soak: $SOAK_MINUTES min; reload every ${RELOAD_EVERY}s, kill -9 of a random worker every ${KILL_EVERY}s;"
echo "   wrk $WRK_CONNS keep-alive connections; $CHAT_CONNS chat clients, a message every ${CHAT_INTERVAL_MS} ms each"
wrk -t1 -c"$WRK_CONNS" -d"${DURATION}s" --timeout 5s "http://$HOST:$HTTP_PORT/" >"$WORK/wrk.out" 2>&1 &
WRK_PID=$!
"$BIN/ws_room" chat --addr "$HOST:$WS_PORT" --conns "$CHAT_CONNS" --sources 4 \
    --interval-ms "$CHAT_INTERVAL_MS" --hold "$DURATION" >"$WORK/chat.out" 2>&1 &
CHAT_PID=$!

SAMPLES=$WORK/samples.tsv
printf "sec\tkind\tpid\trss_kb\tfds\tconns\n" >"$SAMPLES"
sample() { # sec
    local p
    printf "%d\tmaster\t%d\t%d\t%d\t0\n" "$1" "$MASTER" "$(rss "$MASTER")" "$(nfd "$MASTER")" >>"$SAMPLES"
    for p in $(workers); do
        printf "%d\tworker\t%d\t%d\t%d\t%d\n" "$1" "$p" "$(rss "$p")" "$(nfd "$p")" "$(conns_of "$p")" >>"$SAMPLES"
    done
}
KILLED_HTTP=0 KILLS=0 RELOADS=0
start=$(date +%s)
next_reload=$RELOAD_EVERY next_kill=$KILL_EVERY next_sample=0
while :; do
    now=$(($(date +%s) - start))
    ((now >= DURATION)) && break
    if ((now >= next_sample)); then
        sample "$now"
        next_sample=$((next_sample + SAMPLE_EVERY))
    fi
    if ((now >= next_kill)); then
        set -- $(workers)
        if (($# > 0)); then
            idx=$((RANDOM % $# + 1))
            victim=${!idx}
            held=$(http_conns_of "$victim")
            kill -9 "$victim" 2>/dev/null && KILLS=$((KILLS + 1)) KILLED_HTTP=$((KILLED_HTTP + held))
            echo "  t=${now}s kill -9 $victim (held $held HTTP connections)"
        fi
        next_kill=$((next_kill + KILL_EVERY))
    fi
    if ((now >= next_reload)); then
        # A sample just before each reload: the same phase every time.
        sample "$now"
        "$BIN/wm_soak" reload >/dev/null 2>&1 && RELOADS=$((RELOADS + 1))
        next_reload=$((next_reload + RELOAD_EVERY))
    fi
    sleep 1
done
wait "$WRK_PID" || true
WRK_PID=
wait "$CHAT_PID" || true
CHAT_PID=
sample "$DURATION"

echo
echo "== samples (every ${SAMPLE_EVERY}s and before each reload): sec kind pid rss_kb fds conns"
column -t "$SAMPLES"

echo
echo "== HTTP (wrk)"
cat "$WORK/wrk.out"
reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
errs=$(awk -F'[ ,]+' '/Socket errors/ { print $5 + $7 + $9 + $11 }' "$WORK/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.out")
failed=$((${errs:-0} + ${non2xx:-0}))
echo "requests: ${reqs:-0}, failed: $failed (socket errors ${errs:-0}, non-2xx ${non2xx:-0});" \
    "$KILLS kills held $KILLED_HTTP HTTP connections; $RELOADS reloads"
if ((failed <= KILLED_HTTP)); then echo "HTTP: PASS (failures only on the killed workers' connections)"; else echo "HTTP: FAIL"; fi

echo
echo "== WebSocket chat"
cat "$WORK/chat.out"
bad=$(sed -n 's/.*bad_frames=\([0-9]*\).*/\1/p' "$WORK/chat.out")
cf=$(sed -n 's/.*connect_failures=\([0-9]*\).*/\1/p' "$WORK/chat.out")
if [[ ${bad:-1} == 0 && ${cf:-1} == 0 ]]; then echo "chat: PASS (no bad frame, no failed connect)"; else echo "chat: FAIL"; fi

echo
echo "== trend from minute 5 to the end"
awk -F'\t' -v from=300 '
    NR == 1 || $1 < from { next }
    $2 == "master" { if (!m0) { m0 = $4; f0 = $5 } m1 = $4; f1 = $5 }
    $2 == "worker" { w[$1] += $4; wf[$1] += $5 - $6; wn[$1]++ }
    END {
        n = 0; for (s in w) keys[++n] = s + 0
        asort(keys)
        if (n < 2 || !m0) { print "not enough samples after minute 5 (run longer)"; exit }
        # Workers: per worker process (a sample taken during a reload also lists the retiring
        # ones, so sums would mix 4- and 8-process samples), medians over the first and last
        # thirds of the samples.
        k = int(n / 3); if (k < 1) k = 1
        for (i = 1; i <= k; i++) {
            x = keys[i]; y = keys[n - k + i]
            a[i] = w[x] / wn[x]; b[i] = w[y] / wn[y]; fa[i] = wf[x] / wn[x]; fb[i] = wf[y] / wn[y]
        }
        asort(a); asort(b); asort(fa); asort(fb)
        wa = a[int((k + 1) / 2)]; wb = b[int((k + 1) / 2)]
        printf "master RSS: %d -> %d KB (%+.1f%%); master fds: %d -> %d\n", m0, m1, (m1 - m0) * 100 / m0, f0, f1
        printf "RSS per worker process (median of first/last third of samples): %d -> %d KB (%+.1f%%)\n", wa, wb, (wb - wa) * 100 / wa
        printf "fds per worker process minus its connections (median of first/last third): %.1f -> %.1f\n", fa[int((k + 1) / 2)], fb[int((k + 1) / 2)]
        ok = (m1 - m0) * 100 / m0 < 5 && (wb - wa) * 100 / wa < 5 && f1 <= f0 && fb[int((k + 1) / 2)] <= fa[int((k + 1) / 2)]
        print (ok ? "memory/fds: PASS" : "memory/fds: FAIL")
    }' "$SAMPLES"
