#!/usr/bin/env bash
# test_shard_stream.sh — `score --stream` / `rank --stream`, the RDD.pipe and xargs contract:
# one JSON line per stdin line, in order, each written and flushed before the next line is
# read (checked by a coprocess that sends a line only after the answer to the previous one),
# errors as rows, diagnostics on stderr only.
source "$(dirname "$0")/support/shard_lib.sh"

make_samples "$tmp/s"
cd "$tmp" || exit 1
want="$(run score --format jsonl s/000000.jpg s/000001.jpg s/000004.png 2>/dev/null)"

# a batch from a pipe: same rows as score over arguments, plus error rows where they fall
printf 's/000000.jpg\ns/000001.jpg\nmissing.jpg\n\ns/000004.png\n' >list
out="$(run score --stream <list 2>err)"
expect_eq "exit status with failures" "$?" 1
expect_eq "one line per input" "$(echo "$out" | wc -l)" 5
expect_eq "rows in input order" "$(echo "$out" | sed -n '1p;2p;5p')" "$want"
expect_eq "a missing file's row" "$(echo "$out" | sed -n 3p)" '{"input": "missing.jpg", "error": "missing.jpg: No such file or directory"}'
expect_eq "an empty line's row" "$(echo "$out" | sed -n 4p)" '{"input": "", "error": "\"\": an empty file name"}'
expect_eq "diagnostics on stderr" "$(cat err)" 'aesthete: missing.jpg: No such file or directory
aesthete: "": an empty file name'
expect_eq "a last line without its newline" "$(printf 's/000000.jpg' | run rank --stream 2>/dev/null)" "$(echo "$want" | head -1)"
expect_eq "rank --stream: score rows, no ranking" "$(run rank --stream <list 2>/dev/null | grep -c '"rank"')" 0
expect_eq "--stream takes no arguments" "$(run score --stream s/000000.jpg 2>&1)|$?" "aesthete score: --stream reads stdin: no INPUT
Try 'aesthete score --help'.|2"

# lock-step: each answer comes before the next question is asked
coproc AE { "$cli" score --stream --model "$model" --no-cache 2>/dev/null; }
got=""
for f in s/000000.jpg s/000001.jpg s/000004.png; do
  echo "$f" >&"${AE[1]}"
  if read -r -t 60 line <&"${AE[0]}"; then got+="$line"$'\n'; else got+="(no answer)"$'\n'; fi
done
exec {AE[1]}>&-
wait "$AE_PID"
expect_eq "each line answered before the next is sent" "${got%$'\n'}" "$want"
finish
