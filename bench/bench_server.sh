#!/usr/bin/env bash
# bench_server.sh — load benchmark of `aesthete serve` on loopback with the full-size ViT-B/32
# recipe weights (random weights, the cost of openai/clip-vit-base-patch32): wrk POSTs one
# JPEG (fixtures images/photo_boats.jpg, 1024x683, 344 kB) to /api/score as the raw body, at
# 1, 4 and 16 concurrent connections, and reports requests/s with p50/p99 latency. Each
# request is a full decode + resize + ViT-B/32 forward pass + score; concurrent requests are
# batched by the server (--batch). The last line repeats 16 connections with --batch 1 to
# show what batching buys. Not a test; the numbers go into the README.
#
# Usage: bench/bench_server.sh [BUILD_DIR] [SECONDS]   (defaults: build, 10)
#   needs: wrk (Debian), BUILD_DIR/aesthete, BUILD_DIR/bench_make_model
#   model: $AE_B32_DIR if set, else /tmp/aesthete-b32-recipe (generated once, 605 MB)
#   $THREADS: the server's --threads (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
secs="${2:-10}"
fixtures="${AE_FIXTURES:-$(pwd)/../shared/fixtures}"
model="${AE_B32_DIR:-/tmp/aesthete-b32-recipe}"
image="$fixtures/images/photo_boats.jpg"
command -v wrk >/dev/null || { echo "bench_server.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -f "$model/model.safetensors" ] || "$build/bench_make_model" "$model" >/dev/null

tmp="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cat > "$tmp/post.lua" <<LUA
local f = assert(io.open("$image", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/jpeg"
function response(status, headers, body)
  if status ~= 200 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
end
LUA

start() { # extra args...
  "$build/aesthete" serve --model "$model" --port 0 --no-cache --quiet --max-inflight 64 --max-per-ip 64 \
    --threads "${THREADS:-0}" "$@" 2>"$tmp/log" &
  pid=$!
  for _ in $(seq 1 600); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/log" | head -1 || true)"
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  cat "$tmp/log" >&2
  exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

run() { # connections label
  local c="$1" label="$2" out
  out="$(wrk -t1 -c"$c" -d"${secs}s" --timeout 30s --latency -s "$tmp/post.lua" "$url/api/score" 2>&1)"
  local rps p50 p99 errs
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  errs="$(grep -c '^status ' <<<"$out" || true)"
  printf "%-28s %3d  %8s  %9s  %9s  %s\n" "$label" "$c" "$rps" "$p50" "$p99" "${errs} non-200"
}

echo "aesthete serve load test: ViT-B/32 recipe, $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), ${secs} s per row"
printf "%-28s %3s  %8s  %9s  %9s\n" "server" "conn" "req/s" "p50" "p99"
start
curl -s -o /dev/null -X POST --data-binary "@$image" -H 'Content-Type: image/jpeg' "$url/api/score" # warm-up
for c in 1 4 16; do run "$c" "--batch 8 (default)"; done
stop
start --batch 1
curl -s -o /dev/null -X POST --data-binary "@$image" -H 'Content-Type: image/jpeg' "$url/api/score"
run 16 "--batch 1"
stop
