#!/usr/bin/env bash
# test_shard_wds.sh — WebDataset input: tar shards (and brace lists) built with tar from the
# fixture images score exactly as the same images as files; --shard hands out whole tars;
# each bad shard (duplicate keys, keys with dots, members out of order, no image member,
# a corrupt image, a truncated tar, an empty tar, a file that is not a tar) gives error rows
# naming the shard and the cause, and the rest of the shard is still scored.
source "$(dirname "$0")/support/shard_lib.sh"

make_samples "$tmp/s"
cd "$tmp" || exit 1
make_data_shards
# key -> score from the image files themselves
scores_of() { sed -n 's/.*"input": "\([^"]*\)", "score": \([^,]*\),.*/\1 \2/p'; }
files="$(run score --format jsonl s/*.jpg s/*.png s/*.gif | scores_of | sed 's|^s/\([0-9]*\)\.[a-z]* |\1 |' | sort)"
expect_eq "8 files scored" "$(echo "$files" | wc -l)" 8

tars="$(run score --format jsonl 'data-{00000..00002}.tar' | scores_of | sed 's|^data-0000[0-9].tar#||' | sort)"
expect_eq "the samples of 3 tars score exactly as the files" "$tars" "$files"
order="$(run score --format jsonl data-00000.tar data-00001.tar | grep -o '"input": "[^"]*"' | tr '\n' ' ')"
expect_eq "rows in tar order, named SHARD#KEY" "$order" '"input": "data-00000.tar#000000" "input": "data-00000.tar#000001" "input": "data-00000.tar#000002" "input": "data-00001.tar#000003" "input": "data-00001.tar#000004" "input": "data-00001.tar#000005" '
ranked="$(run rank --format jsonl 'data-{00000..00002}.tar' | grep -c '"rank"')"
expect_eq "rank over a brace list" "$ranked" 8
printf 'data-00002.tar\ndata-00000.tar\n' >list.txt
got="$(run rank --format jsonl list.txt | grep -o '#0000[0-9]*' | sort | tr -d '#\n')"
expect_eq "tars named in a list file" "$got" "000000000001000002000006000007"

# --shard: whole tars, in order
got="$(run score --format jsonl --shard 1/2 'data-{00000..00002}.tar' | grep -o '"input": "[^#]*' | sort -u | tr '\n' ' ')"
expect_eq "--shard 1/2 of 3 tars: the last two, whole" "$got" '"input": "data-00001.tar "input": "data-00002.tar '

# ---- bad shards ----
make_bad_shards
tar cf full.tar -C s 000000.jpg 000001.jpg 000002.jpg
head -c $(($(stat -c %s full.tar) - 80000)) full.tar >bad/truncated.tar
tar cf bad/empty.tar -T /dev/null
echo "hello, not a tar" >bad/text.tar

# bad_case TAR EXIT ROWS...: the rows' input and error (or "ok") in order
bad_case() {
  local tar="$1" code="$2"
  shift 2
  local out c
  out="$(run score --format jsonl "bad/$tar" 2>"$tmp/err")"
  c=$?
  expect_eq "$tar: exit status" "$c" "$code"
  local want="" got
  for r in "$@"; do want+="$r"$'\n'; done
  got="$(echo "$out" | sed -n 's/^{"input": "\([^"]*\)", "error": "\(.*\)"}$/\1 | \2/p; s/^{"input": "\([^"]*\)", "score".*/\1 | ok/p')"
  expect_eq "$tar: rows" "$got" "${want%$'\n'}"
  expect_eq "$tar: one stderr line per failed row" "$(wc -l <"$tmp/err")" "$(echo "$out" | grep -c '"error"')"
}
bad_case dup.tar 1 "bad/dup.tar#000000 | ok" "bad/dup.tar#000001 | ok" \
  "bad/dup.tar#000000 | bad/dup.tar: duplicate key '000000' (member '000000.jpg' again after other keys)"
bad_case dots.tar 1 "bad/dots.tar#photo | bad/dots.tar: key 'photo' has several images ('photo.2021.jpg', 'photo.2022.jpg'): a key ends at the first dot of a file name, so names with dots in the key collide" \
  "bad/dots.tar#000002 | ok"
bad_case order.tar 1 "bad/order.tar#000000 | ok" "bad/order.tar#000001 | ok" \
  "bad/order.tar#000000 | bad/order.tar: members of '000000' are not adjacent ('000000.json' after other keys): members out of order"
bad_case noimage.tar 1 "bad/noimage.tar#000000 | bad/noimage.tar: sample '000000' has no image member ('000000.json', '000000.txt')" \
  "bad/noimage.tar#000001 | ok"
bad_case corrupt.tar 1 "bad/corrupt.tar#000009 | bad/corrupt.tar#000009: truncated JPEG data" "bad/corrupt.tar#000001 | ok"
bad_case truncated.tar 1 "bad/truncated.tar#000000 | ok" "bad/truncated.tar#000001 | ok" \
  "bad/truncated.tar#000002 | bad/truncated.tar: 000002.jpg: truncated member (0 of $(stat -c %s s/000002.jpg) bytes: Truncated tar archive)" \
  "bad/truncated.tar | bad/truncated.tar: truncated or corrupt tar after member '000002.jpg' (Truncated input file (needed $(( ($(stat -c %s s/000002.jpg) + 511) / 512 * 512 )) bytes, only $(( $(stat -c %s bad/truncated.tar) - 512 - 2 * 512 - ($(stat -c %s s/000000.jpg) + 511) / 512 * 512 - ($(stat -c %s s/000001.jpg) + 511) / 512 * 512 )) available)): the samples before it are kept"
bad_case empty.tar 1 "bad/empty.tar | bad/empty.tar: an empty tar shard (no members)"
bad_case text.tar 1 "bad/text.tar | bad/text.tar: not a tar shard (Unrecognized archive format)"

# a good shard beside a bad one is scored whole
got="$(run score --format jsonl bad/text.tar data-00002.tar 2>/dev/null | grep -c '"score"')"
expect_eq "the good shard beside a bad one" "$got" 2
# a missing shard: an error row for score (its arguments are inputs), a fatal error for rank
# (its arguments are folders and lists, as a missing folder is)
out="$(run score --format jsonl nowhere.tar 2>/dev/null)"
expect_eq "score: a missing tar" "$out" '{"input": "nowhere.tar", "error": "nowhere.tar: No such file or directory"}'
out="$(run rank --format jsonl nowhere.tar 2>&1)"
expect_eq "rank: a missing tar, exit 1 (an input that failed, as in score)" "$out|$?" "aesthete: nowhere.tar: No such file or directory|1"
out="$(run rank --format jsonl 'data-{00000..00002.tar' 2>&1)"
expect_eq "unbalanced braces" "$out" "aesthete: data-{00000..00002.tar: a '{' without its '}'"
finish
