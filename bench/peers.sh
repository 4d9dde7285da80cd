#!/usr/bin/env bash
# peers.sh — aesthete against PyTorch and ONNX Runtime on the same full-size ViT-B/32 (the
# random recipe weights of fixtures/models/b32-recipe, the cost of openai/clip-vit-base-patch32).
#
#   bench/peers.sh                         (ROUNDS=3, every engine and case)
#   ROUNDS=1 CASES="img1 text" N_PROMPTS=200 ENGINES="aesthete-avx512 ort-fp32" bench/peers.sh
#
# Every engine loads THE SAME model.safetensors: aesthete natively; PyTorch through
# bench/peers/clip_torch.py (a re-statement of HF CLIPVisionModelWithProjection /
# CLIPTextModelWithProjection, loaded strict); ONNX Runtime (npm onnxruntime-node) on that
# module exported to ONNX, fp32 and int8 (bench/peers/quantize_int8.py: per-tensor dynamic
# quantization, the pattern of ORT's quantize_dynamic). A sanity line checks each engine's
# embeddings against aesthete's (cosine > 0.9999 for fp32).
#
# Cases: img1, img8, img32 = image encoder on preprocessed [B,3,224,224] tensors (images/s);
# text = the 2000 ImageNet prompts "a outstanding/horrible picture, of a #<class>" as token
# ids (texts/s): aesthete packs them without padding (bench_encode --cases ids), the peers
# get batches of 100 padded to their longest prompt, as processor(padding=True) gives them.
#
# Round r runs every (engine, case) once, in a fixed order, each as its own process under
# /usr/bin/time -v, so slow phases of a shared machine hit every engine alike. The table
# gives the median and range over rounds, aesthete's speed over each engine's (the ratio
# within each round, then the median over rounds: the honest ratio), peak RSS, and a
# roofline: FLOPs per item over the 2-thread fp32 FMA peak that bench_peak measures.
#
# Knobs (environment): ROUNDS (3), THREADS (2), CASES ("img1 img8 img32 text"), ENGINES (a
# subset of the engine names below; default all), REPS (timed repetitions per image process,
# 3), TEXT_REPS (1), N_PROMPTS (2000), BUILD (build), AE_B32_DIR (~/.cache/aesthete-b32: the
# model, generated once, 605 MB), AE_PEERS_CACHE (~/.cache/aesthete-peers: node modules,
# ONNX files, results), AE_FIXTURES (../shared/fixtures), AE_INSTALL=1 (apt-get install what
# is missing instead of printing the command), SANITY=0 (skip the embedding check).
#
# Engines (rows): aesthete-avx512 / aesthete-avx2 (AE_KERNELS=..., each set this CPU runs),
# aesthete-<p> for each precision `bench_encode --precision` offers (AE_PRECISIONS, default
# "bf16 int8"; rows appear once bench_encode has the option), torch-fp32 (plain modules,
# GEMMs to OpenBLAS), torch-fp32-mkldnn (Linear/Conv2d through oneDNN), ort-fp32, ort-int8.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/peers/common.sh
CASES=${CASES:-img1 img8 img32 text}
REPS=${REPS:-3}
TEXT_REPS=${TEXT_REPS:-1}
N_PROMPTS=${N_PROMPTS:-2000}
export NODE_PATH=$CACHE/ortnode/node_modules

# ---- prerequisites: Debian packages, onnxruntime-node, our binaries, the model ----
missing=()
"$PY" -c 'import torch' 2>/dev/null || missing+=(python3-torch)
"$PY" -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
"$PY" -c 'import onnx' 2>/dev/null || missing+=(python3-onnx)
[ -x /usr/bin/time ] || missing+=(time)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ -e /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ] || [ -n "$(ls /usr/lib/*/libopenblas.so.0 2>/dev/null)" ] ||
  missing+=(libopenblas-dev)
need_packages peers.sh ${missing[@]+"${missing[@]}"}
mkdir -p "$CACHE"
if [ ! -f "$NODE_PATH/onnxruntime-node/package.json" ]; then
  echo "installing onnxruntime-node into $CACHE/ortnode (npm, --ignore-scripts: no CUDA download)"
  mkdir -p "$CACHE/ortnode"
  (cd "$CACHE/ortnode" && { [ -f package.json ] || npm init -y >/dev/null; } &&
   npm install --no-audit --no-fund --ignore-scripts onnxruntime-node >/dev/null)
