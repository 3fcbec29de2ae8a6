#!/usr/bin/env bash
# A real browser against the ws_chat example: headless Chromium (Debian `chromium`) loads the page
# from :2356, its WebSocket joins the chat on :2357, and scripts/browser_chat.py checks that a
# message typed in the page reaches another member and the other way round.
# Installs chromium (apt) and the `websockets` package (pip) when missing; stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install --quiet websockets

cargo build -p workerman --example ws_chat
BIN=${CARGO_TARGET_DIR:-target}/debug/examples/ws_chat
WORK=$(mktemp -d /tmp/browser_chat.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/chat.pid WORKERMAN_LOG_FILE=$WORK/chat.log WORKERMAN_STDOUT_FILE=$WORK/stdout.txt
cleanup() {
    timeout 10 "$BIN" stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
"$BIN" start -d >/dev/null
for port in 2356 2357; do
    for ((i = 0; i < 200; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
done
timeout 120 python3 scripts/browser_chat.py
