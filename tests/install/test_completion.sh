#!/usr/bin/env bash
# test_completion.sh SHELL — the completion of aesthete for SHELL (bash, zsh or fish) that
# the build generated (build/doc/completions, doc/cli-docs.sh), asked as the shell asks it:
#   aesthete ra<TAB>          -> rank
#   aesthete rank --to<TAB>   -> --top
#   aesthete <TAB>            -> every command of `aesthete --help`
#   aesthete bank <TAB>       -> build import info (the subcommands of its usage lines)
#   aesthete CMD --<TAB>      -> every --option that `aesthete CMD --help` names, for every
#                                command (parsed here, not by doc/helptext.awk)
# bash: COMP_WORDS/COMP_CWORD and the completion function, as bash calls it; zsh: the
# completion function with the completion system's builtins (_describe, compadd, _files)
# replaced by ones that print what they are given; fish: `complete -C`. Exits 77 (skipped)
# when zsh or fish is not installed: scripts/setup.sh installs them.
set -u
shell="${1:?usage: test_completion.sh bash|zsh|fish}"
cli="${AE_CLI:?AE_CLI: the aesthete binary}"
comps="${AE_DOC_DIR:?AE_DOC_DIR: the doc folder of the build}/completions"
name="test_completion_$shell"
command -v "$shell" >/dev/null ||
    { echo "$name: SKIPPED: $shell is not installed (scripts/setup.sh installs it)"; exit 77; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" # no file names among the candidates
fails=0
checks=0
fail() { echo "$name: FAIL: $*"; fails=$((fails + 1)); }

case "$shell" in
    bash) file="$comps/aesthete" ;;
    zsh) file="$comps/_aesthete" ;;
    fish) file="$comps/aesthete.fish" ;;
    *) echo "$name: unknown shell '$shell'" >&2; exit 2 ;;
esac
[ -s "$file" ] || { echo "$name: FAIL: $file is missing"; exit 1; }

# the candidates for the command line "$@" (the last word is the one being completed), one
# per line, sorted
complete_line() {
    case "$shell" in
        bash)
            bash --norc --noprofile -c 'source "$1" || exit 1; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
                _aesthete; printf "%s\n" "${COMPREPLY[@]}"' - "$file" "$@" ;;
        zsh)
            zsh -f -c '
                _describe() { local w; for w in "${(@P)4}"; do print -r -- "${w%%:*}"; done }
                compadd() { [[ $1 == -a ]] && print -rl -- "${(@P)2}" }
                _files() { print -r -- "<files>" }
                file=$1; shift
                words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}
                source "$file"' - "$file" "$@" | awk -v p="${!#}" 'index($0, p) == 1 || $0 == "<files>"' ;;
        fish)
            local line="$*"
            fish --no-config -c 'source $argv[1]; and complete -C"$argv[2]"' "$file" "$line" | cut -f1 ;;
    esac 2>>"$tmp/stderr" | grep -v '^$' | sort -u
}

expect() { # expected-candidates (space-separated) -- command line
    local want="$1"
    shift
    local got
    got="$(complete_line "$@" | tr '\n' ' ' | sed 's/ $//')"
    want="$(printf '%s\n' $want | sort -u | tr '\n' ' ' | sed 's/ $//')"
    if [ "$got" = "$want" ]; then checks=$((checks + 1))
    else fail "'$*<TAB>' gives '$got', expected '$want'"; fi
}

"$cli" --help >"$tmp/main.help" || { echo "$name: FAIL: aesthete --help failed"; exit 1; }
commands=$(awk '/^commands:$/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$tmp/main.help")
[ "$(echo "$commands" | wc -w)" -ge 10 ] || fail "aesthete --help lists only: $commands"

expect "rank" aesthete ra
expect "--top" aesthete rank --to
expect "--min-score" aesthete rank photos --min
expect "$commands" aesthete ""
expect "--version" aesthete --vers
expect "build import info" aesthete bank ""
expect "stats" aesthete cache st
expect "import info" aesthete head ""
for c in $commands; do
    "$cli" "$c" --help >"$tmp/help" 2>/dev/null || { fail "aesthete $c --help failed"; continue; }
    opts="$(grep -oE -- '--[a-z][-a-z0-9]*' "$tmp/help" | sort -u | tr '\n' ' ')"
    [ -n "$opts" ] || [ "$c" = fetch-model ] || fail "no options parsed from aesthete $c --help"
    [ -n "$opts" ] && expect "$opts" aesthete "$c" --
done
if [ "$shell" = bash ]; then
    # file names complete where no table applies
    spec="$(bash --norc -c 'source "$1"; complete -p aesthete' - "$file")"
    if [ "$spec" = "complete -o default -F _aesthete aesthete" ]; then checks=$((checks + 1))
    else fail "complete -p aesthete: '$spec'"; fi
fi
if [ "$shell" = zsh ]; then
    expect "<files>" aesthete rank ph
    if zsh -n "$file"; then checks=$((checks + 1)); else fail "zsh -n $file"; fi
    head -1 "$file" | grep -qx '#compdef aesthete' && checks=$((checks + 1)) ||
        fail "$file does not start with #compdef aesthete"
fi

# no errors on the way (a table the shell refuses)
if [ -s "$tmp/stderr" ]; then fail "the completion printed: $(head -1 "$tmp/stderr")"
else checks=$((checks + 1)); fi

echo "$name: $checks checks passed, $fails failed"
[ $fails -eq 0 ]
