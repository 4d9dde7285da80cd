#!/usr/bin/env bash
# test_shard_out.sh — run folders (`--out DIR`) and `aesthete merge`: per-shard scores,
# float16 L2-normalised img_emb_*.npy in the rows' order, metadata with the kept members,
# clip-retrieval's zero padding; merge of the parts of two tasks equals the single-process
# ranking; reruns skip complete shards by their manifest and redo changed or unfinished ones.
source "$(dirname "$0")/support/shard_lib.sh"
command -v python3 >/dev/null || { echo "test_shard_out: SKIPPED: python3 is not installed"; exit 77; }

make_samples "$tmp/s"
cd "$tmp" || exit 1
make_data_shards
tar cf bad.tar -C s 000000.json # no image: an error row

# two tasks of a Slurm array, four tars
for i in 0 1; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=2 \
    run score --out run --keep json,txt data-00000.tar data-00001.tar bad.tar data-00002.tar 2>"err$i"
  expect_eq "task $i: exit status" "$?" $((i == 1 ? 1 : 0))
done
expect_eq "task 1 reports the bad sample" "$(cat err1)" "aesthete: bad.tar: sample '000000' has no image member ('000000.json')"
expect_eq "files of 4 shards" "$(cd run && find . -type f | sort | tr '\n' ' ')" \
  "./img_emb/img_emb_0.npy ./img_emb/img_emb_1.npy ./img_emb/img_emb_2.npy ./img_emb/img_emb_3.npy ./manifest/0.json ./manifest/1.json ./manifest/2.json ./manifest/3.json ./metadata/metadata_0.jsonl ./metadata/metadata_1.jsonl ./metadata/metadata_2.jsonl ./metadata/metadata_3.jsonl ./scores/0.jsonl ./scores/1.jsonl ./scores/2.jsonl ./scores/3.jsonl "
expect_eq "scores/0.jsonl row" "$(head -1 run/scores/0.jsonl | sed 's/"score": [^,]*/"score": S/; s/"probability": [^,]*/"probability": P/; s/"label": "[a-z]*"/"label": L/')" \
  '{"__key__": "000000", "__url__": "data-00000.tar", "score": S, "probability": P, "label": L, "class": null, "method": "fixed", "head": "fixed"}'
expect_eq "scores/2.jsonl: the error row" "$(cat run/scores/2.jsonl)" \
  "{\"__key__\": \"000000\", \"__url__\": \"bad.tar\", \"error\": \"bad.tar: sample '000000' has no image member ('000000.json')\"}"
expect_eq "metadata with the kept json and txt" "$(sed -n 2p run/metadata/metadata_1.jsonl)" \
  '{"__key__": "000004", "__url__": "data-00001.tar", "json": {"caption":"small_100x75.png","i":4}, "txt": "text of small_100x75.png\n"}'
expect_eq "no metadata row for a failed sample" "$(wc -c <run/metadata/metadata_2.jsonl)" 0

# the .npy: header as numpy writes it, float16, unit rows equal to embed's normalised output
"$cli" embed --model "$model" s/000003.jpg s/000004.png s/000005.gif >emb.jsonl
check="$(python3 - run/img_emb/img_emb_1.npy emb.jsonl <<'PY'
import json, math, struct, sys
raw = open(sys.argv[1], "rb").read()
assert raw[:8] == b"\x93NUMPY\x01\x00", raw[:8]
hl = struct.unpack("<H", raw[8:10])[0]
header = raw[10:10 + hl].decode()
assert (10 + hl) % 64 == 0, "header not padded to 64"
d = eval(header)
rows, dim = d["shape"]
data = struct.unpack("<%de" % (rows * dim), raw[10 + hl:])
ref = [json.loads(l)["embedding"] for l in open(sys.argv[2])]
worst = 0
for r in range(rows):
    v = data[r * dim:(r + 1) * dim]
    n = math.sqrt(sum(x * x for x in ref[r]))
    worst = max(worst, max(abs(a - b / n) for a, b in zip(v, ref[r])))
    assert abs(sum(x * x for x in v) - 1) < 2e-3
print(d["descr"], d["fortran_order"], rows, dim, len(raw) == 10 + hl + 2 * rows * dim, worst < 1e-3)
PY
)"
expect_eq "img_emb_1.npy: <f2 [3, 40], unit rows = embed's, normalised (within float16)" "$check" "<f2 False 3 40 True True"

# merge == the single-process ranking (same keys, same scores, same order)
single="$(run rank --format jsonl data-00000.tar data-00001.tar bad.tar data-00002.tar 2>/dev/null | grep '"rank"' |
  sed 's/.*"input": "\([^"]*\)", "score": \([^,]*\),.*/\1 \2/')"
