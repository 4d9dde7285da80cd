#!/usr/bin/env bash
# setup-duckdb.sh — what tests/test_shard_parquet.sh needs: nodejs and npm from Debian
# (installed when missing) and DuckDB's Node library (@duckdb/node-api, with its native
# @duckdb/node-bindings-linux-x64) in tests/parquet/node_modules (npm ci from the committed
# package-lock.json). Idempotent: does nothing when it is there.
# Usage: scripts/setup-duckdb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-duckdb.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

lock=tests/parquet/package-lock.json
stamp=tests/parquet/node_modules/.aesthete-lock
if [ -d tests/parquet/node_modules/@duckdb/node-api ] && [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then
  echo "setup-duckdb.sh: tests/parquet/node_modules is up to date"
else
  (cd tests/parquet && npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" "$stamp"
fi
echo "setup-duckdb.sh: @duckdb/node-api $(node -p "require('./tests/parquet/node_modules/@duckdb/node-api/package.json').version")"
