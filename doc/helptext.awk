# helptext.awk — reads the text of `aesthete --help` or `aesthete COMMAND --help` (the one
# source of the CLI's documentation) into L[1..NL] and splits it into its pieces. Loaded
# before doc/help2roff.awk (man pages) or doc/help2comp.awk (completions), which do their
# work in END.
#
# The shapes it knows, as the help texts are written:
#   usage: aesthete CMD ...            the synopsis (more lines: "       aesthete CMD ...")
#     --opt ARG, -o ARG   text         an option item (2 spaces, a dash); longer lines of
#                         text         its text are indented deeper
#     word       text                  a command item (2 spaces, a lowercase word)
#   word    text                       a subcommand item (no indentation: "build   encodes")
#     - text                           a bullet
#   heading:                           a heading ("commands:")
#   anything else                      prose, filled into paragraphs; blank lines part them

{ L[++NL] = $0 }

function indent_of(s) {
    match(s, /^ */)
    return RLENGTH
}

function trim(s) {
    sub(/^ +/, "", s)
    sub(/ +$/, "", s)
    return s
}

# 1 for an option item, 2 for a command item (indented), 3 for a subcommand item, else 0
function item_kind(s) {
    if (s ~ /^  -[^ ]/) return 1
    if (s ~ /^  [a-z][a-z-]*   *[^ ]/) return 2
    if (s ~ /^[a-z][a-z-]*   *[^ ]/) return 3
    return 0
}

# the last line of the item (or bullet) that starts at line i: its further lines are
# indented deeper and are no items themselves
function item_last(i,    ind) {
    ind = indent_of(L[i])
    while (i < NL && L[i + 1] !~ /^ *$/ && indent_of(L[i + 1]) > ind && !item_kind(L[i + 1]) &&
           L[i + 1] !~ /^ +- /)
        i++
    return i
}

# the column where the text of option items starts: the most common one
function text_column(    i, s, c, n, best, bestn) {
    for (i = 1; i <= NL; i++) {
        s = L[i]
        if (item_kind(s) != 1) continue
        if (!match(s, /[^ ]  +[^ ]/)) continue
        c = RSTART + RLENGTH - 1          # 1-based position of the text's first character
        n[c]++
        if (n[c] > bestn) { bestn = n[c]; best = c }
    }
    return best
}

# splits item s into ITEM_TAG and ITEM_TEXT: at the first run of two spaces, or, for an
# option whose tag fills the text column (one space before its text: "-o, --output FILE where
# to write"), at that column; else all of it is the tag
function split_item(s, col,    t) {
    t = s
    sub(/^ */, "", t)
    if (item_kind(s) == 1 && col > 3 && substr(s, col - 1, 1) == " " && substr(s, col, 1) != " " &&
        substr(s, col - 2, 1) != " ") {
        ITEM_TAG = substr(s, 1, col - 2)
        sub(/^ */, "", ITEM_TAG)
        tag_options(ITEM_TAG)
        if (OPT_REST == "") { ITEM_TEXT = substr(s, col); return }
    }
    if (match(t, /  +/)) {
        ITEM_TAG = substr(t, 1, RSTART - 1)
        ITEM_TEXT = substr(t, RSTART + RLENGTH)
    } else {
        ITEM_TAG = t
        ITEM_TEXT = ""
    }
}

# the options an item's tag names ("-o, --output FILE" -> -o, --output), into OPT_NAME[1..n]
# with OPT_ARG[i] = 1 when a value follows the option, and what follows them in OPT_REST;
# returns n
function tag_options(tag,    n, rest, k) {
    n = 0
    rest = tag
    while (match(rest, /^-[-A-Za-z0-9]+/)) {
        OPT_NAME[++n] = substr(rest, 1, RLENGTH)
        OPT_ARG[n] = 0
        rest = substr(rest, RLENGTH + 1)
        if (match(rest, /^ [^ ,-][^ ,]*/)) {   # a value: "FILE", "auto|yes|no"
            OPT_ARG[n] = 1
            rest = substr(rest, RLENGTH + 1)
        }
        if (rest !~ /^, -/) break
        rest = substr(rest, 3)
    }
    # "-o, --output FILE": the short option takes the value of the long one
    for (k = n - 1; k >= 1; k--)
        if (OPT_NAME[k] !~ /^--/ && !OPT_ARG[k]) OPT_ARG[k] = OPT_ARG[k + 1]
    OPT_REST = rest
    return n
}

# the subcommands the usage lines name ("aesthete bank build ..." -> build), into
# SUB_NAME[1..n]; returns n
function usage_subcommands(    i, s, w, n, seen) {
    n = 0
    for (i = 1; i <= NL; i++) {
        s = L[i]
        if (i == 1) { if (s !~ /^usage: /) break; sub(/^usage: */, "", s) }
        else if (s ~ /^ +aesthete /) sub(/^ */, "", s)
        else break
        split(s, w, " ")
        if (w[3] ~ /^[a-z][a-z-]*$/ && !(w[3] in seen)) { seen[w[3]] = 1; SUB_NAME[++n] = w[3] }
    }
    return n
}
