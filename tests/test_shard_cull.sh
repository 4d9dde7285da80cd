#!/usr/bin/env bash
# test_shard_cull.sh — `cull` on WebDataset shards and into run folders: tar samples are
# culled as the same images as files (groups, roles, scores, photo measures); --shard hands
# out whole tars and groups within the part; `cull --out DIR` culls each shard on its own
# (DIR/cull/S.jsonl = `cull` of that tar alone; a copy in another shard is not grouped) beside
# img_emb/ and metadata/, with the manifest and resume rules of score, the cull options part
# of the manifest; bad input gives one-line errors or error rows.
source "$(dirname "$0")/support/shard_lib.sh"
command -v python3 >/dev/null || { echo "test_shard_cull: SKIPPED: python3 is not installed"; exit 77; }

make_samples "$tmp/s"
cd "$tmp" || exit 1
cp s/000000.jpg s/000100.jpg && cp s/000000.json s/000100.json # a copy of 000000
cp s/000003.jpg s/000101.jpg                                    # a copy of 000003
make_tar t0.tar s 000000 000001 000100
make_tar t1.tar s 000003 000004 000002
make_tar t2.tar s 000101 000005
# the tiny test model finds any two photos alike: exact copies only (no near, no bursts)
cx() { run cull --similar 0.999 --burst-gap 0 "$@"; }
mkdir f && for k in 000000 000001 000100 000003 000004 000002 000101 000005; do cp s/$k.* f/; done && rm f/*.json f/*.txt

# the fields that do not name files, by key: files and tar samples must agree
fields() {
  python3 -c '
import json, re, sys
for l in sys.stdin:
    r = json.loads(l)
    key = re.sub(r"^(f/|t[0-9]\.tar#)", "", r["input"]).split(".")[0]
    print(key, *(r.get(k) for k in ("group", "kind", "role", "match", "score", "similarity", "sharpness", "noise", "width", "time")))'
}
cx --format jsonl f/* 2>/dev/null | fields | sort >files.txt
cx --format jsonl t0.tar t1.tar t2.tar 2>/dev/null | fields | sort >tars.txt
expect_eq "files: 2 exact groups" "$(awk '$3 == "exact" && $4 == "reject" {print $1}' files.txt | tr '\n' ' ')" "000100 000101 "
expect_eq "tars: the same groups, roles, scores and measures as the files" "$(diff files.txt tars.txt && echo same)" same
got="$(cx --format jsonl t0.tar t1.tar t2.tar 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["role"] == "reject": print(r["input"], "|", r["keeper"], "|", r["reason"])')"
expect_eq "rejects named SHARD#KEY, keepers across shards" "$got" \
  "t0.tar#000100 | t0.tar#000000 | the same bytes as t0.tar#000000
t2.tar#000101 | t1.tar#000003 | the same bytes as t1.tar#000003"
got="$(cx --summary --format table --shard 1/2 t0.tar t1.tar t2.tar 2>/dev/null)"
expect_eq "--shard 1/2: whole tars t1, t2; the copy across them grouped" "$got" \
  "5 images: 1 groups (1 exact, 0 near, 0 burst), 1 keepers, 1 rejects, 3 singles, 0 failed"
got="$(cx --summary --format table --shard 0/3 t0.tar t1.tar t2.tar 2>/dev/null)"
expect_eq "--shard 0/3: t0 alone" "$got" "3 images: 1 groups (1 exact, 0 near, 0 burst), 1 keepers, 1 rejects, 1 singles, 0 failed"

# ---- cull --out: each shard culled on its own ----
echo x >bad.tar
cx --out run --keep json t0.tar t1.tar t2.tar bad.tar 2>err
expect_eq "cull --out: exit 1 (a bad shard)" "$?" 1
expect_eq "its error on stderr, once" "$(cat err)" "aesthete: bad.tar: not a tar shard (Unrecognized archive format)"
expect_eq "files: cull/, img_emb/, metadata/, manifest/" "$(cd run && find . -type f | sort | tr '\n' ' ')" \
  "./cull/0.jsonl ./cull/1.jsonl ./cull/2.jsonl ./cull/3.jsonl ./img_emb/img_emb_0.npy ./img_emb/img_emb_1.npy ./img_emb/img_emb_2.npy ./img_emb/img_emb_3.npy ./manifest/0.json ./manifest/1.json ./manifest/2.json ./manifest/3.json ./metadata/metadata_0.jsonl ./metadata/metadata_1.jsonl ./metadata/metadata_2.jsonl ./metadata/metadata_3.jsonl "
for k in 0 1 2; do
  expect_eq "cull/$k.jsonl = cull of t$k.tar alone" "$(cat run/cull/$k.jsonl)" "$(cx --format jsonl t$k.tar 2>/dev/null)"
done
expect_eq "the copy across shards is not grouped (000101 single)" "$(grep -o '"input": "t2.tar#000101", "group": null' run/cull/2.jsonl)" \
  '"input": "t2.tar#000101", "group": null'
expect_eq "the bad shard: its error row" "$(cat run/cull/3.jsonl)" '{"input": "bad.tar", "error": "bad.tar: not a tar shard (Unrecognized archive format)"}'
check="$(python3 - run <<'PY'
import json, struct, sys
d = sys.argv[1]
for s in "0123":
    m = json.load(open("%s/manifest/%s.json" % (d, s)))
    raw = open("%s/img_emb/img_emb_%s.npy" % (d, s), "rb").read()
    hl = struct.unpack("<H", raw[8:10])[0]
    rows, dim = eval(raw[10:10 + hl].decode())["shape"]
    meta = [json.loads(l) for l in open("%s/metadata/metadata_%s.jsonl" % (d, s))]
    print(s, m["command"], m["rows"], m["ok"], m["failed"], rows, len(meta), sorted(m["files"])[0], "json" in (meta[0] if meta else {"json": 0}))
print(json.load(open(d + "/manifest/0.json"))["options"])
PY
)"
expect_eq "manifests: command cull, rows; npy rows = metadata rows; the cull options" "$check" \
  "0 cull 3 3 0 3 3 cull/0.jsonl True
1 cull 3 3 0 3 3 cull/1.jsonl True
2 cull 2 2 0 2 2 cull/2.jsonl False
3 cull 1 0 1 0 0 cull/3.jsonl True
exif=1,max_pixels=100000000,fast=0,precision=fp32,keep=json,similar=0.999000013,burst_gap=0,burst_similar=0.850000024,time=exif,keep_by=0,blur=0.5,search=0"

# resume: skipped when complete; other cull options or --force redo
stamp="$(stat -c %Y.%s run/cull/* | tr '\n' ' ')"
sleep 1.1
cx --out run --keep json --verbose t0.tar t1.tar t2.tar bad.tar 2>resume.err
expect_eq "rerun: all skipped, not rewritten" "$(tail -1 resume.err)|$(stat -c %Y.%s run/cull/* | tr '\n' ' ')" \
  "aesthete: 0 shards written, 4 complete already, 0 failed inputs|$stamp"
cx --out run --keep json --verbose --similar 0.9995 t0.tar t1.tar t2.tar bad.tar 2>resume.err
expect_eq "another --similar: all redone" "$(tail -1 resume.err)" "aesthete: 4 shards written, 0 complete already, 1 failed inputs"
cx --out run --keep json --verbose --similar 0.9995 --force --shard 0/2 t0.tar t1.tar t2.tar bad.tar 2>resume.err
expect_eq "--force --shard 0/2: its two shards redone" "$(tail -1 resume.err)" "aesthete: 2 shards written, 0 complete already, 0 failed inputs"
rm run/manifest/1.json
cx --out run --keep json --verbose --similar 0.9995 t0.tar t1.tar t2.tar bad.tar 2>resume.err
expect_eq "an unfinished shard redone alone" "$(tail -1 resume.err)" "aesthete: 1 shards written, 3 complete already, 0 failed inputs"
# images: one output per task, culled within the task's part (f sorted: 000000 .. 000005,
# then the copies 000100 and 000101, whose originals are in part 0)
cx --out iout --shard 1/2 f 2>/dev/null
expect_eq "images --shard 1/2: shard 1, 4 images, the copies single" "$(ls iout/cull)|$(grep -c '"role": "single"' iout/cull/1.jsonl)" "1.jsonl|4"
cx --out iall f 2>/dev/null
expect_eq "images, one task: both copies grouped" "$(grep -o '"input": "f/00010[01].jpg", "group": [12], "kind": "exact", "role": "reject"' iall/cull/0.jsonl | wc -l)" 2

# ---- bad input ----
err_case "--out with --write-xmp" "aesthete cull: --out writes every shard's rows as JSON Lines into DIR/cull/: drop --write-xmp, --move-rejects, --rejects, --summary and --format
Try 'aesthete cull --help'." 2 cx --out x --write-xmp t0.tar
err_case "--out with --format" "aesthete cull: --out writes every shard's rows as JSON Lines into DIR/cull/: drop --write-xmp, --move-rejects, --rejects, --summary and --format
Try 'aesthete cull --help'." 2 cx --out x --format csv t0.tar
err_case "--write-xmp on tar samples" "aesthete cull: t0.tar: the samples of a WebDataset shard have no sidecars to write nor files to move: drop --write-xmp and --move-rejects
Try 'aesthete cull --help'." 2 cx --write-xmp 't{0..1}.tar'
err_case "--move-rejects on tar samples" "aesthete cull: t1.tar: the samples of a WebDataset shard have no sidecars to write nor files to move: drop --write-xmp and --move-rejects
Try 'aesthete cull --help'." 2 cx --move-rejects moved f t1.tar
run score --out sruns t0.tar 2>/dev/null
err_case "cull --out over score's run folder" \
  "aesthete: cull: sruns/manifest/0.json: shard 0 was written by \`aesthete score\`: give \`cull --out\` a run folder of its own" 2 \
  cx --out sruns t0.tar
err_case "tars and images together" "aesthete cull: --out: give tar shards or images, not both (1 of the 4 inputs are tars)
Try 'aesthete cull --help'." 2 cx --out mixed f/000000.jpg f/000001.jpg f/000002.jpg t0.tar
err_case "--shard 5/4" "aesthete: cull: --shard: index 5 is not below the count 4 (indices are 0 to 3)" 2 cx --out run --shard 5/4 t0.tar
err_case "a garbled SLURM_ARRAY_TASK_COUNT" "aesthete: cull: SLURM_ARRAY_TASK_COUNT='four' is not a whole number above 0" 2 \
  env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=four SLURM_ARRAY_TASK_MIN=0 "$cli" cull --model "$model" --no-cache t0.tar
# bad shards among good ones: error rows, the rest culled
mkdir d && cp s/000000.jpg d/ && cp s/000000.jpg d2.jpg
tar cf dup.tar -C d 000000.jpg -C "$tmp/s" 000001.jpg -C "$tmp" d2.jpg
tar --transform 's/d2/000000/' -cf dup.tar -C d 000000.jpg -C "$tmp/s" 000001.jpg -C "$tmp" d2.jpg
tar cf empty.tar -T /dev/null
got="$(cx --format jsonl dup.tar empty.tar t2.tar 2>cerr | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["input"], r.get("role"), r.get("error"))')"
expect_eq "bad shards: rows with errors, the rest culled" "$got" \
  "dup.tar#000000 single None
dup.tar#000001 single None
t2.tar#000101 single None
t2.tar#000005 single None
dup.tar#000000 None dup.tar: duplicate key '000000' (member '000000.jpg' again after other keys)
empty.tar None empty.tar: an empty tar shard (no members)"
expect_eq "one stderr line each" "$(wc -l <cerr)" 2
finish
