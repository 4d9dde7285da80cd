# shard_lib.sh — what the shell tests of sharding, WebDataset input and run folders share
# (sourced, not a test): the CLI and fixtures, a temporary folder, checks that count, and
# WebDataset shards built with tar from the fixture images.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="${AE_CLI:-}"
fixtures="${AE_FIXTURES:-${AE_FIXTURES_DEFAULT:-$here/../../shared/fixtures}}"
model="$fixtures/models/tiny-quickgelu"
[ -n "$cli" ] && [ -x "$cli" ] || { echo "AE_CLI is not set to the aesthete binary" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache" # banks are kept here, never in the user's cache
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_STEP JOB_COMPLETION_INDEX
passed=0 failed=0

ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# expect_eq WHAT ACTUAL EXPECTED
expect_eq() { if [ "$2" == "$3" ]; then ok; else fail "$1: got [$2], expected [$3]"; fi; }
# expect_has WHAT HAYSTACK NEEDLE
expect_has() { case "$2" in *"$3"*) ok ;; *) fail "$1: [$2] does not contain [$3]" ;; esac; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

# the images the shards are made of: 8 decodable fixtures
images=(photo_boats.jpg photo_ladybird.jpg photo_rocket.jpg photo_landscape.jpg small_100x75.png
        photo_coffee.gif photo_portrait.jpg gradient_rgb.png)

# make_samples DIR: DIR/000000.jpg ... with a .json and a .txt each (keys 000000..000007)
make_samples() {
  mkdir -p "$1"
  local i=0 f k
  for f in "${images[@]}"; do
    k=$(printf %06d $i)
    cp "$fixtures/images/$f" "$1/$k.${f##*.}"
    printf '{"caption": "%s", "i": %d}\n' "$f" $i >"$1/$k.json"
    printf 'text of %s\n' "$f" >"$1/$k.txt"
    i=$((i + 1))
  done
}

# make_tar TAR DIR KEY...: the members of those keys, in key order
make_tar() {
  local tar="$1" dir="$2"
  shift 2
  local members=() k
  for k in "$@"; do members+=($(cd "$dir" && ls "$k".*)); done
  tar cf "$tar" -C "$dir" "${members[@]}"
}

run() { "$cli" "$@" --model "$model" --no-cache; }

# make_data_shards: data-00000.tar .. data-00002.tar in the current folder from make_samples'
# s/ (keys 000000-000002, 000003-000005, 000006-000007)
make_data_shards() {
  make_tar data-00000.tar s 000000 000001 000002
  make_tar data-00001.tar s 000003 000004 000005
  make_tar data-00002.tar s 000006 000007
}

# err_case WHAT EXPECTED-OUTPUT EXPECTED-STATUS COMMAND...: stdout+stderr and the status
err_case() {
  local what="$1" want="$2" code="$3" out c
  shift 3
  out="$("$@" 2>&1)"
  c=$?
  expect_eq "$what" "$out|$c" "$want|$code"
}

# make_bad_shards: in the current folder (that of make_samples' s/, $tmp), bad/ with the
# shards of issue 11's bad input: dup.tar (a key twice), dots.tar (keys with dots),
# order.tar (a key's members apart), noimage.tar (a sample without an image), corrupt.tar (a
# truncated JPEG member); d1..d3 are left as scratch
make_bad_shards() {
  mkdir bad d1 d2 d3
  cp s/000000.jpg d1/ && cp s/000000.jpg d2/
  tar cf bad/dup.tar -C d1 000000.jpg -C "$tmp/s" 000001.jpg -C "$tmp/d2" 000000.jpg
  cp s/000000.jpg d3/photo.2021.jpg && cp s/000001.jpg d3/photo.2022.jpg
  tar cf bad/dots.tar -C d3 photo.2021.jpg photo.2022.jpg -C "$tmp/s" 000002.jpg
  tar cf bad/order.tar -C s 000000.jpg 000001.jpg 000000.json
  tar cf bad/noimage.tar -C s 000000.json 000000.txt 000001.jpg
  head -c 2000 s/000000.jpg >d1/000009.jpg
  tar cf bad/corrupt.tar -C d1 000009.jpg -C "$tmp/s" 000001.jpg
}
