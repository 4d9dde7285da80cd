#!/usr/bin/env bash
# bench_rank.sh — issue 3's figures with the full-size random ViT-B/32 (recipe weights):
#   1. `aesthete bank build` of the 2000-prompt ImageNet ensemble bank;
#   2. `aesthete rank` of 200 JPEG photos, cold (empty cache) and warm (all cached);
#   3. issue 10's overhead of culling: cold `aesthete cull` beside cold `aesthete rank` of the
#      same 200 photos, interleaved round by round (rank, cull, rank, cull, ...) so that both
#      see the same machine; prints each median and cull/rank - 1. cull decodes each photo
#      once for both the embedding and its facts (quality, pixel hash, EXIF), then groups.
# The 200 photos are the 10 fixture JPEGs (451x300 to 4272x2848; one 12 MP, one CMYK, one
# grayscale) taken 20 times each, every copy made distinct by bytes appended after the JPEG
# end (new cache keys, the same decoding work).
#
#   bench/bench_rank.sh [BUILD_DIR]      (default: build; needs hyperfine)
#   AE_ROUNDS=N (default 3) rounds of part 3; AE_ONLY=cull runs part 3 alone.
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
[ -f "$work/imagenet.bank" ] || "$cli" bank build --model "$model" --method ensemble -o "$work/imagenet.bank" >/dev/null

# one cold run of "$@" (an empty cache): "wall_seconds cpu_seconds" (user + system) on stdout;
# CPU seconds move less than wall time when other work shares the machine
cold() {
  rm -f "$work/cache.sqlite3"*
  /usr/bin/time -f "%e %U %S" -o "$work/time.txt" "$@" >/dev/null
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$work/time.txt"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cull_vs_rank() {
  local common=(--model "$model" --bank "$work/imagenet.bank" --cache "$work/cache.sqlite3" --threads "${AE_THREADS:-2}" --format tsv)
  : > "$work/rank.s"
  : > "$work/cull.s"
  for r in $(seq 1 "${AE_ROUNDS:-3}"); do
    cold "$cli" rank "${common[@]}" "$work/photos" >> "$work/rank.s"
    cold "$cli" cull "${common[@]}" "$work/photos" >> "$work/cull.s"
    echo "round $r: rank $(tail -1 "$work/rank.s") s, cull $(tail -1 "$work/cull.s") s (wall, CPU)"
  done
  local n=${AE_ROUNDS:-3} tr tc cr cc
  tr=$(cut -d' ' -f1 "$work/rank.s" | median)
  tc=$(cut -d' ' -f1 "$work/cull.s" | median)
  cr=$(cut -d' ' -f2 "$work/rank.s" | median)
  cc=$(cut -d' ' -f2 "$work/cull.s" | median)
  printf 'cold rank (median of %d): %.2f s wall, %.2f s CPU\n' "$n" "$tr" "$cr"
  printf 'cold cull (median of %d): %.2f s wall, %.2f s CPU\n' "$n" "$tc" "$cc"
  printf 'cull / rank - 1: %+.1f%% wall, %+.1f%% CPU\n' "$(echo "($tc / $tr - 1) * 100" | bc -l)" \
    "$(echo "($cc / $cr - 1) * 100" | bc -l)"
}
if [ "${AE_ONLY:-}" = cull ]; then
  cull_vs_rank
  exit 0
fi
hyperfine --runs 3 --export-markdown "$work/bank.md" \
  "$cli bank build --model $model --method ensemble --threads ${AE_THREADS:-2} -o $work/imagenet.bank"
hyperfine --runs 3 --export-markdown "$work/rank.md" \
  --prepare "rm -f $work/cache.sqlite3*" \
  -n cold "$cli rank --model $model --bank $work/imagenet.bank --cache $work/cache.sqlite3 --threads ${AE_THREADS:-2} --format tsv $work/photos"
"$cli" rank --model "$model" --bank "$work/imagenet.bank" --cache "$work/cache.sqlite3" --format tsv "$work/photos" >/dev/null
hyperfine --runs 5 --export-markdown "$work/rank-warm.md" \
  -n warm "$cli rank --model $model --bank $work/imagenet.bank --cache $work/cache.sqlite3 --threads ${AE_THREADS:-2} --format tsv $work/photos"
cat "$work/bank.md" "$work/rank.md" "$work/rank-warm.md"
cull_vs_rank
