#!/usr/bin/env bash
# bench_rank.sh — issue 3's figures with the full-size random ViT-B/32 (recipe weights):
#   1. `aesthete bank build` of the 2000-prompt ImageNet ensemble bank;
#   2. `aesthete rank` of 200 JPEG photos, cold (empty cache) and warm (all cached).
# The 200 photos are the 10 fixture JPEGs (451x300 to 4272x2848; one 12 MP, one CMYK, one
# grayscale) taken 20 times each, every copy made distinct by bytes appended after the JPEG
# end (new cache keys, the same decoding work).
#
#   bench/bench_rank.sh [BUILD_DIR]      (default: build; needs hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
fixtures=${AE_FIXTURES:-$PWD/../shared/fixtures}
work=${TMPDIR:-/tmp}/aesthete-bench-rank
rm -rf "$work/photos"
mkdir -p "$work/photos"
cli="$build/aesthete"
model="$work/b32"
[ -f "$model/model.safetensors" ] || "$build/bench_make_model" "$model" >/dev/null
i=0
for k in $(seq 1 20); do
  for f in "$fixtures"/images/*.jpg; do
    i=$((i + 1))
    out=$(printf '%s/photos/p%03d.jpg' "$work" "$i")
    { cat "$f"; printf 'copy %d' "$i"; } > "$out"
  done
done
echo "photos: $(ls "$work/photos" | wc -l), threads: ${AE_THREADS:-2}, kernels: ${AE_KERNELS:-auto}"
hyperfine --runs 3 --export-markdown "$work/bank.md" \
  "$cli bank build --model $model --method ensemble --threads ${AE_THREADS:-2} -o $work/imagenet.bank"
hyperfine --runs 3 --export-markdown "$work/rank.md" \
  --prepare "rm -f $work/cache.sqlite3*" \
  -n cold "$cli rank --model $model --bank $work/imagenet.bank --cache $work/cache.sqlite3 --threads ${AE_THREADS:-2} --format tsv $work/photos"
"$cli" rank --model "$model" --bank "$work/imagenet.bank" --cache "$work/cache.sqlite3" --format tsv "$work/photos" >/dev/null
hyperfine --runs 5 --export-markdown "$work/rank-warm.md" \
  -n warm "$cli rank --model $model --bank $work/imagenet.bank --cache $work/cache.sqlite3 --threads ${AE_THREADS:-2} --format tsv $work/photos"
cat "$work/bank.md" "$work/rank.md" "$work/rank-warm.md"
