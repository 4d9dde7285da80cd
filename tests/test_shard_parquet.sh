#!/usr/bin/env bash
# test_shard_parquet.sh — the README's run-folder-to-Parquet lines, proven: a run folder
# written by `score --out` over WebDataset shards (a failed sample and kept json/txt members
# among them), the README's `duckdb -c "..."` lines read from the README and run as written
# through DuckDB (@duckdb/node-api from npm: scripts/setup-duckdb.sh), the Parquet files'
# rows, columns, types and values checked against the JSONL, and the float16 .npy read
# through DuckDB and checked against the metadata rows and `aesthete embed`'s vectors.
# Skipped (77) with the reason when node or the npm package is missing.
source "$(dirname "$0")/support/shard_lib.sh"
duck="$here/parquet"
command -v node >/dev/null || { echo "test_shard_parquet: SKIPPED: node is not installed (scripts/setup-duckdb.sh)"; exit 77; }
[ -d "$duck/node_modules/@duckdb/node-api" ] ||
  { echo "test_shard_parquet: SKIPPED: tests/parquet/node_modules is missing (scripts/setup-duckdb.sh installs DuckDB)"; exit 77; }

# the SQL of the README's duckdb lines (the "To Parquet" block), one statement per line
sed -n "s/^duckdb -c \"\\(.*\\)\"\$/\\1/p" "$here/../README.md" >"$tmp/readme.sql"
expect_eq "the README shows two duckdb lines" "$(wc -l <"$tmp/readme.sql")" 2
expect_has "the scores line" "$(cat "$tmp/readme.sql")" "read_json_auto('run/scores/*.jsonl'"

make_samples "$tmp/s"
cd "$tmp" || exit 1
make_tar data-00000.tar s 000000 000001 000002
make_tar data-00001.tar s 000003 000004 000005 000006 000007
tar cf bad.tar -C s 000000.json # no image: an error row
run score --out run --keep json,txt data-00000.tar bad.tar data-00001.tar 2>/dev/null
expect_eq "score --out: some failed (exit 1)" "$?" 1
"$cli" embed --model "$model" data-00000.tar data-00001.tar >emb.jsonl 2>/dev/null
expect_eq "embed: 8 vectors" "$(grep -c '"embedding"' emb.jsonl)" 8

out="$(node "$duck/check.mjs" readme.sql run emb.jsonl 2>&1)"
code=$?
expect_eq "check.mjs ran" "$code" 0
expect_eq "the Parquet files exist" "$(ls metadata.parquet scores.parquet 2>&1 | tr "\n" " ")" "metadata.parquet scores.parquet "
expect_eq "scores.parquet = the JSONL" "$(sed -n 1p <<<"$out")" \
  "scores.parquet: 9 rows (JSONL 9), columns __key__,__url__,score,probability,label,class,method,head,error (JSONL __key__,__url__,score,probability,label,class,method,head,error), 0 values differ"
expect_eq "scores.parquet types" "$(sed -n 2p <<<"$out")" \
  "scores.parquet: types __key__ VARCHAR, score DOUBLE, probability DOUBLE, error VARCHAR"
expect_eq "metadata.parquet = the JSONL" "$(sed -n 3p <<<"$out")" \
  "metadata.parquet: 8 rows (JSONL 8), columns __key__,__url__,json,txt (JSONL __key__,__url__,json,txt), 0 values differ"
expect_eq "metadata.parquet types (the kept json a struct)" "$(sed -n 4p <<<"$out")" \
  "metadata.parquet: types __key__ VARCHAR, txt VARCHAR, json STRUCT(caption VARCHAR, i BIGINT)"
expect_eq "img_emb through DuckDB: rows = metadata, unit, = embed's" "$(sed -n 5p <<<"$out")" \
  "img_emb: 3 files, 8 rows, 8 matched to embed's, unit rows true, = embed's normalised within float16 true"
expect_eq "nothing else printed" "$(sed -n '6,$p' <<<"$out")" ""
# one value by DuckDB itself: the failed sample's row
got="$(node "$duck/query.mjs" "SELECT __url__, __key__, error FROM 'scores.parquet' WHERE score IS NULL" 2>&1)"
expect_eq "the error row in Parquet" "$got" \
  "[[\"bad.tar\",\"000000\",\"bad.tar: sample '000000' has no image member ('000000.json')\"]]"
finish
