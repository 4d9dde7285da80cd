#!/usr/bin/env node
// ONNX Runtime (npm onnxruntime-node, CPU) on the CLIP encoders exported by clip_torch.py, for
// bench/peers.sh.
//
//   node ort_clip.js --model vision.onnx --case img1|img8|img32 [--reps 3] [--min-images 32]
//   node ort_clip.js --model text.onnx --case text --ids prompts.json [--n-prompts 2000] [--text-batch 100]
//   node ort_clip.js --model vision.onnx --embed-image IN.f32 --out OUT.f32     ([N,3,224,224] -> [N,512])
//   node ort_clip.js --model text.onnx --embed-prompts prompts.json --n 2 --out OUT.f32
//   common: [--threads 2] [--engine NAME]
//
// Session: intraOpNumThreads = --threads, interOpNumThreads 1, sequential, all graph
// optimizations (which fuse the int8 pattern of quantize_int8.py). Text batches are padded to
// their longest prompt with <|endoftext|> and an attention mask, as processor(padding=True).
// A bench prints one JSON line: {"engine", "case", "value", "unit", "samples"}.
'use strict';
const ort = require('onnxruntime-node');
const fs = require('fs');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const EOT = 49407n;

function median(a) {
  const s = [...a].sort((x, y) => x - y), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function textFeeds(seqs) {
  const L = Math.max(...seqs.map((p) => p.length));
  const ids = new BigInt64Array(seqs.length * L).fill(EOT), am = new BigInt64Array(seqs.length * L);
  seqs.forEach((p, r) => p.forEach((t, j) => { ids[r * L + j] = BigInt(t); am[r * L + j] = 1n; }));
  return {
    input_ids: new ort.Tensor('int64', ids, [seqs.length, L]),
    attention_mask: new ort.Tensor('int64', am, [seqs.length, L]),
  };
}

async function main() {
  const threads = +arg('threads', 2);
  const sess = await ort.InferenceSession.create(arg('model'), {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const outName = sess.outputNames[0];

  if (arg('embed-image') || arg('embed-prompts')) { // embeddings for the sanity check
    let feeds;
    if (arg('embed-image')) {
      const x = new Float32Array(fs.readFileSync(arg('embed-image')).buffer.slice(0));
      feeds = { pixel_values: new ort.Tensor('float32', x, [x.length / (3 * 224 * 224), 3, 224, 224]) };
    } else {
      feeds = textFeeds(JSON.parse(fs.readFileSync(arg('embed-prompts'))).ids.slice(0, +arg('n', 2)));
    }
    const y = (await sess.run(feeds))[outName].data;
    fs.writeFileSync(arg('out'), Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    return;
  }

  const c = arg('case');
  let run, warm, n, unit;
  if (/^img\d+$/.test(c)) {
    const bs = +c.slice(3), iters = Math.max(1, Math.ceil(+arg('min-images', 32) / bs));
    const x = new Float32Array(bs * 3 * 224 * 224);
    let s = 12345; // deterministic values in [-2, 2), like normalised pixels
    for (let i = 0; i < x.length; i++) { s = (s * 1103515245 + 12345) >>> 0; x[i] = s / 2 ** 30 - 2; }
    const feeds = { pixel_values: new ort.Tensor('float32', x, [bs, 3, 224, 224]) };
    run = async () => { for (let i = 0; i < iters; i++) await sess.run(feeds); };
    warm = async () => { await sess.run(feeds); };
    n = bs * iters; unit = 'images/s';
  } else if (c === 'text') {
    const ids = JSON.parse(fs.readFileSync(arg('ids'))).ids.slice(0, +arg('n-prompts', 2000));
    const tb = +arg('text-batch', 100), batches = [];
    for (let i = 0; i < ids.length; i += tb) batches.push(textFeeds(ids.slice(i, i + tb)));
    run = async () => { for (const f of batches) await sess.run(f); };
    warm = async () => { for (const f of batches.slice(0, 2)) await sess.run(f); };
    n = ids.length; unit = 'texts/s';
  } else throw new Error('unknown --case ' + c);

  await warm();
  const samples = [];
  for (let r = 0; r < +arg('reps', 3); r++) {
    const t0 = process.hrtime.bigint();
    await run();
    samples.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  console.log(JSON.stringify({
    engine: arg('engine', 'ort'), case: c, value: +median(samples).toFixed(3), unit,
    samples: samples.map((v) => +v.toFixed(3)), ort: require('onnxruntime-node/package.json').version, threads,
  }));
}
main().catch((e) => { console.error('ort_clip.js: ' + (e && e.message ? e.message : e)); process.exit(1); });