fi
build_targets bench_encode bench_make_model bench_peak aesthete_cli
fp=$("$AE" info --model "$MODEL" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
ONNX=$CACHE/onnx-$fp # exports of this model's weights
mkdir -p "$ONNX"
[ -f "$ONNX/prompts.json" ] ||
  "$PY" bench/peers/clip_torch.py prompts "$MODEL" "$FIXTURES/tokenizer/imagenet_classes.txt" "$ONNX/prompts.json"
if [ ! -f "$ONNX/vision.onnx" ] || [ ! -f "$ONNX/text.onnx" ]; then
  echo "exporting the model to ONNX in $ONNX"
  "$PY" bench/peers/clip_torch.py export "$MODEL" "$ONNX" 2>&1 | grep -v -i warn || true
  if [ ! -f "$ONNX/vision.onnx" ] || [ ! -f "$ONNX/text.onnx" ]; then echo "peers.sh: ONNX export failed" >&2; exit 1; fi
fi
for m in vision text; do
  [ -f "$ONNX/${m}_int8.onnx" ] || "$PY" bench/peers/quantize_int8.py "$ONNX/$m.onnx" "$ONNX/${m}_int8.onnx"
done

# ---- the machine ----
stamp=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$CACHE/peers-$stamp.jsonl}
PEAK=${OUT%.jsonl}.peak.tsv
: >"$OUT"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
        grep -xE 'avx2|fma|avx512f|avx512_bf16|avx512_vnni|avx_vnni|amx_bf16|amx_int8' | tr '\n' ' ')
"$BUILD/bench_peak" --threads "$THREADS" >"$PEAK"
engines=() # name|kind|options (VAR=value words go to the environment): the rows, in the order every round runs them
kernels_ok() { [ "$(AE_KERNELS=$1 "$AE" info --model "$MODEL" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["kernels"])')" = "$1" ]; }
for k in avx512 avx2; do kernels_ok $k && engines+=("aesthete-$k|ae|AE_KERNELS=$k"); done
# reduced precision: bf16 where the CPU has it; int8 on the best set, and on the non-VNNI
# sets (pmaddubsw) and AVX-VNNI where the CPU has better, so every int8 kernel gets a row
for p in ${AE_PRECISIONS:-bf16 int8}; do
  if [ "$p" = bf16 ] && ! grep -qw avx512_bf16 /proc/cpuinfo; then continue; fi
  engines+=("aesthete-$p|ae|--precision $p")
  if [ "$p" = int8 ]; then
    best=$("$AE" info --model "$MODEL" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["kernels"])')
    for k in avxvnni avx2; do
      [ "$k" != "$best" ] && kernels_ok $k && engines+=("aesthete-int8-$k|ae|AE_KERNELS=$k --precision int8")
    done
  fi
done
engines+=("torch-fp32|torch|blas" "torch-fp32-mkldnn|torch|mkldnn" "ort-fp32|ort|" "ort-int8|ort|_int8")
if [ -n "${ENGINES:-}" ]; then
  keep=()
  for e in "${engines[@]}"; do [[ " $ENGINES " == *" ${e%%|*} "* ]] && keep+=("$e"); done
  engines=("${keep[@]}")
fi
{
  echo "# peers.sh $stamp UTC: $cpu, $(nproc) CPUs, flags: $flags"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS, rounds $ROUNDS, model $MODEL ($fp)"
  echo "# libblas.so.3 (PyTorch's GEMMs in torch-fp32) -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?')"
  echo "# torch $("$PY" -c 'import torch; print(torch.__version__)'), onnxruntime-node $(node -p 'require("onnxruntime-node/package.json").version'), $("$AE" --version 2>/dev/null | head -1)"
  sed 's/^/# /' "$PEAK"
} | tee "${OUT%.jsonl}.md"

