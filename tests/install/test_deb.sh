#!/usr/bin/env bash
# test_deb.sh — scripts/package-deb.sh builds the .deb (in the build folder's deb-test/,
# incremental after the first run), and the package is installed with dpkg into a fresh
# root (an empty dpkg database; no chroot: its dependencies are this machine's, so they are
# forced): its control fields (Version from AE_VERSION, Depends from dpkg-shlibdeps naming
# the libraries aesthete links), every file in place (the command, libaesthete.so with its
# symlinks, libaesthete.a, aesthete.h, aesthete.pc with prefix /usr, a gzipped man page per
# command, the three completions, the copyright file), `aesthete --version` run from the
# root, a man page and the bash completion read from there, a C program built against the
# root's library (pkg-config with the root as sysroot), and the package removed again.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../.."
build="${AE_BUILD_DIR:?AE_BUILD_DIR: the build folder}"
fixtures="${AE_FIXTURES:-${AE_FIXTURES_DEFAULT:-$src/../shared/fixtures}}"
command -v dpkg-deb >/dev/null || { echo "test_deb: SKIPPED: dpkg-deb is missing (not Debian)"; exit 77; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
checks=0
fail() { echo "test_deb: FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

version="$(sed -n 's/^#define AE_VERSION "\(.*\)"$/\1/p' "$src/include/aesthete.h")"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
if ! "$src/scripts/package-deb.sh" --build-dir "$build/deb-test" --out "$tmp" >"$tmp/pkg.log" 2>&1; then
    echo "test_deb: FAIL: scripts/package-deb.sh failed:"
    tail -5 "$tmp/pkg.log"
    exit 1
fi
deb="$(tail -1 "$tmp/pkg.log")"
[ "$deb" = "$tmp/aesthete_${version}-1_$(dpkg --print-architecture).deb" ] && [ -s "$deb" ] && ok ||
    { echo "test_deb: FAIL: package-deb.sh wrote '$deb'"; exit 1; }

# control fields
[ "$(dpkg-deb -f "$deb" Package)" = aesthete ] && ok || fail "Package: $(dpkg-deb -f "$deb" Package)"
[ "$(dpkg-deb -f "$deb" Version)" = "${version}-1" ] && ok || fail "Version: $(dpkg-deb -f "$deb" Version)"
depends="$(dpkg-deb -f "$deb" Depends)"
for p in libc6 libjpeg62-turbo libpng16-16 libheif1 libgif7 libjansson4 libcurl4 libsqlite3-0 \
         libmicrohttpd12 libexempi8; do
    [[ ", $depends," == *", $p ("* ]] && ok || fail "Depends names no $p: $depends"
done
[ "$(dpkg-deb -I "$deb" shlibs)" = "libaesthete ${version%%.*} aesthete (>= $version)" ] && ok ||
    fail "shlibs: $(dpkg-deb -I "$deb" shlibs 2>&1)"

# a fresh root with an empty dpkg database
root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
if dpkg --root="$root" --force-depends --force-not-root --log="$tmp/dpkg.log" -i "$deb" >"$tmp/out" 2>&1; then ok
else echo "test_deb: FAIL: dpkg -i into the fresh root:"; tail -5 "$tmp/out"; exit 1; fi
status="$(dpkg --root="$root" -s aesthete 2>&1 | sed -n 's/^Status: //p')"
[ "$status" = "install ok installed" ] && ok || fail "dpkg -s aesthete: status '$status'"

lib="usr/lib/$multiarch"
man="usr/share/man/man1"
files="usr/bin/aesthete usr/include/aesthete.h $lib/libaesthete.a $lib/libaesthete.so
       $lib/libaesthete.so.${version%%.*} $lib/libaesthete.so.$version $lib/pkgconfig/aesthete.pc
       $man/aesthete.1.gz usr/share/bash-completion/completions/aesthete
       usr/share/zsh/vendor-completions/_aesthete usr/share/fish/vendor_completions.d/aesthete.fish
       usr/share/doc/aesthete/copyright"
commands=$("$root/usr/bin/aesthete" --help | awk '/^commands:$/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
for c in $commands; do files="$files $man/aesthete-$c.1.gz"; done
dpkg --root="$root" -L aesthete >"$tmp/listed"
for f in $files; do
    if [ -e "$root/$f" ] && grep -qx "/$f" "$tmp/listed"; then ok; else fail "/$f is not installed by the package"; fi
done

# what runs from the root
out="$(LD_LIBRARY_PATH="$root/$lib" "$root/usr/bin/aesthete" --version 2>&1)"
[ "$out" = "aesthete $version" ] && ok || fail "aesthete --version from the root: '$out'"
LC_ALL=C MANWIDTH=200 man -P cat -l "$root/$man/aesthete-rank.1.gz" >"$tmp/page" 2>&1
grep -q -- '--top K' "$tmp/page" && grep -q '^NAME' "$tmp/page" && ok ||
    fail "man -l aesthete-rank.1.gz from the root: $(head -2 "$tmp/page" | tr '\n' ' ')"
got="$(bash --norc -c 'source "$1"; COMP_WORDS=(aesthete ra); COMP_CWORD=1; _aesthete; echo "${COMPREPLY[*]}"' - \
       "$root/usr/share/bash-completion/completions/aesthete" 2>&1)"
[ "$got" = rank ] && ok || fail "the root's bash completion of 'aesthete ra': '$got'"
[ "$(sed -n 's/^prefix=//p' "$root/$lib/pkgconfig/aesthete.pc")" = /usr ] && ok ||
    fail "aesthete.pc: $(grep '^prefix=' "$root/$lib/pkgconfig/aesthete.pc")"
# a program against the root's library, through its aesthete.pc
flags="$(PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$root/$lib/pkgconfig" pkg-config --cflags --libs aesthete)"
if ${AE_CC:-cc} ${AE_SANITIZE_FLAGS:-} -o "$tmp/consumer" "$here/consumer.c" $flags >"$tmp/out" 2>&1; then
    LD_LIBRARY_PATH="$root/$lib" "$tmp/consumer" "$fixtures/models/tiny-quickgelu" \
        "$fixtures/embeddings/tiny-quickgelu/text_embeds.f32" "$fixtures/images/photo_coffee.gif" >"$tmp/out" 2>&1
    grep -qx "version $version" "$tmp/out" && grep -q '^text embedding: dim 40, equals the golden one' "$tmp/out" &&
        ok || fail "consumer against the root's library printed: $(tr '\n' ' ' <"$tmp/out")"
    LD_LIBRARY_PATH="$root/$lib" ldd "$tmp/consumer" | grep -q "libaesthete.so.${version%%.*} => $root/$lib/" && ok ||
        fail "consumer does not load the root's libaesthete: $(ldd "$tmp/consumer" | grep aesthete)"
else
    fail "cc consumer.c \$(pkg-config --cflags --libs aesthete) with the root as sysroot: $(tail -2 "$tmp/out" | tr '\n' ' ')"
fi

# removed again, every file with it
dpkg --root="$root" --force-depends --force-not-root --log="$tmp/dpkg.log" -r aesthete >"$tmp/out" 2>&1 &&
    [ ! -e "$root/usr/bin/aesthete" ] && [ ! -e "$root/$lib/libaesthete.so.$version" ] && ok ||
    fail "dpkg -r aesthete: $(tail -2 "$tmp/out" | tr '\n' ' ')"

echo "test_deb: $checks checks passed, $fails failed"
[ $fails -eq 0 ]
