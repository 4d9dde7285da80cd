#!/usr/bin/env bash
# test_man.sh — the man pages the build generated (build/doc/man1, doc/cli-docs.sh) say what
# the help texts say: for aesthete(1) and every command's aesthete-CMD(1), rendered by
# `man -l` as a reader sees them,
#   - the NAME line is the command's line of `aesthete --help`;
#   - the options of its items (the lines "  --opt ARG  text" of `aesthete CMD --help`) are
#     the options of the page's tagged paragraphs, as sets;
#   - every --option the help text names anywhere is on the page, and no other;
#   - every line of the help text is on the page (words in order, whitespace aside).
# The help texts are parsed here on their own (not by doc/helptext.awk), so a generator that
# drops or mangles a piece fails. aesthete(1) lists every command and the pages' SEE ALSO
# name each other.
set -u
cli="${AE_CLI:?AE_CLI: the aesthete binary}"
man1="${AE_DOC_DIR:?AE_DOC_DIR: the doc folder of the build}/man1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
checks=0
fail() { echo "test_man: FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

command -v man >/dev/null || { echo "test_man: FAIL: man is not installed (Debian: man-db)"; exit 1; }

# the options at the start of each line of stdin ("-o, --output FILE text" -> -o --output)
leading_options() {
    local l rest
    while IFS= read -r l; do
        rest="$l"
        while [[ $rest =~ ^(-[-A-Za-z0-9]+)(\ [^\ ,-][^\ ,]*)?(.*)$ ]]; do
            [ "${BASH_REMATCH[1]}" = "--" ] || echo "${BASH_REMATCH[1]}"
            rest="${BASH_REMATCH[3]}"
            [[ $rest == ", -"* ]] || break
            rest="${rest#, }"
        done
    done | sort -u
}
# a page as a reader sees it, one paragraph per line
render() { LC_ALL=C MANWIDTH=1000 man -P cat -l "$1" 2>"$tmp/man.err"; }

"$cli" --help >"$tmp/main.help" || { echo "test_man: FAIL: aesthete --help failed"; exit 1; }
commands=$(awk '/^commands:$/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$tmp/main.help")
[ "$(echo "$commands" | wc -w)" -ge 10 ] || fail "aesthete --help lists only: $commands"

check_page() { # page help-file summary
    local page="$1" help="$2" summary="$3" file="$man1/$1.1"
    if [ ! -s "$file" ]; then fail "$file is missing"; return; fi
    if ! render "$file" >"$tmp/page.txt" || [ -s "$tmp/man.err" ]; then
        fail "man -l $file: $(head -1 "$tmp/man.err")"; return
    fi
    # NAME
    if grep -qxF "       $page - $summary" "$tmp/page.txt"; then ok
    else fail "$page: NAME is '$(grep -A1 '^NAME' "$tmp/page.txt" | tail -1)', expected '$page - $summary'"; fi
    # the items' options
    grep -E '^  -[^ ]' "$help" | sed 's/^  //' | leading_options >"$tmp/help.items"
    grep -E '^       -[^ ]' "$tmp/page.txt" | sed 's/^       //' | leading_options >"$tmp/page.items"
    if [ ! -s "$tmp/help.items" ] && [ "$page" != aesthete-fetch-model ]; then
        fail "$page: no options parsed from its help text"
    elif cmp -s "$tmp/help.items" "$tmp/page.items"; then ok
    else fail "$page: the options of the help's items and the page's differ: $(diff "$tmp/help.items" "$tmp/page.items" | grep '^[<>]' | tr '\n' ' ')"; fi
    # every --option named anywhere
    grep -oE -- '--[a-z][-a-z0-9]*' "$help" | sort -u >"$tmp/help.all"
    grep -oE -- '--[a-z][-a-z0-9]*' "$tmp/page.txt" | sort -u >"$tmp/page.all"
    if cmp -s "$tmp/help.all" "$tmp/page.all"; then ok
    else fail "$page: the options named in the help and on the page differ: $(diff "$tmp/help.all" "$tmp/page.all" | grep '^[<>]' | tr '\n' ' ')"; fi
    # every line of the help text: the page's text as one line of words holds it
    awk 'NR == FNR { page = page " " $0; next }
         FNR == 1 { gsub(/[ \t]+/, " ", page); page = page " " }
         {
             l = $0
             sub(/^usage: /, "", l); sub(/^ *- /, "", l)
             gsub(/[ \t]+/, " ", l); sub(/^ /, "", l); sub(/ $/, "", l)
             # blank lines, and one-word headings ("commands:", a section title on the page)
             if (l == "" || l ~ /^[A-Za-z]+:$/) next
             n++
             if (!index(page, " " l " ")) { missing++; if (missing == 1) first = l }
         }
         END { printf "%d %d %s\n", n, missing, first }' "$tmp/page.txt" "$help" >"$tmp/lines"
    local n missing first
    read -r n missing first <"$tmp/lines"
    if [ "$missing" -gt 0 ]; then fail "$page: $missing of the help's $n lines are not on the page, the first: '$first'"
    elif [ "$n" -gt 0 ]; then ok
    else fail "$page: no lines read from its help text"; fi
    # SEE ALSO
    if [ "$page" = aesthete ]; then
        local c
        for c in $commands; do
            grep -q "aesthete-$c(1)" "$tmp/page.txt" || fail "aesthete(1) does not name aesthete-$c(1)"
        done
        ok
    elif grep -A1 '^SEE ALSO' "$tmp/page.txt" | grep -q 'aesthete(1)'; then ok
    else fail "$page: SEE ALSO does not name aesthete(1)"; fi
}

check_page aesthete "$tmp/main.help" "$(sed -n '3p' "$tmp/main.help" | sed 's/\.$//')"
for c in $commands; do
    "$cli" "$c" --help >"$tmp/$c.help" 2>/dev/null || fail "aesthete $c --help failed"
    summary="$(awk -v c="$c" '$1 == c { $1 = ""; sub(/^ +/, ""); print; exit }' "$tmp/main.help")"
    check_page "aesthete-$c" "$tmp/$c.help" "$summary"
done
# no page without a command
for f in "$man1"/*.1; do
    p="$(basename "$f" .1)"
    [ "$p" = aesthete ] || echo "$commands" | grep -qx "${p#aesthete-}" || fail "$f: no such command"
done

echo "test_man: $checks checks passed, $fails failed ($(echo "$commands" | wc -w) commands)"
[ $fails -eq 0 ]
