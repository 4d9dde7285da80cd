#!/usr/bin/env bash
# package-deb.sh — a Debian package of aesthete, aesthete_VERSION-1_ARCH.deb: the command, its
# man pages and bash/zsh/fish completions, and libaesthete (libaesthete.so.MAJOR with its
# shlibs, libaesthete.a, aesthete.h, aesthete.pc). `cmake --install` of a Release build
# configured for prefix /usr and Debian's multiarch libdir puts it into a staging root;
# dpkg-shlibdeps computes Depends from the shared libraries its programs link; dpkg-deb
# builds the package.
# Usage: scripts/package-deb.sh [--build-dir DIR] [--out DIR]
#   --build-dir D  the build folder, configured and built here (default: build-deb)
#   --out D        where the .deb is written (default: the build folder)
# The last line printed is the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build-deb
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) dir="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "package-deb.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || out="$dir"
for tool in dpkg-deb dpkg-shlibdeps dpkg-architecture; do
  command -v "$tool" >/dev/null || { echo "package-deb.sh: $tool is missing (Debian: dpkg-dev)" >&2; exit 1; }
done

version="$(sed -n 's/^#define AE_VERSION "\(.*\)"$/\1/p' include/aesthete.h)"
arch="$(dpkg --print-architecture)"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
deb="$out/aesthete_${version}-1_${arch}.deb"

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DAE_SANITIZE=OFF -DAE_NATIVE=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR="lib/$multiarch" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target aesthete_cli aesthete aesthete_shared aesthete_docs >/dev/null

work="$(mktemp -d "$dir/deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/DEBIAN"
chmod 755 "$root"
DESTDIR="$root" cmake --install "$dir" >/dev/null

# Debian's conventions: man pages gzipped, the licences in /usr/share/doc/PACKAGE/copyright
gzip -9n "$root"/usr/share/man/man1/*.1
{
  echo "aesthete $version"
  echo
  awk '/^## Licences$/ { on = 1; next } on && /^## / { exit } on' README.md
} >"$root/usr/share/doc/aesthete/copyright"

# Depends: the packages of the shared libraries the command and the library link
mkdir "$work/debian"
printf 'Source: aesthete\n\nPackage: aesthete\nArchitecture: any\n' >"$work/debian/control"
if ! depends="$(cd "$work" && dpkg-shlibdeps -O -e"$root/usr/bin/aesthete" \
                  -e"$root/usr/lib/$multiarch/libaesthete.so.$version" 2>"$work/shlibdeps.err")"; then
  echo "package-deb.sh: dpkg-shlibdeps failed: $(grep -m1 error "$work/shlibdeps.err")" >&2
  exit 1
fi
depends="${depends#shlibs:Depends=}"

major="${version%%.*}"
cat >"$root/DEBIAN/control" <<EOF
Package: aesthete
Version: ${version}-1
Architecture: $arch
Maintainer: ${DEBFULLNAME:-aesthete developers} <${DEBEMAIL:-aesthete@localhost}>
Installed-Size: $(du -sk "$root/usr" | cut -f1)
Depends: $depends
Section: graphics
Priority: optional
Description: CLIP aesthetic scoring and ranking of images, natively in C
 aesthete scores, ranks and culls images by aesthetic quality with OpenAI
 CLIP and zero-shot prompting, loading the Hugging Face CLIP checkpoints
 people already have.
 .
 This package holds the aesthete command, with its man pages and bash, zsh
 and fish completions, and libaesthete: the shared and the static library,
 its header and its pkg-config file (aesthete.pc).
EOF
# other packages' programs linking libaesthete.so.MAJOR depend on this one; ldconfig runs
echo "libaesthete $major aesthete (>= $version)" >"$root/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$root/DEBIAN/triggers"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$work/package.deb" >/dev/null
mv "$work/package.deb" "$deb"
echo "package-deb.sh: Depends: $depends"
echo "$deb"
