# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by peers.sh and e2e.sh
# common.sh — what bench/peers.sh and bench/e2e.sh share, sourced by both from the repository
# root: the paths and knobs, PyTorch's tuned environment, the check for missing Debian
# packages, building our binaries and generating the recipe model once.
ROOT=$PWD
BUILD=${BUILD:-build}
MODEL=${AE_B32_DIR:-$HOME/.cache/aesthete-b32}
CACHE=${AE_PEERS_CACHE:-$HOME/.cache/aesthete-peers}
FIXTURES=${AE_FIXTURES:-$ROOT/../shared/fixtures}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
PY=/usr/bin/python3 # Debian's: python3-torch lives there, not in a pyenv python3
REPORT=(/usr/bin/python3 "$ROOT/bench/peers/report.py")
AE="$BUILD/aesthete"
# PyTorch's tuned environment (shared/bench-peers/README.md): OpenBLAS picks its own kernel,
# glibc malloc keeps freed memory (no mmap/munmap churn per op), idle OpenMP threads sleep.
TUNED=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE
       GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296)

# need_packages SCRIPT PKG...: installs them with AE_INSTALL=1, else says how and exits 2
need_packages() {
  local script=$1
  shift
  [ $# -gt 0 ] || return 0
  if [ "${AE_INSTALL:-0}" = 1 ]; then apt-get install -y "$@"
  else echo "$script: missing packages; run: apt-get install -y $* (or AE_INSTALL=1 bench/$script)" >&2; exit 2
  fi
}

# build_targets TARGET...: builds into $BUILD those whose binary is missing (aesthete_cli
# makes aesthete), then generates the recipe model if it is not there yet
build_targets() {
  local need=() t
  for t in "$@"; do [ -x "$BUILD/${t%_cli}" ] || need+=("$t"); done
  if [ ${#need[@]} -gt 0 ]; then
    echo "building ${need[*]} in $BUILD"
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j"$THREADS" --target "${need[@]}" >/dev/null
  fi
  if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "generating the B/32 recipe model in $MODEL (605 MB, once)"
    mkdir -p "$MODEL" && "$BUILD/bench_make_model" "$MODEL" >/dev/null
  fi
}
