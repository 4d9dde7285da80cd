#!/usr/bin/env bash
# test_install.sh — `cmake --install` of the build into a clean temporary prefix, then the
# installed library as a user meets it:
#   - every file in its place: the command, the header, libaesthete.a, libaesthete.so with its
#     soname (libaesthete.so.MAJOR, from AE_VERSION), aesthete.pc, the man pages, the bash,
#     zsh and fish completions;
#   - libaesthete.so exports the functions of aesthete.h and nothing else;
#   - tests/install/consumer.c and consumer.cc (C and C++) built with nothing but
#     `pkg-config --cflags --libs aesthete` (PKG_CONFIG_PATH at the prefix), linked to the
#     shared library, and the C one once more to the static one with `pkg-config --static`
#     (its Requires.private and Libs.private complete); each run on the tiny fixture model
#     and its output compared line by line;
#   - the installed aesthete prints the version and its man page renders.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
build="${AE_BUILD_DIR:?AE_BUILD_DIR: the build folder}"
libdir="${AE_LIBDIR:-lib}"
fixtures="${AE_FIXTURES:-${AE_FIXTURES_DEFAULT:-$here/../../../shared/fixtures}}"
cc="${AE_CC:-cc}"
cxx="${CXX:-c++}"
san="${AE_SANITIZE_FLAGS:-}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fails=0
checks=0
fail() { echo "test_install: FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }
# run "$@", its output into $tmp/out; on failure say so with the command's own last lines
run() {
    if "$@" >"$tmp/out" 2>&1; then return 0; fi
    fail "'$*' exited with $?: $(tail -3 "$tmp/out" | tr '\n' ' ')"
    return 1
}

version="$(sed -n 's/^#define AE_VERSION "\(.*\)"$/\1/p' "$here/../../include/aesthete.h")"
[ -n "$version" ] || { echo "test_install: FAIL: no AE_VERSION in include/aesthete.h"; exit 1; }
major="${version%%.*}"

run cmake --install "$build" --prefix "$prefix" || exit 1
for f in bin/aesthete include/aesthete.h "$libdir/libaesthete.a" "$libdir/libaesthete.so" \
         "$libdir/libaesthete.so.$major" "$libdir/libaesthete.so.$version" \
         "$libdir/pkgconfig/aesthete.pc" share/man/man1/aesthete.1 share/man/man1/aesthete-rank.1 \
         share/man/man1/aesthete-cull.1 share/bash-completion/completions/aesthete \
         share/zsh/site-functions/_aesthete share/fish/vendor_completions.d/aesthete.fish \
         share/doc/aesthete/README.md; do
    if [ -e "$prefix/$f" ]; then ok; else fail "$f is not installed"; fi
done
lib="$prefix/$libdir"
if [ "$(readlink "$lib/libaesthete.so")" = "libaesthete.so.$major" ] &&
   [ "$(readlink "$lib/libaesthete.so.$major")" = "libaesthete.so.$version" ]; then ok
else fail "libaesthete.so -> $(readlink "$lib/libaesthete.so"), .so.$major -> $(readlink "$lib/libaesthete.so.$major")"; fi
soname="$(readelf -d "$lib/libaesthete.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ "$soname" = "libaesthete.so.$major" ] && ok || fail "soname '$soname', expected libaesthete.so.$major"

# the exports: the functions declared in the header, no more, no fewer
grep -oE '^[a-z][^(]*[ *]ae_[a-z0-9_]+\(' "$prefix/include/aesthete.h" | grep -oE 'ae_[a-z0-9_]+\($' |
    tr -d '(' | sort -u >"$tmp/api"
nm -D --defined-only "$lib/libaesthete.so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort -u >"$tmp/exports"
if [ "$(wc -l <"$tmp/api")" -gt 50 ] && cmp -s "$tmp/api" "$tmp/exports"; then ok
else fail "exports differ from the header's functions: $(diff "$tmp/api" "$tmp/exports" | grep '^[<>]' | head -5 | tr '\n' ' ')"; fi

