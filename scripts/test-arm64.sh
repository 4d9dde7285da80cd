#!/usr/bin/env bash
# test-arm64.sh — cross-build aesthete for AArch64 and run its kernel and golden tests under
# qemu-user: Debian's gcc-aarch64-linux-gnu with the arm64 libraries of a multiarch install
# (installed here when missing), cmake/aarch64-linux-gnu.cmake, build-arm64/. The kernel tests
# cover both ARM sets (neon, neondot) in one run, the golden tests run once per set
# (AE_KERNELS); then the set chosen at start-up is checked on an emulated CPU without the
# dot-product extension (-cpu cortex-a53: neon) and with it (-cpu max: neondot). qemu checks
# correctness only: nothing here measures ARM speed.
# Usage: scripts/test-arm64.sh [--build-dir DIR] [--jobs N]
#   --build-dir D  build into D (default build-arm64)
#   --jobs N       parallel compile jobs (default: the number of CPUs)
# Tests read the fixtures from $AE_FIXTURES (default ../shared/fixtures); logs go to
# <build dir>/arm64-logs/. Exit status 1 if any test or check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build-arm64
jobs="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) dir="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test-arm64.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# The cross compiler, qemu, and the arm64 builds of every library the project links (the same
# list as scripts/setup.sh, with :arm64), all from Debian 12.
host_pkgs=(cmake pkg-config gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
arm_pkgs=(libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev libheif-dev libexif-dev
          libxxhash-dev libutf8proc-dev libjansson-dev libexempi-dev
          libcurl4-openssl-dev libsqlite3-dev libmicrohttpd-dev libzip-dev libxml2-dev zlib1g-dev
          libarchive-dev)
missing=()
for p in "${host_pkgs[@]}" "${arm_pkgs[@]/%/:arm64}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-arm64.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The kernel and golden tests (the app layer's tests spawn the CLI, which a qemu-user process
# cannot exec without binfmt_misc). The kernel tests go through every set the CPU runs by
# themselves, both ARM sets in one run; the golden tests use the set chosen at start-up and
# run once per set (AE_KERNELS); test_b32 (full-size ViT-B/32, ~2 min under qemu) runs once,
# as the two sets share their float32 kernels and it is float32 only.
kernel_tests=(test_nn test_quant test_tiles)
golden_tests=(test_safetensors test_config test_tokenizer test_image test_model test_clip)
once_tests=(test_b32)
tests=("${kernel_tests[@]}" "${golden_tests[@]}" "${once_tests[@]}")

cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j"$jobs" --target "${tests[@]}"

# -L /: the loader and libc of libc6:arm64 (see cmake/aarch64-linux-gnu.cmake)
qemu=(qemu-aarch64 -L /)
export AE_FIXTURES="${AE_FIXTURES:-$PWD/../shared/fixtures}"
logs="$dir/arm64-logs"
mkdir -p "$logs"
failed=()

# run_test SET TEST: runs one test with AE_KERNELS=SET ("" = the default choice), one line;
# a failure is appended to $logs/failed (lanes run in subshells)
run_test() {
  local kset="$1" t="$2" log="$logs/${1:-default}-$2.log" t0 rc=0
  t0=$(date +%s)
  if [ -n "$kset" ]; then
    AE_KERNELS=$kset "${qemu[@]}" "$dir/$t" >"$log" 2>&1 || rc=$?
  else
    env -u AE_KERNELS "${qemu[@]}" "$dir/$t" >"$log" 2>&1 || rc=$?
  fi
  printf '%-8s %-17s %4ss  %s\n' "${kset:-default}" "$t" "$(( $(date +%s) - t0 ))" "$(tail -n 1 "$log")"
  if [ "$rc" -ne 0 ]; then
    echo "${kset:-default}/$t (exit $rc, $log)" >>"$logs/failed"
    grep -m 5 'CHECK failed' "$log" >&2 || true
  fi
}
# run_lane SET:TEST...: one after the other
run_lane() {
  local spec
  for spec in "$@"; do run_test "${spec%%:*}" "${spec#*:}"; done
}

# Two lanes of about equal length where there are two CPUs (qemu-user runs a test's threads
# on the host's): test_quant alone, everything else in the other.
rm -f "$logs/failed"
lane1=(:test_quant)
lane2=()
for t in "${kernel_tests[@]}"; do [ "$t" = test_quant ] || lane2+=(":$t"); done
for kset in neon neondot; do
  for t in "${golden_tests[@]}"; do lane2+=("$kset:$t"); done
done
for t in "${once_tests[@]}"; do lane2+=(":$t"); done
if [ "$(nproc)" -ge 2 ]; then
  run_lane "${lane1[@]}" &
  run_lane "${lane2[@]}"
  wait
else
  run_lane "${lane1[@]}" "${lane2[@]}"
fi
[ -f "$logs/failed" ] && mapfile -t failed <"$logs/failed"

# The default choice (no AE_KERNELS): neon without SDOT, neondot with it
for check in "cortex-a53 neon" "max neondot"; do
  set -- $check
  log="$logs/cpu-$1.log"
  rc=0
  env -u AE_KERNELS "${qemu[@]}" -cpu "$1" "$dir/test_tiles" >"$log" 2>&1 || rc=$?
  got=$(sed -n 's/^default kernel set: //p' "$log")
  printf '%-8s %-17s        default kernel set %s (expected %s)\n' "-cpu" "$1" "${got:-?}" "$2"
  [ "$rc" -eq 0 ] && [ "$got" = "$2" ] || failed+=("-cpu $1: default set '${got:-?}', expected $2 ($log)")
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'test-arm64.sh: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "test-arm64.sh: all ARM tests passed under qemu (correctness only)"
