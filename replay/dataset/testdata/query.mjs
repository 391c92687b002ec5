// Runs SQL with DuckDB (@duckdb/node-api) and prints the rows of each query
// as JSON, for Go tests that compare them with kpcap's own numbers:
//
//   node query.mjs queries.json     // queries.json: ["SELECT ...", ...]
//
// Output: one JSON array per query (rows as objects; integers as strings,
// so that 64-bit values stay exact), one per line. Exits non-zero on error.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const queries = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const inst = await DuckDBInstance.create(':memory:');
const conn = await inst.connect();
for (const q of queries) {
  const r = await conn.runAndReadAll(q);
  const rows = r.getRowObjectsJson();
  console.log(JSON.stringify(rows));
}