# pkg-config, at the prefix only
export PKG_CONFIG_PATH="$lib/pkgconfig"
[ "$(pkg-config --modversion aesthete)" = "$version" ] && ok || fail "pkg-config --modversion: '$(pkg-config --modversion aesthete 2>&1)'"
[ "$(pkg-config --variable=prefix aesthete)" = "$prefix" ] && ok || fail "pkg-config prefix: '$(pkg-config --variable=prefix aesthete)', expected $prefix"
flags="$(pkg-config --cflags --libs aesthete)" || { fail "pkg-config --cflags --libs aesthete failed"; flags=""; }
static_libs="$(pkg-config --static --libs aesthete)" || fail "pkg-config --static --libs aesthete failed"

model="$fixtures/models/tiny-quickgelu"
golden="$fixtures/embeddings/tiny-quickgelu/text_embeds.f32"
image="$fixtures/images/photo_coffee.gif"
expect_c="version $version
precision int8 -> 1 int8
precision fp64 -> -1
image 600x400
missing model -> invalid argument: /nonexistent/model: MISSING
text embedding: dim 40, equals the golden one (max difference < 1e-5)"
expect_cc="version $version
prompt 0: cosine to the golden embedding > 0.99999
prompt 1: cosine to the golden embedding > 0.99999"

check_run() { # name expected-output program...
    local name="$1" want="$2"
    shift 2
    run "$@" || return
    # the message of a missing model is the library's own: only its start is fixed here
    sed -E 's|^(missing model -> [^:]*: /nonexistent/model): .*|\1: MISSING|' "$tmp/out" >"$tmp/got"
    if [ "$(cat "$tmp/got")" = "$want" ]; then ok
    else fail "$name printed:"; sed 's/^/    /' "$tmp/out"; fi
}
needs() { readelf -d "$1" | grep -c "NEEDED.*\[libaesthete\.so\.$major\]"; }

# C, shared
if run $cc $san -o "$tmp/c_shared" "$here/consumer.c" $flags; then
    check_run "consumer (C, shared)" "$expect_c" env LD_LIBRARY_PATH="$lib" "$tmp/c_shared" "$model" "$golden" "$image"
    [ "$(needs "$tmp/c_shared")" = 1 ] && ok || fail "consumer (C, shared) does not need libaesthete.so.$major"
fi
# C++, shared: aesthete.h from C++ (its extern "C" guards), warnings as errors
if run $cxx $san -std=c++17 -Wall -Wextra -Werror -o "$tmp/cc_shared" "$here/consumer.cc" $flags; then
    check_run "consumer (C++, shared)" "$expect_cc" env LD_LIBRARY_PATH="$lib" "$tmp/cc_shared" "$model" "$golden"
fi
# C, static libaesthete (its dependencies still shared): the archive, then --static's flags
if run $cc $san -o "$tmp/c_static" "$here/consumer.c" $(pkg-config --cflags aesthete) \
       -Wl,--as-needed "$(pkg-config --variable=libdir aesthete)/libaesthete.a" $static_libs; then
    check_run "consumer (C, static)" "$expect_c" "$tmp/c_static" "$model" "$golden" "$image"
    [ "$(needs "$tmp/c_static")" = 0 ] && ok || fail "consumer (C, static) needs libaesthete.so.$major"
fi

# the installed command and its man page
[ "$("$prefix/bin/aesthete" --version)" = "aesthete $version" ] && ok || fail "installed aesthete --version: '$("$prefix/bin/aesthete" --version 2>&1)'"
if LC_ALL=C MANWIDTH=200 man -P cat -l "$prefix/share/man/man1/aesthete-rank.1" 2>&1 | grep -q -- '--top K'; then ok
else fail "man -l the installed aesthete-rank.1 shows no --top K"; fi

echo "test_install: $checks checks passed, $fails failed"
[ $fails -eq 0 ]
