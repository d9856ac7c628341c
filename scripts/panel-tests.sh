#!/usr/bin/env bash
# The web panel's browser tests (tests/panel), runnable on a fresh machine:
# installs Debian's Chromium when it is missing (browser downloads by test
# tools cannot work here, so the system package is used), installs the
# pinned playwright-core, builds the flowseg binary, and runs node's test
# runner against it. Exits non-zero when any step or test fails.
#
#   bash scripts/panel-tests.sh                 # everything
#   SCREENSHOTS=docs bash scripts/panel-tests.sh  # also refresh docs/screenshots
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "== apt-get install chromium"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

echo "== npm ci (tests/panel)"
(cd tests/panel && npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo build --bin flowseg"
cargo build --locked --bin flowseg

echo "== node --test (tests/panel)"
cd tests/panel
node --test --test-concurrency=1
