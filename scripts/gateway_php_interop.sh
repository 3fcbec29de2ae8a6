#!/usr/bin/env bash
# Interop check: the PHP GatewayClient library (walkor/GatewayClient, NOT part of this repo)
# pushing through our `chat` cluster, with a secret key in PHP-compatible mode.
#
#   GATEWAYCLIENT_SRC=/path/to/GatewayClient scripts/gateway_php_interop.sh
#
# GATEWAYCLIENT_SRC is a checkout of https://github.com/walkor/GatewayClient (the directory
# holding Gateway.php). Without it, or without php-cli, this prints "skipped: ..." and exits 0.
# Two WebSocket clients log into the chat; a PHP script calls the GatewayClient API (sends,
# bindings, groups, sessions, queries); the clients and the script check what arrives.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${GATEWAYCLIENT_SRC:-}" || ! -f "${GATEWAYCLIENT_SRC}/Gateway.php" ]]; then
    echo "skipped: GATEWAYCLIENT_SRC does not point at a GatewayClient checkout"
    exit 0
fi
if ! command -v php >/dev/null; then
    echo "skipped: no php-cli"
    exit 0
fi
cargo build -q -p workerman-gateway --example chat
BIN=${CARGO_TARGET_DIR:-target}/debug/examples/chat
WORK=$(mktemp -d /tmp/gateway_php.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/chat.pid WORKERMAN_LOG_FILE=$WORK/chat.log WORKERMAN_STDOUT_FILE=$WORK/stdout.txt
export CHAT_SECRET_KEY=interop-key CHAT_AUTH_MODE=php
cleanup() {
    timeout 10 "$BIN" stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
"$BIN" start -d >/dev/null
for port in 1236 2300 2301 2302 2303 7272; do
    for ((i = 0; i < 200; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
done

# Two WebSocket clients: log in, write their client_ids, then record every message.
cat >"$WORK/client.py" <<'PY'
import json, os, socket, sys, time
name, out = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 7272))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
buf = buf.split(b"\r\n\r\n", 1)[1]
def send(text):
    b = text.encode(); m = b"\x01\x02\x03\x04"
    s.sendall(bytes([0x81, 0x80 | len(b)]) + m + bytes(x ^ m[i % 4] for i, x in enumerate(b)))
send(json.dumps({"type": "login", "client_name": name, "room_id": "7"}))
s.settimeout(0.2)
deadline = time.time() + float(os.environ.get("CLIENT_SECONDS", "8"))
with open(out, "w") as f:
    while time.time() < deadline:
        try:
            d = s.recv(65536)
            if not d:
                f.write("CLOSED\n"); break
            buf += d
        except socket.timeout:
            pass
        while len(buf) >= 2:
            n = buf[1] & 0x7f; at = 2
            if n == 126: n = int.from_bytes(buf[2:4], "big"); at = 4
            if len(buf) < at + n: break
            msg, buf = buf[at:at + n].decode(), buf[at + n:]
            f.write(msg + "\n"); f.flush()
PY
python3 "$WORK/client.py" alice "$WORK/alice.txt" &
python3 "$WORK/client.py" bob "$WORK/bob.txt" &
for who in alice bob; do
    for ((i = 0; i < 200; i++)); do grep -q client_list "$WORK/$who.txt" 2>/dev/null && break; sleep 0.05; done
done
ALICE=$(grep -o '"client_id":"[0-9a-f]*"' "$WORK/alice.txt" | head -1 | cut -d'"' -f4)
BOB=$(grep -o '"client_id":"[0-9a-f]*"' "$WORK/bob.txt" | head -1 | cut -d'"' -f4)

cat >"$WORK/push.php" <<'PHP'
<?php
require getenv('GATEWAYCLIENT_SRC') . '/Gateway.php';
use GatewayClient\Gateway;
Gateway::$registerAddress = '127.0.0.1:1236';
Gateway::$secretKey = 'interop-key';
[$alice, $bob] = [getenv('ALICE'), getenv('BOB')];
$ok = 0; $fail = 0;
function check($what, $got, $want) {
    global $ok, $fail;
    if ($got === $want) { $ok++; echo "ok   $what\n"; }
    else { $fail++; echo "FAIL $what: got " . var_export($got, true) . " want " . var_export($want, true) . "\n"; }
}
check('getAllClientIdCount', Gateway::getAllClientIdCount(), 2);
check('isOnline', Gateway::isOnline($alice), 1);
check('getClientIdCountByGroup', Gateway::getClientIdCountByGroup('7'), 2);
Gateway::sendToClient($alice, 'php-to-alice');
Gateway::sendToAll('php-to-all');
Gateway::sendToGroup('7', 'php-to-room-but-bob', [$bob]);
Gateway::bindUid($bob, 'u-bob');
check('getClientIdByUid', Gateway::getClientIdByUid('u-bob'), [$bob]);
check('getUidByClientId', Gateway::getUidByClientId($bob), 'u-bob');
check('isUidOnline', Gateway::isUidOnline('u-bob'), 1);
Gateway::sendToUid('u-bob', 'php-to-uid');
Gateway::joinGroup($alice, 'vip');
check('getClientIdListByGroup', array_values(Gateway::getClientIdListByGroup('vip')), [$alice]);
check('getAllGroupIdList', array_values(array_map('strval', Gateway::getAllGroupIdList())) == ['7', 'vip'] || array_values(array_map('strval', Gateway::getAllGroupIdList())) == ['vip', '7'], true);
$sessions = Gateway::getClientSessionsByGroup('7');
check('getClientSessionsByGroup', [$sessions[$alice]['client_name'] ?? null, $sessions[$bob]['room_id'] ?? null], ['alice', '7']);
Gateway::updateSession($alice, ['level' => 5]);
$s = Gateway::getSession($alice);
check('updateSession+getSession', [$s['level'] ?? null, $s['client_name'] ?? null], [5, 'alice']);
Gateway::setSession($bob, ['only' => 'this']);
check('setSession', Gateway::getSession($bob), ['only' => 'this']);
check('batchGetClientIdByUid', Gateway::batchGetClientIdByUid(['u-bob', 'nobody']), ['u-bob' => [$bob], 'nobody' => []]);
check('getUidCountByGroup', Gateway::getUidCountByGroup('7'), 2);
Gateway::ungroup('vip');
check('ungroup', Gateway::getClientIdCountByGroup('vip'), 0);
Gateway::closeClient($bob, 'php-bye');
usleep(300000);
check('closeClient', Gateway::isOnline($bob), 0);
echo "php: $ok ok, $fail failed\n";
exit($fail ? 1 : 0);
PHP
ALICE=$ALICE BOB=$BOB php "$WORK/push.php"
wait
echo "--- alice received"; cat "$WORK/alice.txt"
echo "--- bob received"; cat "$WORK/bob.txt"
for want in php-to-alice php-to-all php-to-room-but-bob; do grep -qx "$want" "$WORK/alice.txt" || { echo "FAIL alice missed $want"; exit 1; }; done
for want in php-to-all php-to-uid php-bye CLOSED; do grep -qx "$want" "$WORK/bob.txt" || { echo "FAIL bob missed $want"; exit 1; }; done
if grep -qx php-to-room-but-bob "$WORK/bob.txt"; then echo "FAIL bob got the excluded message"; exit 1; fi
echo "gateway php interop: ok"
