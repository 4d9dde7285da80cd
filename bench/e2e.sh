#!/usr/bin/env bash
# e2e.sh — whole processes, end to end: `aesthete rank --no-cache` against the article's
# Python script (bench/article_rank.py: PIL + PyTorch, tuned environment) on folders of JPEG
# photos, model loading, decoding, preprocessing, both towers and the ranking included.
#
#   bench/e2e.sh                      (ROUNDS=3, both sets)
#   ROUNDS=1 SETS=1mp N_1MP=40 bench/e2e.sh
#
# Sets (made once with PIL by bench/peers/make_photos.py from the fixture photos, into
# $AE_PEERS_CACHE/e2e/, never into the repository): 1mp = N_1MP (200) distinct JPEGs of about
# 1 MP, 12mp = N_12MP (50) of about 12 MP. Engines (rows): aesthete (default kernels),
# aesthete-avx2 (AE_KERNELS=avx2, where the default is avx512), aesthete-fast-decode (when
# `aesthete rank --help` lists --fast-decode), aesthete-bf16 / -int8 (when it lists --precision;
# AE_PRECISIONS), article (bench/article_rank.py). Round r runs
# each (engine, set) once in a fixed order under /usr/bin/time -v; the table gives the wall
# seconds' median and range, the article's time over aesthete's (per round, then the median),
# and peak RSS. Round 1 also checks that both rank alike (scores of the same file compared).
#
# Knobs: ROUNDS (3), THREADS (2), SETS ("1mp 12mp"), ENGINES (subset of the names above),
# N_1MP, N_12MP, BUILD (build), AE_B32_DIR, AE_PEERS_CACHE, AE_FIXTURES, as bench/peers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/peers/common.sh
SETS=${SETS:-1mp 12mp}
N_1MP=${N_1MP:-200}
N_12MP=${N_12MP:-50}

missing=()
"$PY" -c 'import torch' 2>/dev/null || missing+=(python3-torch)
"$PY" -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
"$PY" -c 'import PIL' 2>/dev/null || missing+=(python3-pil)
[ -x /usr/bin/time ] || missing+=(time)
need_packages e2e.sh ${missing[@]+"${missing[@]}"}
build_targets aesthete_cli bench_make_model
set_dir() { case $1 in 1mp) echo "$CACHE/e2e/1mp-$N_1MP" ;; 12mp) echo "$CACHE/e2e/12mp-$N_12MP" ;; esac; }
photos=("$FIXTURES"/images/photo_*.jpg)
for s in $SETS; do
  case $s in 1mp) n=$N_1MP mp=1 ;; 12mp) n=$N_12MP mp=12 ;; *) echo "e2e.sh: unknown set $s" >&2; exit 2 ;; esac
  dir=$(set_dir "$s")
  if [ ! -f "$dir/.done" ]; then
    echo "making $n photos of ~$mp MP in $dir (once)"
    rm -rf "$dir"
    "$PY" bench/peers/make_photos.py "$dir" "$n" "$mp" "${photos[@]}" && touch "$dir/.done"
  fi
done

engines=("aesthete|ae|")
kern=$("$AE" info --model "$MODEL" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["kernels"])')
[ "$kern" = avx512 ] && engines+=("aesthete-avx2|ae|AE_KERNELS=avx2")
"$AE" rank --help 2>&1 | grep -q -- --fast-decode && engines+=("aesthete-fast-decode|ae|--fast-decode")
if "$AE" rank --help 2>&1 | grep -q -- --precision; then # hook: reduced-precision rows
  for p in ${AE_PRECISIONS:-bf16 int8}; do engines+=("aesthete-$p|ae|--precision $p"); done
fi
engines+=("article|py|")
if [ -n "${ENGINES:-}" ]; then
  keep=()
  for e in "${engines[@]}"; do [[ " $ENGINES " == *" ${e%%|*} "* ]] && keep+=("$e"); done
  engines=("${keep[@]}")
fi

stamp=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$CACHE/e2e-$stamp.jsonl}
: >"$OUT"
{
  echo "# e2e.sh $stamp UTC: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, aesthete kernels $kern"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS, rounds $ROUNDS, model $MODEL"
  for s in $SETS; do
    d=$(set_dir "$s")
    echo "# set $s: $(find "$d" -name '*.jpg' | wc -l) JPEGs, $(du -sm "$d" | cut -f1) MB, e.g. $("$PY" -c 'import sys; from PIL import Image; print("%dx%d" % Image.open(sys.argv[1]).size)' "$d/p000.jpg")"
  done
} | tee "${OUT%.jsonl}.md"

tf=$(mktemp) of=$(mktemp) ef=$(mktemp) outs=$(mktemp -d)
trap 'rm -rf "$tf" "$of" "$ef" "$outs"' EXIT
for r in $(seq "$ROUNDS"); do
  echo "== round $r/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
  for s in $SETS; do
    dir=$(set_dir "$s")
    for e in "${engines[@]}"; do
      IFS='|' read -r name kind opt <<<"$e"
      case $kind in
      ae)
        pre=(env) args=()
        case $opt in AE_KERNELS=*) pre=(env "$opt") ;; ?*) read -ra args <<<"$opt" ;; esac
        cmd=("${pre[@]}" "$AE" rank --no-cache --model "$MODEL" --threads "$THREADS" --format tsv "${args[@]}" "$dir") ;;
      py)
        cmd=("${TUNED[@]}" "$PY" bench/article_rank.py "$MODEL" "$dir" --threads "$THREADS") ;;
      esac
      /usr/bin/time -v -o "$tf" "${cmd[@]}" >"$of" 2>"$ef" || tail -n 3 "$ef" | sed 's/^/    stderr: /'
      "${REPORT[@]}" record "$OUT" "$name" "$s" "$r" "$tf" "$of" s
      [ "$r" = 1 ] && cp "$of" "$outs/$name-$s.out"
    done
    # round 1: the same ranking? (aesthete's TSV: rank, score, ..., input; the article: score, path)
    if [ "$r" = 1 ] && [ -f "$outs/aesthete-$s.out" ] && [ -f "$outs/article-$s.out" ]; then
      "$PY" - "$outs/aesthete-$s.out" "$outs/article-$s.out" "$s" <<'EOF' | tee -a "${OUT%.jsonl}.md"
import os, sys
def rows(path, score_col, path_col):
    out = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        try:
            out[os.path.basename(f[path_col])] = float(f[score_col])
        except (ValueError, IndexError):
            pass  # a header line
    return out
ae, py = rows(sys.argv[1], 1, -1), rows(sys.argv[2], 0, -1)
common = sorted(set(ae) & set(py))
if common:
    d = max(abs(ae[k] - py[k]) for k in common)
    top = lambda m: sorted(common, key=lambda k: -m[k])[:10]
    print(f"  {sys.argv[3]}: {len(common)} files scored by both, max |score difference| {d:.4f}, "
          f"top 10 the same: {top(ae) == top(py)}")
else:
    print(f"  {sys.argv[3]}: no common files in the two outputs")
EOF
    fi
  done
done
{
  echo
  "${REPORT[@]}" table "$OUT" --ref aesthete
} | tee -a "${OUT%.jsonl}.md"
echo "results: $OUT, ${OUT%.jsonl}.md"
