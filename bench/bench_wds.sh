#!/usr/bin/env bash
# bench_wds.sh [COPIES] — what reading a WebDataset shard costs over the same images as files,
# and how array tasks scale: COPIES copies (default 8) of 8 fixture photos as files and as one
# tar, scored with --threads 1 --no-cache (best of 3 wall times); then 8 copies of that tar as
# 1 task on core 0 vs 2 tasks (--shard 0/2, 1/2) on cores 0 and 1 at once (taskset), with
# SCALE_MODEL (default: the recipe ViT-B/32 in $AE_B32_DIR when bench_make_model has written
# it, else MODEL), and one process scoring one photo (the fixed cost of a task: model load).
# usage: AE_CLI=build/aesthete bench/bench_wds.sh 16   (MODEL=dir for another model)
set -eu
copies="${1:-8}"
cli="${AE_CLI:-build/aesthete}"
fixtures="${AE_FIXTURES:-$(dirname "$0")/../../shared/fixtures}"
model="${MODEL:-$fixtures/models/tiny-quickgelu}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/files"
i=0
for c in $(seq "$copies"); do
  for f in photo_boats.jpg photo_ladybird.jpg photo_rocket.jpg photo_landscape.jpg photo_portrait.jpg \
           photo_chelsea_gray.jpg photo_garden_lossy.webp photo_astronaut.png; do
    cp "$fixtures/images/$f" "$tmp/files/$(printf %06d $i).${f##*.}"
    i=$((i + 1))
  done
done
(cd "$tmp/files" && tar cf "$tmp/shard.tar" *)
echo "$i images, $(du -sh "$tmp/files" | cut -f1), model $(basename "$model")"
best() { # best of 3 wall seconds of a command (FIELD=cpu: user + system seconds instead)
  local b=999 t
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$@" >/dev/null 2>&1
    t=$(tail -1 "$tmp/t" | awk -v f="${FIELD:-wall}" '{ print f == "cpu" ? $2 + $3 : $1 }')
    b=$(echo "$t $b" | awk '{ print ($1 < $2) ? $1 : $2 }')
  done
  echo "$b"
}
score=("$cli" score --model "$model" --no-cache --threads 1 --format jsonl)
files=$(best "${score[@]}" "$tmp"/files/*)
tar=$(best "${score[@]}" "$tmp/shard.tar")
echo "files: $files s   tar: $tar s   tar/files: $(echo "$tar $files" | awk '{ printf "%.3f", $1 / $2 }') (wall)"
files=$(FIELD=cpu best "${score[@]}" "$tmp"/files/*)
tar=$(FIELD=cpu best "${score[@]}" "$tmp/shard.tar")
echo "files: $files s   tar: $tar s   tar/files: $(echo "$tar $files" | awk '{ printf "%.3f", $1 / $2 }') (CPU: user + system)"
b32="${AE_B32_DIR:-$HOME/.cache/aesthete-b32}"
smodel="${SCALE_MODEL:-$([ -f "$b32/model.safetensors" ] && echo "$b32" || echo "$model")}"
shards=()
for _ in 1 2 3 4 5 6 7 8; do shards+=("$tmp/shard.tar"); done
two() {
  taskset -c 0 "$cli" score --model "$smodel" --no-cache --threads 1 --shard 0/2 "${shards[@]}" >/dev/null &
  taskset -c 1 "$cli" score --model "$smodel" --no-cache --threads 1 --shard 1/2 "${shards[@]}" >/dev/null
  wait
}
"$cli" score --model "$smodel" --threads 1 "$fixtures/images/photo_boats.jpg" >/dev/null # the bank, once
load=$(best taskset -c 0 "$cli" score --model "$smodel" --no-cache --threads 1 "$fixtures/images/photo_boats.jpg")
one=$(best taskset -c 0 "$cli" score --model "$smodel" --no-cache --threads 1 "${shards[@]}")
export cli smodel
twotasks=$(best bash -c "$(declare -f two); shards=(${shards[*]}); two")
echo "scaling, model $(basename "$smodel"), 8 shards of $i images: 1 task on 1 core $one s, 2 tasks on 2 cores $twotasks s:" \
     "speed-up $(echo "$one $twotasks" | awk '{ printf "%.2f", $1 / $2 }')x; one process, one photo: $load s"
echo "per image past the fixed cost: 1 task $(echo "$one $load $i" | awk '{ printf "%.1f", 1000 * ($1 - $2) / (8 * $3) }') ms," \
     "2 tasks $(echo "$twotasks $load $i" | awk '{ printf "%.1f", 1000 * ($1 - $2) / (4 * $3) }') ms a task"
