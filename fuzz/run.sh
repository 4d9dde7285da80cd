#!/usr/bin/env bash
# run.sh — builds the fuzz targets with clang (libFuzzer + ASan + UBSan, CMake option AE_FUZZ,
# into build-fuzz/) and runs each for a bounded time on its seeds (fuzz/corpus/<target>/).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (default 20 s each, every target; TARGET is a
# name such as image or fuzz_image). Fails (exit 1) on any crash, sanitizer report, leak,
# timeout (one input over 10 s) or out-of-memory (over 2 GiB), keeping the input that did it
# in build-fuzz/artifacts/; prints the executions of each target. Leaks inside Debian's
# libraries are suppressed by name (fuzz/lsan.supp). New inputs the runs find
# are kept in build-fuzz/corpus/<target>/ (the committed seeds are never written to): a
# later run starts from them. Installs Debian's clang when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-20}"
[ $# -gt 0 ] && shift
case "$secs" in ''|*[!0-9]*) echo "run.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;; esac
dir=build-fuzz

# clang, and libFuzzer's runtime (libclang-rt-14-dev, a dependency of Debian 12's clang-14)
if ! command -v clang >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "run.sh: installing clang"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi

CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DAE_FUZZ=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz

targets=()
if [ $# -gt 0 ]; then
  for t in "$@"; do targets+=("${t#fuzz_}"); done
else
  for f in fuzz/fuzz_*.c; do t="${f#fuzz/fuzz_}"; targets+=("${t%.c}"); done
fi

# the longest input each target is given (bytes)
max_len() {
  case "$1" in
    caches) echo 64 ;;
    image|pickle|pth|head|safetensors) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

mkdir -p "$dir/artifacts" "$dir/logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$dir/fuzz_$t"
  [ -x "$bin" ] || { echo "run.sh: no target fuzz_$t" >&2; exit 2; }
  work="$dir/corpus/$t"
  mkdir -p "$work"
  seeds=()
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")"
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-")
  [ -f "fuzz/$t.dict" ] && opts+=(-dict="fuzz/$t.dict")
  # exempi prints every XMP error it meets; libFuzzer's and the sanitizers' reports still show
  [ "$t" = xmp ] && opts+=(-close_fd_mask=2)
  log="$dir/logs/$t.log"
  rc=0
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp" "$bin" "${opts[@]}" "$work" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
  inputs=$(find "$work" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    line=$(printf '%-12s %12s executions  %8s/s  %5s inputs  ok' "$t" "${execs:-0}" "$rate" "$inputs")
  else
    line=$(printf '%-12s %12s executions  %8s/s  %5s inputs  FAILED (exit %s, %s)' "$t" "${execs:-0}" "$rate" "$inputs" "$rc" "$log")
    failed+=("$t")
    grep -E "ERROR:|runtime error|SUMMARY|Test unit written|leak" "$log" | head -20 >&2 || true
  fi
  echo "$line"
  summary+=("$line")
done

echo "== fuzz: ${#targets[@]} targets, $secs s each"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: failed: ${failed[*]} (inputs in $dir/artifacts/, logs in $dir/logs/)" >&2
  exit 1
fi
