#!/usr/bin/env bash
# setup-browser.sh — what tests/test_browser.sh needs: Debian's chromium (installed when
# missing) and playwright-core in tests/browser/node_modules (npm ci from the committed
# package-lock.json). Idempotent: does nothing when both are there.
# Usage: scripts/setup-browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-browser.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.aesthete-lock
if [ -d tests/browser/node_modules/playwright-core ] && [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then
  echo "setup-browser.sh: tests/browser/node_modules is up to date"
else
  # playwright-core downloads no browser; the test uses /usr/bin/chromium
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" "$stamp"
fi
echo "setup-browser.sh: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), playwright-core $(node -p "require('./tests/browser/node_modules/playwright-core/package.json').version")"
