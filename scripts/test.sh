#!/usr/bin/env bash
# Passes all of flowseg's checks on a fresh machine: formatting, lints, and
# every test of the workspace. Needs only the Rust toolchain (cargo fetches
# the crates from crates.io).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== panel browser tests"
bash scripts/panel-tests.sh

echo "== benchmark check: the suite's result sets equal DuckDB's and chDB's (no timing)"
bash scripts/bench.sh --check
