#!/usr/bin/env bash
# setup.sh — install the Debian packages aesthete needs (when missing), then configure and
# build it. Usage: scripts/setup.sh [--sanitize] [--build-dir DIR]
#   --sanitize     build with AddressSanitizer + UndefinedBehaviorSanitizer (default dir build-asan)
#   --build-dir D  build into D (default: build, or build-asan with --sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=ON ;;
    --build-dir) dir="$2"; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
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

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DAE_SANITIZE="$sanitize" >/dev/null
cmake --build "$dir" -j"$(nproc)"
echo "setup.sh: built $dir/aesthete"
