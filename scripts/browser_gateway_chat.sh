#!/usr/bin/env bash
# A real browser with two users in the Gateway `chat` example: headless Chromium (Debian
# `chromium`) opens two pages from :55151 that join room 1 through the ChatGateway on :7272;
# scripts/browser_gateway_chat.py checks a room message and a private answer on both pages.
# Installs chromium (apt) and the `websockets` package (pip) when missing; stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install --quiet websockets

cargo build -q -p workerman-gateway --example chat
BIN=${CARGO_TARGET_DIR:-target}/debug/examples/chat
WORK=$(mktemp -d /tmp/browser_gateway_chat.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/chat.pid WORKERMAN_LOG_FILE=$WORK/chat.log WORKERMAN_STDOUT_FILE=$WORK/stdout.txt
cleanup() {
    timeout 10 "$BIN" stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
"$BIN" start -d >/dev/null
for port in 1236 2300 2301 2302 2303 7272 55151; do
    for ((i = 0; i < 200; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
done
timeout 120 python3 scripts/browser_gateway_chat.py
