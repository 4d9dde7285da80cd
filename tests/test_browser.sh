#!/usr/bin/env bash
# test_browser.sh — the web page of `aesthete serve` in headless Chromium: starts the server
# with the tiny fixture model on a free loopback port, runs tests/browser/page.test.mjs
# (playwright-core + Debian's /usr/bin/chromium), then stops the server with SIGTERM and
# expects exit status 0. The screenshots go to $AE_ARTIFACTS (default: the current folder,
# the build folder under ctest). Exits 77 (skipped) when chromium, node or
# tests/browser/node_modules are missing: scripts/setup-browser.sh installs them.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
cli="${AE_CLI:-}"
fixtures="${AE_FIXTURES:-${AE_FIXTURES_DEFAULT:-$here/../../shared/fixtures}}"
artifacts="${AE_ARTIFACTS:-$PWD}"

skip() { echo "test_browser: SKIPPED: $1 (run scripts/setup-browser.sh)"; exit 77; }
[ -x /usr/bin/chromium ] || skip "/usr/bin/chromium is not installed"
command -v node >/dev/null || skip "node is not installed"
[ -d "$here/browser/node_modules/playwright-core" ] || skip "tests/browser/node_modules is missing"
[ -n "$cli" ] && [ -x "$cli" ] || { echo "test_browser: AE_CLI is not set to the aesthete binary" >&2; exit 1; }

tmp="$(mktemp -d)"
mkdir -p "$artifacts"
log="$tmp/server.log"
# --max-banks 1: the page's recovery from banks the server forgot is tested for real
"$cli" serve --model "$fixtures/models/tiny-quickgelu" --port 0 --no-cache --max-banks 1 2>"$log" &
pid=$!
cleanup() { kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

url=""
for _ in $(seq 1 300); do
  url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1)"
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "test_browser: the server did not start:" >&2
  cat "$log" >&2
  exit 1
fi
echo "test_browser: server at $url"

AE_URL="$url" AE_FIXTURES="$fixtures" AE_SOURCE_DIR="$here/.." AE_ARTIFACTS="$artifacts" AE_TMP="$tmp" \
  timeout 120 node "$here/browser/page.test.mjs"
rc=$?

# the page of a server that needs a token, and another origin against a loopback server
echo "0123456789abcdef-browser-token" > "$tmp/token"
"$cli" serve --model "$fixtures/models/tiny-quickgelu" --port 0 --no-cache --auth-token "$tmp/token" 2>"$tmp/access.log" &
apid=$!
aurl=""
for _ in $(seq 1 300); do
  aurl="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/access.log" | head -1)"
  [ -n "$aurl" ] && break
  kill -0 "$apid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$aurl" ]; then
  AE_URL="$aurl" AE_TOKEN="0123456789abcdef-browser-token" AE_LOG="$tmp/access.log" AE_FIXTURES="$fixtures" AE_TMP="$tmp" \
    timeout 120 node "$here/browser/access.test.mjs" || rc=1
else
  echo "test_browser: the token server did not start:" >&2
  cat "$tmp/access.log" >&2
  rc=1
fi
kill -TERM "$apid" 2>/dev/null
wait "$apid"

kill -TERM "$pid"
wait "$pid"
src=$?
trap - EXIT
if [ "$src" -ne 0 ]; then
  echo "test_browser: the server exited with status $src after SIGTERM (expected 0)" >&2
  cat "$log" >&2
  rc=1
fi
rm -rf "$tmp"
[ "$rc" -eq 0 ] && echo "test_browser: passed" || echo "test_browser: FAILED"
exit "$rc"
