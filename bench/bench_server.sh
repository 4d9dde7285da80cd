#!/usr/bin/env bash
# bench_server.sh — load benchmark of `aesthete serve` on loopback with the full-size ViT-B/32
# recipe weights (random weights, the cost of openai/clip-vit-base-patch32): wrk POSTs one
# JPEG (fixtures images/photo_boats.jpg, 1024x683, 344 kB) to /api/score as the raw body, at
# 1, 4 and 16 concurrent connections, and reports requests/s with p50/p99 latency. Each
# request is a full decode + resize + ViT-B/32 forward pass + score; concurrent requests are
# batched by the server (--batch). The last line repeats 16 connections with --batch 1 to
# show what batching buys. Each row is the median of $REPS runs (default 3), the rows
# interleaved. Not a test; the numbers go into the README (the output is a Markdown table).
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
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
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

start() { # name extra-args...: starts a server, sets url_<name>
  local name="$1"
  shift
  "$build/aesthete" serve --model "$model" --port 0 --no-cache --quiet --max-inflight 64 --max-per-ip 64 \
    --threads "${THREADS:-0}" "$@" 2>"$tmp/$name.log" &
  pids+=($!)
  local u=""
  for _ in $(seq 1 600); do
    u="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/$name.log" | head -1 || true)"
    [ -n "$u" ] && break
    sleep 0.1
  done
  [ -n "$u" ] || { cat "$tmp/$name.log" >&2; exit 1; }
  curl -s -o /dev/null -X POST --data-binary "@$image" -H 'Content-Type: image/jpeg' "$u/api/score" # warm-up
  printf -v "url_$name" '%s' "$u"
}

ms() { # wrk latency (950.00us, 76.53ms, 1.07s) in ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.0f", n }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# rows: label server clients. Both servers stay up (idle when not measured) and the rows are
# interleaved within each repetition, so that a slow spell of a shared machine hits all rows.
rows=("--batch 8 (default)|b8|1" "--batch 8 (default)|b8|4" "--batch 8 (default)|b8|16" "--batch 1|b1|16")
start b8
start b1 --batch 1
for rep in $(seq 1 "${REPS:-3}"); do
  for i in "${!rows[@]}"; do
    IFS='|' read -r label name c <<<"${rows[$i]}"
    u="url_$name"
    out="$(wrk -t1 -c"$c" -d"${secs}s" --timeout 30s --latency -s "$tmp/post.lua" "${!u}/api/score" 2>&1)"
    echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")" >> "$tmp/rps$i"
    ms "$(awk '$1 == "50%" {print $2}' <<<"$out")" >> "$tmp/p50_$i"; echo >> "$tmp/p50_$i"
    ms "$(awk '$1 == "99%" {print $2}' <<<"$out")" >> "$tmp/p99_$i"; echo >> "$tmp/p99_$i"
    grep -c '^status ' <<<"$out" >> "$tmp/err$i" || true
  done
done

echo "aesthete serve load test: ViT-B/32 recipe, $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), median of ${REPS:-3} runs of ${secs} s per row"
echo
echo "| server | clients | req/s | p50 ms | p99 ms | non-200 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for i in "${!rows[@]}"; do
  IFS='|' read -r label name c <<<"${rows[$i]}"
  printf "| %-22s | %4d | %7.1f | %7s | %7s | %d |\n" "$label" "$c" "$(median < "$tmp/rps$i")" \
    "$(median < "$tmp/p50_$i")" "$(median < "$tmp/p99_$i")" "$(awk '{ s += $1 } END { print s + 0 }' "$tmp/err$i")"
done
for p in "${pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
pids=()
