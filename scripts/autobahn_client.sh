#!/usr/bin/env bash
# Autobahn conformance of the ws:// client, offline: kosoku (a native runner of the Autobahn
# TestSuite case files, from PyPI) in fuzzingserver mode on 127.0.0.1:9001, driven by the
# autobahn_client example (AsyncTcpConnection<Ws>: every case, echoing each message, then
# /updateReports). Every case must end OK, NON-STRICT or INFORMATIONAL; the summary is written
# to autobahn/client-summary.json and autobahn/client-summary.md (kept in the repo).
#
#   scripts/autobahn_client.sh              # every case (sections 1-7, 9, 10, 12, 13)
#   CASES='13.*' scripts/autobahn_client.sh # a selection (kosoku -i globs, space separated)
#
# Sections 12 and 13 are permessage-deflate (the client offers it by default). Exits non-zero
# when any case has another outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
KOSOKU_VERSION=0.1.0
PORT=${AUTOBAHN_CLIENT_PORT:-9001}

if ! command -v kosoku >/dev/null || [[ $(python3 -c 'import importlib.metadata as m; print(m.version("kosoku"))' 2>/dev/null) != "$KOSOKU_VERSION" ]]; then
    python3 -m pip install --quiet "kosoku==$KOSOKU_VERSION"
fi

cargo build --release -p workerman --example autobahn_client
BIN=${CARGO_TARGET_DIR:-target}/release/examples/autobahn_client
WORK=$(mktemp -d /tmp/autobahn-client.XXXXXX)
KOSOKU_PID=
cleanup() {
    [[ -n $KOSOKU_PID ]] && kill "$KOSOKU_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

SELECT=()
for c in ${CASES:-}; do SELECT+=(-i "$c"); done
# kosoku exits 1 when a case is not OK; the verdict below is ours (NON-STRICT and
# INFORMATIONAL are acceptable outcomes too).
kosoku -m fuzzingserver -o "$WORK/reports" "${SELECT[@]}" "127.0.0.1:$PORT" \
    >"$WORK/kosoku.txt" 2>&1 &
KOSOKU_PID=$!
for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
done
export WORKERMAN_LOG_FILE=$WORK/client.log
timeout 2700 "$BIN" "ws://127.0.0.1:$PORT" >"$WORK/client.txt" 2>&1
# kosoku writes its reports and exits after /updateReports.
for ((i = 0; i < 600; i++)); do
    kill -0 "$KOSOKU_PID" 2>/dev/null || break
    sleep 0.1
done
KOSOKU_PID=
tail -n 2 "$WORK/kosoku.txt"

python3 - "$WORK/reports/index.json" "${CASES:-}" <<'PY'
import collections, json, sys
index = json.load(open(sys.argv[1]))
results = index["workerman-rs"]
def key(case):
    return tuple(int(p) for p in case.split("."))
ok = {"OK", "NON-STRICT", "INFORMATIONAL"}
counts = collections.Counter()
bad = []
cases = {}
for case in sorted(results, key=key):
    r = results[case]
    b, c = r["behavior"], r["behaviorClose"]
    counts[b] += 1
    cases[case] = {"behavior": b, "behaviorClose": c}
    if b not in ok or c not in ok:
        bad.append(f"{case}: behavior={b} behaviorClose={c}")
sections = collections.Counter(case.split(".")[0] for case in results)
summary = {
    "runner": "kosoku 0.1.0 (Autobahn TestSuite case files), fuzzingserver mode, every case (12 and 13: permessage-deflate)",
    "client": "examples/autobahn_client.rs (AsyncTcpConnection<Ws>, ws://127.0.0.1:9001)",
    "total": len(results),
    "behavior": dict(sorted(counts.items())),
    "failed": bad,
    "cases": cases,
}
if not sys.argv[2]:  # only a full run replaces the kept summary
    json.dump(summary, open("autobahn/client-summary.json", "w"), indent=1)
    with open("autobahn/client-summary.md", "w") as f:
        f.write("# Autobahn (kosoku 0.1.0, fuzzingserver), ws:// client\n\n")
        f.write("Written by `scripts/autobahn_client.sh`; per-case results in `client-summary.json`.\n")
        f.write("Every case, sections 12 and 13 (permessage-deflate) included.\n\n")
        f.write(f"Cases: {len(results)}\n\n| outcome | cases |\n| --- | ---: |\n")
        for k, v in sorted(counts.items()):
            f.write(f"| {k} | {v} |\n")
        f.write("\n| section | cases |\n| --- | ---: |\n")
        for s, n in sorted(sections.items(), key=lambda x: int(x[0])):
            f.write(f"| {s} | {n} |\n")
        f.write(f"\nNot OK/NON-STRICT/INFORMATIONAL: {len(bad)}\n")
        for line in bad:
            f.write(f"- {line}\n")
        nonok = [c for c, r in cases.items() if r["behavior"] != "OK"]
        f.write("\nNot plain OK: " + ", ".join(f"{c} ({cases[c]['behavior']})" for c in nonok) + "\n")
print(f"autobahn client: {len(results)} cases, {dict(counts)}")
if bad:
    print("cases with an unacceptable outcome:\n  " + "\n  ".join(bad))
    sys.exit(1)
print(f"autobahn client: all {len(results)} cases OK, NON-STRICT or INFORMATIONAL")
PY