# ---- sanity: every engine's embeddings against aesthete's, once ----
if [ "${SANITY:-1}" = 1 ]; then
  t=$(mktemp -d)
  photo=$FIXTURES/images/photo_boats.jpg
  "$AE" preprocess --model "$MODEL" "$photo" -o "$t/x.f32"
  "$PY" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["texts"][:2]))' "$ONNX/prompts.json" >"$t/texts"
  mapfile -t two <"$t/texts"
  "$AE" embed --model "$MODEL" --threads "$THREADS" "$photo" >"$t/ae_img.json"
  "$AE" embed --model "$MODEL" --threads "$THREADS" --text "${two[@]}" >"$t/ae_txt.json"
  tof32='import json,sys,numpy as n; n.array([json.loads(l)["embedding"] for l in sys.stdin],"<f4").tofile(sys.argv[1])'
  AE_KERNELS=avx2 "$AE" embed --model "$MODEL" --threads "$THREADS" "$photo" | "$PY" -c "$tof32" "$t/avx2_img.f32"
  AE_KERNELS=avx2 "$AE" embed --model "$MODEL" --threads "$THREADS" --text "${two[@]}" | "$PY" -c "$tof32" "$t/avx2_txt.f32"
  "${TUNED[@]}" "$PY" bench/peers/clip_torch.py embed-image "$MODEL" "$t/x.f32" "$t/torch_img.f32"
  "${TUNED[@]}" "$PY" bench/peers/clip_torch.py embed-text "$MODEL" "$t/torch_txt.f32" "${two[@]}"
  for q in "" _int8; do
    node bench/peers/ort_clip.js --model "$ONNX/vision$q.onnx" --embed-image "$t/x.f32" --out "$t/ort${q}_img.f32"
    node bench/peers/ort_clip.js --model "$ONNX/text$q.onnx" --embed-prompts "$ONNX/prompts.json" --n 2 --out "$t/ort${q}_txt.f32"
  done
  "${REPORT[@]}" check "$t/ae_img.json" "$t/ae_txt.json" aesthete-avx2:image="$t/avx2_img.f32" aesthete-avx2:text="$t/avx2_txt.f32" \
    torch:image="$t/torch_img.f32" torch:text="$t/torch_txt.f32" ort-fp32:image="$t/ort_img.f32" \
    ort-fp32:text="$t/ort_txt.f32" ort-int8:image="$t/ort_int8_img.f32" ort-int8:text="$t/ort_int8_txt.f32" |
    tee -a "${OUT%.jsonl}.md"
  rm -rf "$t"
fi

# ---- the rounds ----
# cmd_for KIND OPTION NAME CASE: the command line of one process, into the array `cmd`
cmd_for() {
  local kind=$1 opt=$2 name=$3 c=$4 reps=$REPS
  [ "$c" = text ] && reps=$TEXT_REPS
  case $kind in
  ae)
    local pre=(env) args=() w
    for w in $opt; do case $w in *=*) pre+=("$w") ;; *) args+=("$w") ;; esac; done
    if [ "$c" = text ]; then sel=(--cases ids --texts "$N_PROMPTS"); else sel=(--cases tensor --batch "${c#img}"); fi
    cmd=("${pre[@]}" "$BUILD/bench_encode" --threads "$THREADS" --reps "$reps" "${sel[@]}" "${args[@]}" "$MODEL") ;;
  torch)
    cmd=("${TUNED[@]}" "$PY" bench/peers/clip_torch.py bench "$MODEL" --case "$c" --backend "$opt"
         --engine "$name" --threads "$THREADS" --reps "$reps" --ids "$ONNX/prompts.json" --n-prompts "$N_PROMPTS") ;;
  ort)
    local m=vision; [ "$c" = text ] && m=text
    cmd=(node bench/peers/ort_clip.js --model "$ONNX/$m$opt.onnx" --case "$c" --engine "$name"
         --threads "$THREADS" --reps "$reps" --ids "$ONNX/prompts.json" --n-prompts "$N_PROMPTS") ;;
  esac
}
tf=$(mktemp) of=$(mktemp) ef=$(mktemp)
trap 'rm -f "$tf" "$of" "$ef"' EXIT
for r in $(seq "$ROUNDS"); do
  echo "== round $r/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
  for c in $CASES; do
    for e in "${engines[@]}"; do
      IFS='|' read -r name kind opt <<<"$e"
      cmd_for "$kind" "$opt" "$name" "$c"
      /usr/bin/time -v -o "$tf" "${cmd[@]}" >"$of" 2>"$ef" || tail -n 3 "$ef" | sed 's/^/    stderr: /'
      "${REPORT[@]}" record "$OUT" "$name" "$c" "$r" "$tf" "$of"
    done
  done
done

# the peak once more: the table takes the best of both runs (a busy phase lowers one of them)
"$BUILD/bench_peak" --threads "$THREADS" >>"$PEAK"
echo
{
  echo
  "${REPORT[@]}" table "$OUT" --model "$MODEL" --prompts "$ONNX/prompts.json" --peak "$PEAK"
} | tee -a "${OUT%.jsonl}.md"
echo "results: $OUT, ${OUT%.jsonl}.md"
