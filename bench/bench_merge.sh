#!/usr/bin/env bash
# bench_merge.sh SHARDS ROWS [DIR] — `aesthete merge` over a generated run folder: SHARDS
# shards of ROWS rows each (random scores, with manifests as `score --out` writes them), then
# the whole ranking and --top 100, with wall time and peak memory (GNU time's max RSS).
# usage: AE_CLI=build/aesthete bench/bench_merge.sh 1000 10000
set -eu
shards="${1:-1000}" rows="${2:-10000}" dir="${3:-$(mktemp -d)}"
cli="${AE_CLI:-build/aesthete}"
mkdir -p "$dir"/{scores,img_emb,metadata,manifest}
digits=$(awk -v n="$shards" 'BEGIN { d = 1; while (n >= 10) { n = int(n / 10); d++ } print d }')
echo "generating $shards shards x $rows rows in $dir ..." >&2
awk -v shards="$shards" -v rows="$rows" -v dir="$dir" -v digits="$digits" 'BEGIN {
  srand(1)
  for (s = 0; s < shards; s++) {
    name = sprintf("%0" digits "d", s)
    f = dir "/scores/" name ".jsonl"
    for (r = 0; r < rows; r++)
      printf "{\"__key__\": \"%09d\", \"__url__\": \"data/%s.tar\", \"score\": %.9g, \"probability\": 0.5, \"label\": \"good\", \"class\": null, \"method\": \"fixed\", \"head\": \"fixed\"}\n", s * rows + r, name, (rand() - 0.5) * 100 > f
    close(f)
    printf "" > (dir "/img_emb/img_emb_" name ".npy"); printf "" > (dir "/metadata/metadata_" name ".jsonl")
  }
}'
for f in "$dir"/scores/*.jsonl; do
  n=$(basename "$f" .jsonl)
  printf '{"version": 1, "shard": "%s", "model": "m", "head": "h", "files": {"scores/%s.jsonl": %d, "img_emb/img_emb_%s.npy": 0, "metadata/metadata_%s.jsonl": 0}}\n' \
    "$n" "$n" "$(stat -c %s "$f")" "$n" "$n" >"$dir/manifest/$n.json"
done
du -sh "$dir/scores" >&2
for args in "" "--top 100"; do
  /usr/bin/time -f "merge $args: %e s wall, %M KiB max RSS" "$cli" merge $args "$dir" 2>&1 >/dev/null | grep -v '^aesthete: [0-9]* shards' >&2
done
"$cli" merge --top 1 "$dir" 2>&1 >/dev/null | tail -1 >&2
