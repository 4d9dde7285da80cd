#!/usr/bin/env bash
# test_shard_cli.sh — `--shard I/N` on rank, score, embed and cull: N parts of a folder are
# disjoint, cover it, and are contiguous runs of its sorted paths; the Slurm array and
# Kubernetes Indexed Job variables give the same parts as the flag; explicit flags win; bad
# values and contradictions are one-line errors with exit status 2.
source "$(dirname "$0")/support/shard_lib.sh"

make_samples "$tmp/s"
mkdir "$tmp/folder"
for f in "$tmp/s"/*.jpg "$tmp/s"/*.png "$tmp/s"/*.gif; do cp "$f" "$tmp/folder/"; done
inputs() { grep -o '"input": "[^"]*"' | sed 's/.*"input": "//; s/"$//'; }

all="$(run rank --format jsonl "$tmp/folder" | inputs | sort)"
expect_eq "8 images ranked" "$(echo "$all" | wc -l)" 8
sorted="$(ls "$tmp/folder" | sed "s|^|$tmp/folder/|")" # the walk's order

union=""
for i in 0 1 2 3; do
  part="$(run rank --format jsonl --shard $i/4 "$tmp/folder" | inputs | sort)"
  expect_eq "part $i/4 has 2 images" "$(echo "$part" | wc -l)" 2
  # contiguous: images 2i and 2i+1 of the sorted folder
  expect_eq "part $i/4 is a run of the sorted paths" "$part" "$(echo "$sorted" | sed -n "$((2 * i + 1)),$((2 * i + 2))p")"
  union+="$part"$'\n'
done
expect_eq "the 4 parts are disjoint and cover the folder" "$(echo -n "$union" | sort)" "$all"
expect_eq "3 parts of 8: 2+3+3" "$(for i in 0 1 2; do run rank --format jsonl --shard $i/3 "$tmp/folder" | inputs | wc -l; done | tr '\n' ' ')" "2 3 3 "

# the environment: an array --array=10-13 (MIN 10), task 12 = part 2 of 4
want="$(run rank --format jsonl --shard 2/4 "$tmp/folder" | inputs)"
got="$(SLURM_ARRAY_TASK_ID=12 SLURM_ARRAY_TASK_MIN=10 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_STEP=1 run rank --format jsonl "$tmp/folder" | inputs)"
expect_eq "SLURM_ARRAY_TASK_ID 12 of 10-13 = --shard 2/4" "$got" "$want"
got="$(SLURM_ARRAY_TASK_ID=8 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_STEP=4 run rank --format jsonl "$tmp/folder" | inputs)"
expect_eq "--array=0-15:4 task 8 = --shard 2/4" "$got" "$want"
got="$(JOB_COMPLETION_INDEX=2 run rank --format jsonl --shard-count 4 "$tmp/folder" | inputs)"
expect_eq "JOB_COMPLETION_INDEX 2 with --shard-count 4 = --shard 2/4" "$got" "$want"
got="$(SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=8 run rank --format jsonl --shard 2/4 "$tmp/folder" | inputs)"
expect_eq "--shard wins over the Slurm variables" "$got" "$want"

# errors: one line, exit 2, nothing on stdout
usage_case() { # WHAT EXPECTED-MESSAGE command... (exit 2, the message alone on stderr)
  local what="$1" msg="$2"
  shift 2
  local out err code
  out="$("$@" 2>"$tmp/err")"
  code=$?
  err="$(cat "$tmp/err")"
  expect_eq "$what: exit status" "$code" 2
  expect_eq "$what: message" "$err" "$msg"
  expect_eq "$what: stdout" "$out" ""
}
usage_case "--shard 5/4" "aesthete: rank: --shard: index 5 is not below the count 4 (indices are 0 to 3)" \
  run rank --shard 5/4 "$tmp/folder"
usage_case "--shard x" "aesthete: score: --shard: 'x' is not I/N (task I of N, 0 <= I < N)" \
  run score --shard x "$tmp/folder/000000.jpg"
usage_case "contradiction" "aesthete: rank: --shard 1/4 contradicts --shard-count 3" \
  run rank --shard 1/4 --shard-count 3 "$tmp/folder"
usage_case "garbled Slurm" "aesthete: rank: SLURM_ARRAY_TASK_ID='1a' is not a whole number (0 or more)" \
  env SLURM_ARRAY_TASK_ID=1a SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 "$cli" rank --model "$model" --no-cache "$tmp/folder"
usage_case "Slurm without count" "aesthete: embed: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (give --shard I/N)" \
  env SLURM_ARRAY_TASK_ID=1 "$cli" embed --model "$model" "$tmp/folder/000000.jpg"
usage_case "Slurm count contradicts" "aesthete: cull: --shard-count 3 contradicts SLURM_ARRAY_TASK_COUNT=4" \
  env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 "$cli" cull --model "$model" --no-cache --shard-count 3 "$tmp/folder"
usage_case "k8s without count" "aesthete: score: JOB_COMPLETION_INDEX=1 needs --shard-count N (the Job's completions)" \
  env JOB_COMPLETION_INDEX=1 "$cli" score --model "$model" --no-cache "$tmp/folder/000000.jpg"

# score and embed take parts of their arguments; cull of its folder
args=("$tmp"/folder/*)
got="$(run score --format jsonl --shard 1/2 "${args[@]}" | inputs)"
expect_eq "score --shard 1/2: the second half of the arguments" "$got" "$(printf '%s\n' "${args[@]:4:4}")"
got="$("$cli" embed --model "$model" --shard 3/4 "${args[@]}" | inputs)"
expect_eq "embed --shard 3/4: the last two arguments" "$got" "$(printf '%s\n' "${args[@]:6:2}")"
got="$("$cli" embed --model "$model" --shard 3/4 "${args[@]}" | grep -c '"embedding"')"
expect_eq "embed --shard: embeddings of its part" "$got" 2
got="$(run cull --format jsonl --shard 0/2 "$tmp/folder" | grep -o '"input": "[^"]*"' | sort -u | wc -l)"
expect_eq "cull --shard 0/2: 4 inputs" "$got" 4
finish
