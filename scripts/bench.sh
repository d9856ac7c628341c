#!/usr/bin/env bash
# flowseg's benchmark (issue 5): flowseg side by side with DuckDB and
# ClickHouse (chDB) on the same seeded data, plus HTTP ingest, bulk import,
# memory and restart; writes docs/benchmarks.md and docs/benchmarks.json.
#
#   bash scripts/bench.sh SCALE     # quick | small | medium | large | xl
#   bash scripts/bench.sh --check   # CI: the quick scale (2k contacts, 100k
#                                   # events), one run each, result equality
#                                   # only; writes no report
#
# Environment: SEED (default 42), REPS (measured runs per segment and engine),
# FLOWSEG_MEM_GB (caps flowseg's address space, so that a scale too large for
# the machine fails alone instead of pressing on everything else).
# Needs python3 with venv and pip (PyPI for duckdb and chdb) and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

usage() {
    echo "usage: bash scripts/bench.sh quick|small|medium|large|xl   or   bash scripts/bench.sh --check" >&2
    exit 2
}

[ $# -eq 1 ] || usage
CHECK=0
case "$1" in
    --check) CHECK=1; SCALE=quick ;;
    quick|small|medium|large|xl) SCALE="$1" ;;
    *) usage ;;
esac
SEED="${SEED:-42}"
if [ "$CHECK" = 1 ]; then
    REPS="${REPS:-1}"
    # A check compares result sets only: no runs beyond REPS.
    MIN_MS=0
else
    MIN_MS="${MIN_MS:-500}"
    case "$SCALE" in
        quick|small|medium) REPS="${REPS:-15}" ;;
        large) REPS="${REPS:-7}" ;;
        xl) REPS="${REPS:-3}" ;;
    esac
fi
TARGET="${CARGO_TARGET_DIR:-target}"

echo "== peers: duckdb and chdb in bench/.venv"
VENV=bench/.venv
if ! "$VENV/bin/python" -c 'import duckdb, chdb' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check duckdb chdb
fi

if [ "$CHECK" = 1 ]; then
    # The dev profile shares its artifacts with scripts/test.sh.
    echo "== build flowseg-bench"
    cargo build --locked -p flowseg-bench
    BENCH="$TARGET/debug/flowseg-bench"
else
    echo "== build flowseg-bench and flowseg (release)"
    cargo build --release --locked -p flowseg-bench -p flowseg-cli
    BENCH="$TARGET/release/flowseg-bench"
    FLOWSEG="$TARGET/release/flowseg"
fi

DATA="bench/data/$SCALE-s$SEED"
RESULTS="$DATA/results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
# The flowseg the binaries were built from, for the report.
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    COMMIT="$COMMIT with local changes"
fi
echo "$COMMIT" > "$RESULTS/commit"

echo "== data: $SCALE, seed $SEED"
FLOWSEG_BENCH_COMMIT="$COMMIT" "$BENCH" gen --scale "$SCALE" --seed "$SEED" --dir "$DATA"
"$BENCH" suite --out "$RESULTS/suite.json"

echo "== flowseg"
capped() {
    if [ -n "${FLOWSEG_MEM_GB:-}" ]; then
        (ulimit -v $((FLOWSEG_MEM_GB * 1024 * 1024)) && "$@")
    else
        "$@"
    fi
}
capped "$BENCH" eval --dir "$DATA" --reps "$REPS" --min-ms "$MIN_MS" --results "$RESULTS"

echo "== peers"
PEER_ARGS=()
case "$SCALE" in
    # DuckDB's in-memory tables would not fit: a database file instead.
    large|xl) PEER_ARGS=(--duckdb-file "$RESULTS/duckdb.db") ;;
esac
"$VENV/bin/python" bench/peers/run.py --data "$DATA" --suite "$RESULTS/suite.json" \
    --results "$RESULTS" --reps "$REPS" --min-ms "$MIN_MS" "${PEER_ARGS[@]}"

if [ "$CHECK" = 1 ]; then
    echo "== result equality"
    "$BENCH" report --dir "$DATA" --results "$RESULTS" --check
    exit 0
fi

echo "== ingest and restart (flowseg serve on loopback)"
capped "$BENCH" ops --dir "$DATA" --flowseg "$FLOWSEG" --results "$RESULTS"

echo "== report"
"$BENCH" report --dir "$DATA" --results "$RESULTS" \
    --md docs/benchmarks.md --json docs/benchmarks.json
