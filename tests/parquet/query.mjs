// query.mjs — one SQL query through DuckDB in the current folder, its rows printed as JSON
// (for tests/test_shard_parquet.sh). Usage: node query.mjs SQL
import { DuckDBInstance } from '@duckdb/node-api';
const db = await (await DuckDBInstance.create(':memory:')).connect();
console.log(JSON.stringify((await db.runAndReadAll(process.argv[2])).getRowsJS()));
