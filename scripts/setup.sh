#!/usr/bin/env bash
# setup.sh — install the Debian packages aesthete needs (when missing), then configure and
# build it. Usage: scripts/setup.sh [--sanitize] [--build-dir DIR] [--with-browser] [--with-duckdb]
#   --sanitize      build with AddressSanitizer + UndefinedBehaviorSanitizer (default dir build-asan)
#   --build-dir D   build into D (default: build, or build-asan with --sanitize)
#   --with-browser  also what the browser test needs (scripts/setup-browser.sh: Debian's
#                   chromium and nodejs, playwright-core from npm); without it that test is
#                   reported as skipped
#   --with-duckdb   also what the Parquet test needs (scripts/setup-duckdb.sh: nodejs,
#                   @duckdb/node-api from npm); without it that test is reported as skipped
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
dir=""
browser=0
duckdb=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=ON ;;
    --build-dir) dir="$2"; shift ;;
    --with-browser) browser=1 ;;
    --with-duckdb) duckdb=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$dir" ] || { [ "$sanitize" = ON ] && dir=build-asan || dir=build; }

# Build tools and libraries, all from Debian 12 (bookworm).
pkgs=(build-essential cmake pkg-config
      libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev libheif-dev libexif-dev
      libxxhash-dev libutf8proc-dev libjansson-dev
      libcurl4-openssl-dev libsqlite3-dev libmicrohttpd-dev libzip-dev libxml2-dev zlib1g-dev
      libexempi-dev libarchive-dev
      # the tests build cull sets with real tools: re-encodes, resizes, EXIF times, XMP reads
      imagemagick webp libjpeg-turbo-progs libimage-exiftool-perl exiv2
      # the tests of the installed library, man pages, completions and .deb (tests/install):
      # x265.pc, which libheif's pulls in, names -lnuma for static links
      man-db zsh fish dpkg-dev libnuma-dev
      # test_shard_slurm brings up a single-host Slurm cluster: its own daemons, config and
      # key in a temporary folder (the packages' system services are not used)
      munge slurmctld slurmd slurm-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "$browser" = 0 ] || scripts/setup-browser.sh
[ "$duckdb" = 0 ] || scripts/setup-duckdb.sh

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DAE_SANITIZE="$sanitize" >/dev/null
cmake --build "$dir" -j"$(nproc)"
echo "setup.sh: built $dir/aesthete"