merged="$("$cli" merge run 2>merge.err | sed 's/.*"__key__": "\([^"]*\)", "__url__": "\([^"]*\)", "score": \([^,]*\),.*/\2#\1 \3/')"
expect_eq "merge equals rank over the same tars" "$merged" "$single"
expect_eq "merge: 8 rows" "$(echo "$merged" | wc -l)" 8
expect_eq "merge summary" "$(sed 's/; score.*//' merge.err)" "aesthete: 4 shards (0 incomplete or missing, left out): 9 rows, 8 scored, 1 failed"
expect_eq "merge --top 3 = the first 3" "$("$cli" merge --top 3 run 2>/dev/null | sed 's/.*"__key__": "\([^"]*\)", "__url__": "\([^"]*\)", "score": \([^,]*\),.*/\2#\1 \3/')" "$(echo "$single" | head -3)"
expect_eq "merge --format csv" "$("$cli" merge --top 1 --format csv run 2>/dev/null | head -2 | cut -d, -f1,4-)" \
  "rank,label,class,input
1,$(run rank --format csv data-00000.tar data-00001.tar data-00002.tar 2>/dev/null | sed -n 2p | cut -d, -f4-)"

# resume: complete shards are skipped (outputs untouched), --force redoes them
stamp="$(stat -c %Y.%s run/scores/*.jsonl run/img_emb/* | tr '\n' ' ')"
sleep 1.1
run score --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "rerun with the same options: all skipped" "$(grep -c 'is complete (skipped; --force redoes it)' resume.err)" 4
expect_eq "skipped shards are not rewritten" "$(stat -c %Y.%s run/scores/*.jsonl run/img_emb/* | tr '\n' ' ')" "$stamp"
run score --out run --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "other options (no --keep): all redone" "$(tail -1 resume.err)" "aesthete: 4 shards written, 0 complete already, 1 failed inputs"
run score --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>/dev/null
stamp2="$(stat -c %Y.%s run/scores/*.jsonl run/img_emb/* | tr '\n' ' ')"
run score --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>/dev/null
expect_eq "the shards redone with --keep are complete again" "$(stat -c %Y.%s run/scores/*.jsonl run/img_emb/* | tr '\n' ' ')" "$stamp2"
run score --out run --keep json,txt --verbose --force data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "--force redoes all" "$(tail -1 resume.err)" "aesthete: 4 shards written, 0 complete already, 1 failed inputs"
# a changed tar is redone, the others not
make_tar data-00001.tar s 000003 000004
run score --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "a changed input: only its shard redone" "$(tail -1 resume.err)" "aesthete: 1 shards written, 3 complete already, 0 failed inputs"
expect_eq "the redone shard has the new rows" "$(wc -l <run/scores/1.jsonl)" 2
# another head: not complete
run score --out run --keep json,txt --verbose --positive lovely data-00000.tar 2>resume.err
expect_eq "another head: redone" "$(tail -1 resume.err)" "aesthete: 1 shards written, 0 complete already, 0 failed inputs"
"$cli" merge run >/dev/null 2>merge.err
code=$?
expect_eq "merge refuses shards of different heads" "$(head -1 merge.err)|$code" \
  "aesthete: run: shard 1 was scored with another model or head than shard 0: their scores do not rank together|2"
run score --out run --keep json,txt data-00000.tar 2>/dev/null

# a task killed mid-shard: outputs without a manifest are incomplete; merge leaves them out,
# the rerun completes them
rm run/manifest/3.json
echo '{"__key__": "half' >run/scores/.3.jsonl.tmp.XXXX
"$cli" merge run >/dev/null 2>merge.err
code=$?
expect_eq "merge leaves an unfinished shard out (exit 1)" "$(head -1 merge.err)|$code" \
  "aesthete: warning: run: shard 3 is incomplete (no manifest, or its files changed): left out|1"
run score --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "the rerun does the unfinished shard only" "$(tail -1 resume.err)" "aesthete: 1 shards written, 3 complete already, 0 failed inputs"
expect_eq "merge after the rerun: every sample once" "$("$cli" merge run 2>/dev/null | grep -o '"__key__": "[0-9]*"' | sort | uniq -d | wc -l)|$("$cli" merge run 2>/dev/null | wc -l)" "0|7"

# images, not tars: one output per task, named by the task's index padded to N's digits
mkdir imgs && cp s/*.jpg imgs/
for i in 0 3 11; do run rank --out iout --shard $i/12 imgs 2>/dev/null; done
expect_eq "12 tasks: names 00..11" "$(ls iout/scores | tr '\n' ' ')" "00.jsonl 03.jsonl 11.jsonl "
expect_eq "task 11 of 12 over 5 images has 1" "$(cat iout/scores/11.jsonl | grep -o '"image_path": "[^"]*"')" "\"image_path\": \"imgs/000006.jpg\""
out="$(run rank --out mixed imgs data-00000.tar 2>&1)"
expect_eq "tars and images together" "$out|$?" "aesthete rank: --out: give tar shards or images, not both (1 of the 6 inputs are tars)
Try 'aesthete rank --help'.|2"
finish
