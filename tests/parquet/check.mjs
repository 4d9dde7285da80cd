// check.mjs — for tests/test_shard_parquet.sh: runs SQL statements (the README's
// run-folder-to-Parquet lines, one per line of SQL_FILE) through DuckDB in the current folder,
// then checks the Parquet files they wrote against the JSONL they came from, and the float16
// .npy embeddings (read through DuckDB's read_blob) against the metadata rows and against
// `aesthete embed`'s vectors. Prints one line per finding; the shell test compares them.
// Usage: node check.mjs SQL_FILE RUN_DIR EMBED_JSONL
import { readFileSync, readdirSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [sqlFile, run, embedFile] = process.argv.slice(2);
const db = await (await DuckDBInstance.create(':memory:')).connect();
const rows = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJS();

for (const sql of readFileSync(sqlFile, 'utf8').split('\n').filter((l) => l.trim())) await db.run(sql);

// the JSONL rows of run/SUB/*.jsonl, files in name order (as DuckDB's glob lists them)
const jsonl = (sub) =>
  readdirSync(`${run}/${sub}`)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readFileSync(`${run}/${sub}/${f}`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));

// deep equality of a JSONL value and the Parquet value (a missing key is a null column)
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

for (const [sub, file] of [['scores', 'scores.parquet'], ['metadata', 'metadata.parquet']]) {
  const want = jsonl(sub);
  const cols = [...new Set(want.flatMap((r) => Object.keys(r)))];
  const types = Object.fromEntries((await rows(`DESCRIBE SELECT * FROM '${file}'`)).map((r) => [r.column_name, r.column_type]));
  const [{ n }] = await rows(`SELECT num_rows AS n FROM parquet_file_metadata('${file}')`);
  // each row back as JSON text, parsed: nested fields (the kept .json) compare as values
  const got = (await rows(`SELECT to_json(t) AS j FROM '${file}' t`)).map((r) => JSON.parse(r.j));
  let bad = 0;
  want.forEach((w, i) => cols.forEach((c) => (bad += !same(w[c], got[i]?.[c]))));
  console.log(`${file}: ${n} rows (JSONL ${want.length}), columns ${Object.keys(types).join(',')} (JSONL ${cols.join(',')}), ` +
    `${bad} values differ`);
  const t = (c) => types[c] ?? 'absent';
  if (sub === 'scores') console.log(`${file}: types __key__ ${t('__key__')}, score ${t('score')}, probability ${t('probability')}, error ${t('error')}`);
  else console.log(`${file}: types __key__ ${t('__key__')}, txt ${t('txt')}, json ${t('json').replace(/\s+/g, ' ')}`);
}

// the embeddings: float16 [rows, dim], one row per metadata row, unit length, = embed's
const half = (h) => {
  const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1;
  return s * (e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15));
};
const ref = new Map(readFileSync(embedFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  .filter((r) => r.embedding).map((r) => [r.input, r.embedding]));
let total = 0, worst = 0, normWorst = 0, matched = 0;
const blobs = await rows(`SELECT filename, content FROM read_blob('${run}/img_emb/*.npy') ORDER BY filename`);
for (const { filename, content } of blobs) {
  const b = Buffer.from(content);
  const hl = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hl).toString('latin1');
  const [, r, d] = header.match(/'shape': \((\d+), (\d+)\)/).map(Number);
  const shard = filename.match(/img_emb_(\w+)\.npy$/)[1];
  const meta = readFileSync(`${run}/metadata/metadata_${shard}.jsonl`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  if (!header.includes("'descr': '<f2'") || meta.length !== r || b.length !== 10 + hl + 2 * r * d)
    console.log(`${filename}: header ${header.trim()} does not fit ${meta.length} metadata rows of ${b.length} bytes`);
  for (let i = 0; i < r; i++) {
    const v = Array.from({ length: d }, (_, k) => half(b.readUInt16LE(10 + hl + 2 * (i * d + k))));
    normWorst = Math.max(normWorst, Math.abs(Math.hypot(...v) - 1));
    const e = ref.get(meta[i].image_path ?? `${meta[i].__url__}#${meta[i].__key__}`);
    if (!e) continue;
    const n = Math.hypot(...e);
    worst = Math.max(worst, ...e.map((x, k) => Math.abs(x / n - v[k])));
    matched++;
  }
  total += r;
}
console.log(`img_emb: ${blobs.length} files, ${total} rows, ${matched} matched to embed's, ` +
  `unit rows ${normWorst < 2e-3}, = embed's normalised within float16 ${worst < 1e-3}`);
