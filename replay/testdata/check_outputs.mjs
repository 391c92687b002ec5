// Reads kpcap replay outputs with independent readers and compares them with
// what the Go side computed:
//
//   node check_outputs.mjs expected.json
//
// expected.json: {"arrow": path, "parquet": path, "rows": N,
//   "columns": [{"name", "arrow", "duck", "nonNull", "sum"}],   // sum: integer sum, or byte length sum for strings/binary
//   "stacks": {"arrow": path, "parquet": path, "rows": N}}
// apache-arrow reads the IPC files, DuckDB (@duckdb/node-api) the Parquet files.
// Exits non-zero with a message on the first mismatch.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { DuckDBInstance } from '@duckdb/node-api';

const exp = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let failures = 0;
function check(what, got, want) {
  if (String(got) !== String(want)) {
    console.error(`MISMATCH ${what}: got ${got}, want ${want}`);
    failures++;
  }
}

// apache-arrow on the IPC file.
const table = tableFromIPC(readFileSync(exp.arrow));
check('arrow rows', table.numRows, exp.rows);
const enc = new TextEncoder();
for (const c of exp.columns) {
  const field = table.schema.fields.find((f) => f.name === c.name);
  if (!field) { check(`arrow column ${c.name}`, 'missing', 'present'); continue; }
  check(`arrow type of ${c.name}`, String(field.type), c.arrow);
  const vec = table.getChild(c.name);
  let nonNull = 0;
  let sum = 0n;
  for (let i = 0; i < vec.length; i++) {
    const v = vec.get(i);
    if (v === null || v === undefined) continue;
    nonNull++;
    if (typeof v === 'string') sum += BigInt(enc.encode(v).length);
    else if (v instanceof Uint8Array) sum += BigInt(v.length);
    else if (typeof v === 'boolean') sum += v ? 1n : 0n;
    else sum += BigInt(v);
  }
  check(`arrow non-null ${c.name}`, nonNull, c.nonNull);
  check(`arrow sum ${c.name}`, sum, c.sum);
}

// DuckDB on the Parquet file.
const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
async function query(sql) {
  const r = await conn.runAndReadAll(sql);
  return r.getRowObjects();
}
const pq = `read_parquet('${exp.parquet.replaceAll("'", "''")}')`;
check('parquet rows', (await query(`SELECT count(*) AS n FROM ${pq}`))[0].n, exp.rows);
const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM ${pq}`)).map((r) => [r.column_name, r.column_type]));
for (const c of exp.columns) {
  check(`duckdb type of ${c.name}`, types[c.name], c.duck);
  const q = `"${c.name.replaceAll('"', '""')}"`;
  let expr = `sum(${q})`;
  if (c.duck === 'VARCHAR') expr = `sum(strlen(${q}))`;
  if (c.duck === 'BLOB') expr = `sum(octet_length(${q}))`;
  if (c.duck === 'BOOLEAN') expr = `sum(${q}::INTEGER)`;
  const row = (await query(`SELECT count(${q}) AS n, coalesce(${expr}, 0)::HUGEINT AS s FROM ${pq}`))[0];
  check(`duckdb non-null ${c.name}`, row.n, c.nonNull);
  check(`duckdb sum ${c.name}`, row.s, c.sum);
}

if (exp.stacks) {
  check('stacks arrow rows', tableFromIPC(readFileSync(exp.stacks.arrow)).numRows, exp.stacks.rows);
  const sp = `read_parquet('${exp.stacks.parquet.replaceAll("'", "''")}')`;
  check('stacks parquet rows', (await query(`SELECT count(*) AS n FROM ${sp}`))[0].n, exp.stacks.rows);
}

if (failures > 0) {
  console.error(`${failures} mismatches`);
  process.exit(1);
}
console.log(`ok: ${exp.rows} rows, ${exp.columns.length} columns checked by apache-arrow and DuckDB`);
