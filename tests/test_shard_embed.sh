#!/usr/bin/env bash
# test_shard_embed.sh — `embed` on WebDataset shards and into run folders: tar samples embed
# to the same vectors as the image files; `embed --out DIR` writes float16 L2-normalised
# img_emb_*.npy in the metadata's row order, metadata with the kept members and a manifest
# listing the failed samples (no scores/); reruns skip complete shards, --force and changed
# inputs redo them; a run folder of another command is refused; the bad shards of issue 11
# give error rows, never a crash or a silent skip.
source "$(dirname "$0")/support/shard_lib.sh"
command -v python3 >/dev/null || { echo "test_shard_embed: SKIPPED: python3 is not installed"; exit 77; }
emb() { "$cli" embed --model "$model" "$@"; }

make_samples "$tmp/s"
cd "$tmp" || exit 1
make_data_shards
tar cf bad.tar -C s 000000.json # no image: an error row

# ---- JSON Lines: tar samples = the files, vector for vector ----
emb s/*.jpg s/*.png s/*.gif | sed 's|"input": "s/\([0-9]*\)\.[a-z]*"|"input": "\1"|' | sort >files.jsonl
expect_eq "8 files embedded" "$(grep -c '"embedding"' files.jsonl)" 8
emb 'data-{00000..00002}.tar' | sed 's|"input": "data-0000[0-9].tar#|"input": "|' | sort >tars.jsonl
expect_eq "tar samples: the same vectors as the files (byte for byte)" "$(cmp files.jsonl tars.jsonl && echo same)" same
got="$(emb data-00001.tar bad.tar 2>err | grep -o '"input": "[^"]*"' | tr '\n' ' ')"
expect_eq "rows in tar order, named SHARD#KEY, the bad sample a row" "$got" \
  '"input": "data-00001.tar#000003" "input": "data-00001.tar#000004" "input": "data-00001.tar#000005" "input": "bad.tar#000000" '
expect_eq "its error on stderr" "$(cat err)" "aesthete: bad.tar: sample '000000' has no image member ('000000.json')"
got="$(emb --shard 1/2 'data-{00000..00002}.tar' | grep -o '"input": "[^#]*' | sort -u | tr '\n' ' ')"
expect_eq "--shard 1/2 of 3 tars: the last two, whole" "$got" '"input": "data-00001.tar "input": "data-00002.tar '

# ---- embed --out: two tasks of a Slurm array over four tars ----
for i in 0 1; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=2 \
    emb --out run --keep json,txt data-00000.tar data-00001.tar bad.tar data-00002.tar 2>"err$i"
  expect_eq "task $i: exit status" "$?" $((i == 1 ? 1 : 0))
done
expect_eq "task 1 reports the bad sample" "$(cat err1)" "aesthete: bad.tar: sample '000000' has no image member ('000000.json')"
expect_eq "files of 4 shards, no scores/" "$(cd run && find . -type f | sort | tr '\n' ' ')" \
  "./img_emb/img_emb_0.npy ./img_emb/img_emb_1.npy ./img_emb/img_emb_2.npy ./img_emb/img_emb_3.npy ./manifest/0.json ./manifest/1.json ./manifest/2.json ./manifest/3.json ./metadata/metadata_0.jsonl ./metadata/metadata_1.jsonl ./metadata/metadata_2.jsonl ./metadata/metadata_3.jsonl "
expect_eq "metadata rows of shard 1" "$(cat run/metadata/metadata_1.jsonl)" \
  '{"__key__": "000003", "__url__": "data-00001.tar", "json": {"caption":"photo_landscape.jpg","i":3}, "txt": "text of photo_landscape.jpg\n"}
{"__key__": "000004", "__url__": "data-00001.tar", "json": {"caption":"small_100x75.png","i":4}, "txt": "text of small_100x75.png\n"}
{"__key__": "000005", "__url__": "data-00001.tar", "json": {"caption":"photo_coffee.gif","i":5}, "txt": "text of photo_coffee.gif\n"}'
expect_eq "no metadata row for the failed sample" "$(wc -c <run/metadata/metadata_2.jsonl)" 0
check="$(python3 - run <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/manifest/2.json"))
print(m["command"], m["head"], m["rows"], m["ok"], m["failed"], sorted(m["files"]), m["errors"])
m = json.load(open(sys.argv[1] + "/manifest/0.json"))
print(m["command"], m["count"], m["rows"], m["ok"], m["failed"], m["errors"], m["options"])
PY
)"
expect_eq "the manifests: command, counts, files, the failed samples" "$check" \
  "embed none 1 0 1 ['img_emb/img_emb_2.npy', 'metadata/metadata_2.jsonl'] [\"bad.tar: sample '000000' has no image member ('000000.json')\"]
embed 4 3 3 0 [] exif=1,max_pixels=100000000,fast=0,precision=fp32,keep=json,txt"

# the .npy files: numpy's header, float16 [rows, dim], row i = metadata row i = embed's
# vector of that sample, L2-normalised
emb data-00000.tar data-00001.tar data-00002.tar >ref.jsonl 2>/dev/null
check="$(python3 - run ref.jsonl <<'PY'
import json, math, struct, sys
ref = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    ref[r["input"]] = r["embedding"]
out = []
for s in "0123":
    raw = open("%s/img_emb/img_emb_%s.npy" % (sys.argv[1], s), "rb").read()
    assert raw[:8] == b"\x93NUMPY\x01\x00"
    hl = struct.unpack("<H", raw[8:10])[0]
    d = eval(raw[10:10 + hl].decode())
    rows, dim = d["shape"]
    assert (10 + hl) % 64 == 0 and len(raw) == 10 + hl + 2 * rows * dim
    data = struct.unpack("<%de" % (rows * dim), raw[10 + hl:])
    meta = [json.loads(l) for l in open("%s/metadata/metadata_%s.jsonl" % (sys.argv[1], s))]
    worst = 0
    for i, m in enumerate(meta):
        e = ref[m["__url__"] + "#" + m["__key__"]]
        n = math.sqrt(sum(x * x for x in e))
        worst = max(worst, max(abs(a - b / n) for a, b in zip(data[i * dim:(i + 1) * dim], e)))
    out.append("%s %s %d/%d %s" % (s, d["descr"], rows, len(meta), worst < 1e-3))
print(" ".join(out))
PY
)"
expect_eq "img_emb_S.npy: <f2, rows = metadata rows, = embed's vectors normalised" "$check" \
  "0 <f2 3/3 True 1 <f2 3/3 True 2 <f2 0/0 True 3 <f2 2/2 True"

# ---- resume ----
stamp="$(stat -c %Y.%s run/img_emb/* run/metadata/* | tr '\n' ' ')"
sleep 1.1
emb --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "rerun: all 4 complete, skipped" "$(grep -c 'is complete (skipped; --force redoes it)' resume.err)|$(tail -1 resume.err)" \
  "4|aesthete: 0 shards written, 4 complete already, 0 failed inputs"
expect_eq "skipped shards are not rewritten" "$(stat -c %Y.%s run/img_emb/* run/metadata/* | tr '\n' ' ')" "$stamp"
emb --out run --keep json,txt --verbose --force data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "--force redoes them all" "$(tail -1 resume.err)" "aesthete: 4 shards written, 0 complete already, 1 failed inputs"
expect_eq "--force rewrote the files" "$([ "$(stat -c %Y.%s run/img_emb/* run/metadata/* | tr '\n' ' ')" != "$stamp" ] && echo yes)" yes
make_tar data-00001.tar s 000003 000004
emb --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "a changed tar: only its shard redone" "$(tail -1 resume.err)|$(wc -l <run/metadata/metadata_1.jsonl)" \
  "aesthete: 1 shards written, 3 complete already, 0 failed inputs|2"
emb --out run --verbose --fast-decode data-00000.tar 2>resume.err
expect_eq "other options: redone" "$(tail -1 resume.err)" "aesthete: 1 shards written, 0 complete already, 0 failed inputs"
# killed mid-shard: no manifest, a temporary file; the rerun completes it
rm run/manifest/3.json
echo half >run/img_emb/.img_emb_3.npy.tmp.XXXX
emb --out run --keep json,txt --verbose data-00000.tar data-00001.tar bad.tar data-00002.tar 2>resume.err
expect_eq "the unfinished shard and shard 0 (done with other options) redone, the others not" "$(tail -1 resume.err)" \
  "aesthete: 2 shards written, 2 complete already, 0 failed inputs"
expect_eq "shard 3 complete again" "$(python3 -c 'import json; m = json.load(open("run/manifest/3.json")); print(m["ok"], m["command"])')" "2 embed"

# images, not tars: one output per task
mkdir imgs && cp s/*.jpg imgs/
emb --out iout --shard 1/2 imgs/*.jpg 2>/dev/null
expect_eq "images: task 1 of 2 writes shard 1" "$(cd iout && ls img_emb/* metadata/* | tr '\n' ' ')" "img_emb/img_emb_1.npy metadata/metadata_1.jsonl "
expect_eq "its rows: the last 3 of the 5, by image_path" "$(grep -o '"image_path": "[^"]*"' iout/metadata/metadata_1.jsonl | tr '\n' ' ')" \
  '"image_path": "imgs/000002.jpg" "image_path": "imgs/000003.jpg" "image_path": "imgs/000006.jpg" '

# ---- bad input ----
run score --out sruns data-00000.tar 2>/dev/null
err_case "embed --out over score's run folder" \
  "aesthete: embed: sruns/manifest/0.json: shard 0 was written by \`aesthete score\`: give \`embed --out\` a run folder of its own" 2 \
  emb --out sruns data-00000.tar
err_case "--force does not mix them either" \
  "aesthete: embed: sruns/manifest/0.json: shard 0 was written by \`aesthete score\`: give \`embed --out\` a run folder of its own" 2 \
  emb --out sruns --force data-00000.tar
err_case "score --out over embed's run folder" \
  "aesthete: score: run/manifest/0.json: shard 0 was written by \`aesthete embed\`: give \`score --out\` a run folder of its own" 2 \
  run score --out run data-00000.tar
err_case "--out with --text" "aesthete embed: --out, --keep and --force are for images, not --text
Try 'aesthete embed --help'." 2 emb --text --out x hello
err_case "tars and images together" "aesthete embed: --out: give tar shards or images, not both (1 of the 2 inputs are tars)
Try 'aesthete embed --help'." 2 emb --out mixed imgs/000000.jpg data-00000.tar
err_case "--shard 5/4" "aesthete: embed: --shard: index 5 is not below the count 4 (indices are 0 to 3)" 2 \
  emb --out run --shard 5/4 data-00000.tar
err_case "a garbled SLURM_ARRAY_TASK_ID" "aesthete: embed: SLURM_ARRAY_TASK_ID='1a' is not a whole number (0 or more)" 2 \
  env SLURM_ARRAY_TASK_ID=1a SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 "$cli" embed --model "$model" --out run data-00000.tar
err_case "--keep garbled" "aesthete embed: --keep: 'a/b' is not a list of up to 8 fields (json,txt)
Try 'aesthete embed --help'." 2 emb --keep a/b data-00000.tar
err_case "unbalanced braces" "aesthete: data-{00000..00002.tar: a '{' without its '}'" 2 emb 'data-{00000..00002.tar'
# the bad shards: a row per problem, the rest of the shard embedded
make_bad_shards
tar cf bad/empty.tar -T /dev/null
echo "hello, not a tar" >bad/text.tar
emb --out bruns --verbose bad/dup.tar bad/dots.tar bad/order.tar bad/noimage.tar bad/corrupt.tar bad/empty.tar bad/text.tar nowhere.tar 2>berr
expect_eq "bad shards: exit 1" "$?" 1
got="$(python3 - bruns <<'PY'
import json, sys
for s in range(8):
    m = json.load(open("%s/manifest/%d.json" % (sys.argv[1], s)))
    keys = [json.loads(l).get("__key__") for l in open("%s/metadata/metadata_%d.jsonl" % (sys.argv[1], s))]
    print(s, m["rows"], m["ok"], ",".join(keys), "|", " / ".join(m["errors"]))
PY
)"
expect_eq "each bad shard: its good samples embedded, each problem listed" "$got" \
  "0 3 2 000000,000001 | bad/dup.tar: duplicate key '000000' (member '000000.jpg' again after other keys)
1 2 1 000002 | bad/dots.tar: key 'photo' has several images ('photo.2021.jpg', 'photo.2022.jpg'): a key ends at the first dot of a file name, so names with dots in the key collide
2 3 2 000000,000001 | bad/order.tar: members of '000000' are not adjacent ('000000.json' after other keys): members out of order
3 2 1 000001 | bad/noimage.tar: sample '000000' has no image member ('000000.json', '000000.txt')
4 2 1 000001 | bad/corrupt.tar#000009: truncated JPEG data
5 1 0  | bad/empty.tar: an empty tar shard (no members)
6 1 0  | bad/text.tar: not a tar shard (Unrecognized archive format)
7 1 0  | nowhere.tar: No such file or directory"
expect_eq "one stderr line per problem, and the summary" "$(grep -vc 'shards written' berr)|$(tail -1 berr)" \
  "8|aesthete: 8 shards written, 0 complete already, 8 failed inputs"
finish
