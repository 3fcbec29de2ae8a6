#!/usr/bin/env bash
# Longer fuzzing, outside CI: every fuzz target of every cargo-fuzz directory in the repository
# (a `fuzz/Cargo.toml` with `cargo-fuzz = true`), one after the other, for FUZZ_SECONDS each
# (default 600 = 10 minutes). CI (.ci/run) gives each target 30 s; this is the long run.
#
#   scripts/fuzz_long.sh                          # every target, 10 minutes each
#   FUZZ_SECONDS=60 scripts/fuzz_long.sh          # a quick pass
#   scripts/fuzz_long.sh http_request tzif        # only these targets
#
# The corpus is kept between runs: by default in each fuzz directory's `corpus/<target>` (the
# place `cargo fuzz` uses, ignored by git), or under FUZZ_CORPUS_DIR/<target> when set (any
# directory, e.g. outside the checkout). Crash inputs go to `artifacts/<target>` beside it (also
# ignored). Every target runs even when an earlier one crashed; at the end the script lists the
# crash inputs this run found, with the command that replays each, and exits 1 if there were
# any. Turn each into a regression test (a unit test feeding the bytes to the same code) before
# fixing it.
#
# Settings (environment): FUZZ_SECONDS (600), FUZZ_RSS_MB (2048, libFuzzer's -rss_limit_mb),
# FUZZ_MAX_LEN (libFuzzer's -max_len; its default when unset), FUZZ_CORPUS_DIR (see above),
# FUZZ_JOBS (1; more runs that many fuzzing processes per target with -fork).
# Needs cargo-fuzz (installed here if missing) and preferably a nightly toolchain (AddressSanitizer);
# on stable it builds without a sanitizer, as .ci/run does.
set -euo pipefail
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_JOBS=${FUZZ_JOBS:-1}
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v cargo-fuzz >/dev/null; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q nightly; then
    fuzz() { cargo +nightly fuzz "$@"; }
    SANITIZER=address
else
    fuzz() {
        local cmd=$1
        shift
        RUSTC_BOOTSTRAP=1 cargo fuzz "$cmd" --sanitizer none "$@"
    }
    SANITIZER=none
fi

# Every cargo-fuzz directory of the repository (tracked files only: no copies under target/).
mapfile -t DIRS < <(git ls-files '*fuzz/Cargo.toml' 'fuzz/Cargo.toml' | xargs -r grep -l 'cargo-fuzz *= *true' | xargs -r -n1 dirname | sort -u)
if [[ ${#DIRS[@]} -eq 0 ]]; then
    echo "no cargo-fuzz directories found" >&2
    exit 1
fi
ONLY=("$@")
wanted() {
    [[ ${#ONLY[@]} -eq 0 ]] && return 0
    local t
    for t in "${ONLY[@]}"; do [[ $t == "$1" ]] && return 0; done
    return 1
}

STAMP=$(mktemp /tmp/fuzz_long.XXXXXX)
trap 'rm -f "$STAMP"' EXIT
declare -a RAN=() FAILED=()
echo "== fuzzing: ${FUZZ_SECONDS}s per target, sanitizer $SANITIZER, directories: ${DIRS[*]}"
for dir in "${DIRS[@]}"; do
    # A fuzz directory sits in its crate (`workerman/fuzz`); cargo fuzz runs from the crate.
    crate=$(dirname "$dir")
    mapfile -t TARGETS < <(cd "$crate" && cargo fuzz list)
    for target in "${TARGETS[@]}"; do
        wanted "$target" || continue
        if [[ -n ${FUZZ_CORPUS_DIR:-} ]]; then
            corpus=$FUZZ_CORPUS_DIR/$target
        else
            corpus=$ROOT/$dir/corpus/$target
        fi
        artifacts=$ROOT/$dir/artifacts/$target
        mkdir -p "$corpus" "$artifacts"
        before=$(find "$corpus" -type f | wc -l)
        echo
        echo "== $dir: $target (corpus $corpus: $before inputs)"
        args=(-max_total_time="$FUZZ_SECONDS" -rss_limit_mb="$FUZZ_RSS_MB" -artifact_prefix="$artifacts/" -print_final_stats=1)
        [[ -n ${FUZZ_MAX_LEN:-} ]] && args+=(-max_len="$FUZZ_MAX_LEN")
        if ((FUZZ_JOBS > 1)); then args+=(-fork="$FUZZ_JOBS" -ignore_crashes=1); fi
        # Progress lines (NEW, REDUCE, pulse) are dropped; only the fuzzer's status counts.
        set +e
        (cd "$crate" && fuzz run "$target" "$corpus" -- "${args[@]}") 2>&1 |
            grep --line-buffered -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED)'
        status=${PIPESTATUS[0]}
        set -e
        RAN+=("$target")
        after=$(find "$corpus" -type f | wc -l)
        echo "== $target: exit status $status, corpus $before -> $after inputs"
        if [[ $status -ne 0 ]]; then FAILED+=("$target"); fi
    done
done

echo
mapfile -t CRASHES < <(for dir in "${DIRS[@]}"; do
    [[ -d $ROOT/$dir/artifacts ]] && find "$ROOT/$dir/artifacts" -type f -newer "$STAMP" \
        \( -name 'crash-*' -o -name 'oom-*' -o -name 'leak-*' -o -name 'timeout-*' \)
done)
echo "== ${#RAN[@]} targets ran for ${FUZZ_SECONDS}s each"
if [[ ${#CRASHES[@]} -eq 0 && ${#FAILED[@]} -eq 0 ]]; then
    echo "no crash found"
    exit 0
fi
echo "targets that failed: ${FAILED[*]:-none}"
echo "inputs that crashed (replay: cd <crate> && cargo +nightly fuzz run <target> <file>):"
for f in "${CRASHES[@]}"; do
    echo "  $f"
    od -A d -c "$f" | head -5 | sed 's/^/      /'
done
exit 1
