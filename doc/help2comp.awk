# help2comp.awk — what the shell completions need from one help text, after doc/helptext.awk:
#   awk -v cmd=rank -f doc/helptext.awk -f doc/help2comp.awk < help.txt
# prints tab-separated records, for doc/cli-docs.sh to write the bash, zsh and fish files:
#   cmd  NAME  SUMMARY              a command (the items under "commands:" of aesthete --help)
#   sub  CMD  NAME                  a subcommand of CMD (the third word of its usage lines)
#   opt  CMD  NAME  ARG  SUMMARY    an option of CMD (CMD empty: of aesthete itself); ARG 1
#                                   when it takes a value; SUMMARY its text, cut to 60
#                                   characters
# Options named only in prose ("--bank FILE is the same option") are options too, without
# a summary.
# a summary fits a completion menu: at most 60 characters, cut at a space
function short(s,    i) {
    if (length(s) <= 60) return s
    for (i = 60; i > 20 && substr(s, i, 1) != " "; i--) ;
    return substr(s, 1, i - 1) "..."
}

END {
    col = text_column()
    n = usage_subcommands()
    for (k = 1; k <= n; k++) printf "sub\t%s\t%s\n", cmd, SUB_NAME[k]
    section = ""
    for (i = 1; i <= NL; i++) {
        s = L[i]
        if (s ~ /^[A-Za-z][a-z]*:$/) { section = s; continue }
        kind = item_kind(s)
        if (!kind) continue
        split_item(s, col)
        for (last = item_last(i); i < last; ) ITEM_TEXT = ITEM_TEXT " " trim(L[++i])
        if (kind == 2 && section == "commands:") printf "cmd\t%s\t%s\n", ITEM_TAG, ITEM_TEXT
        if (kind != 1) continue
        ITEM_TEXT = short(ITEM_TEXT)
        m = tag_options(ITEM_TAG)
        for (k = 1; k <= m; k++) {
            if (OPT_NAME[k] == "--" || (OPT_NAME[k] in seen)) continue
            seen[OPT_NAME[k]] = 1
            printf "opt\t%s\t%s\t%d\t%s\n", cmd, OPT_NAME[k], OPT_ARG[k], ITEM_TEXT
        }
    }
    for (i = 1; i <= NL; i++) {
        s = L[i]
        while (match(s, /(^|[^A-Za-z0-9_-])--[a-z][-a-z0-9]*/)) {
            o = substr(s, RSTART, RLENGTH)
            sub(/^[^-]/, "", o)
            s = substr(s, RSTART + RLENGTH)
            if (o in seen) continue
            seen[o] = 1
            printf "opt\t%s\t%s\t0\t\n", cmd, o
        }
    }
}
