// The types `wesley generate --format typescript` writes are what node-postgres really
// returns: planner/tests/data/sdl/ok/all_types.graphql (every column type, as a value and
// as an array, nullable and NOT NULL) is created in a throwaway PostgreSQL cluster from
// its golden DDL (all_types.out), rows are inserted through `pg` with parameters, read back
// with `SELECT *`, and every value is checked against the property type of the row
// interface in the golden all_types.ts (and, with the parsers its header names, against
// all_types.dates-string.ts). The insert type's required keys are checked against the
// table: leaving any one out fails with not_null_violation, giving only them succeeds.
//
// Needs PostgreSQL's server programs (scripts/install-deps) and web/'s npm packages.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import PostgresInterval from 'postgres-interval';
import { startCluster } from './pg.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GOLDEN = join(ROOT, 'planner', 'tests', 'data', 'sdl', 'ok');
const read = (name) => readFileSync(join(GOLDEN, name), 'utf8');

/** The interfaces of a generated file: name -> [{ key, optional, type }]. */
function interfaces(ts) {
  const out = new Map();
  for (const m of ts.matchAll(/^export interface (\w+) \{\n([\s\S]*?)^\}$/gm)) {
    const props = [];
    for (const line of m[2].split('\n')) {
      const p = /^ {2}("(?:[^"\\]|\\.)*"|[\w$]+)(\?)?: (.+);$/.exec(line);
      if (p) props.push({ key: p[1].startsWith('"') ? JSON.parse(p[1]) : p[1], optional: !!p[2], type: p[3] });
    }
    out.set(m[1], props);
  }
  return out;
}

/** The string-literal unions of a generated file: name -> Set of labels. */
function unions(ts) {
  const out = new Map();
  for (const m of ts.matchAll(/^export type (\w+) = ((?:"[^"]*"(?: \| )?)+);$/gm)) {
    out.set(m[1], new Set([...m[2].matchAll(/"([^"]*)"/g)].map((l) => l[1])));
  }
  return out;
}

/** Parses the types the generator writes: unions of names, `X[]` and `(A | B)[]`. */
function parseType(text) {
  let i = 0;
  const skip = () => {
    while (text[i] === ' ') i++;
  };
  function union() {
    const alts = [atom()];
    skip();
    while (text[i] === '|') {
      i++;
      alts.push(atom());
      skip();
    }
    return alts.length === 1 ? alts[0] : { union: alts };
  }
  function atom() {
    skip();
    let t;
    if (text[i] === '(') {
      i++;
      t = union();
      assert.equal(text[i], ')', `in ${text}`);
      i++;
    } else {
      const m = /^[\w$]+/.exec(text.slice(i));
      assert.ok(m, `unexpected type text: ${text}`);
      i += m[0].length;
      t = { name: m[0] };
    }
    while (text.startsWith('[]', i)) {
      i += 2;
      t = { array: t };
    }
    return t;
  }
  const t = union();
  skip();
  assert.equal(i, text.length, `unparsed rest of ${text}`);
  return t;
}

function isJson(v) {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJson);
  return Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(isJson);
}

/** Whether the runtime value `v` is of the generated type `t`. */
function matches(v, t, enums) {
  if (t.union) return t.union.some((u) => matches(v, u, enums));
  if (t.array) return Array.isArray(v) && v.every((e) => matches(e, t.array, enums));
  switch (t.name) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    case 'Date':
      return v instanceof Date && !Number.isNaN(v.getTime());
    case 'Buffer':
      return Buffer.isBuffer(v);
    case 'JsonValue':
      return isJson(v);
    case 'PgInterval':
      return v !== null && typeof v === 'object' && typeof v.toPostgres === 'function' && typeof v.toISO === 'function';
    default:
      assert.ok(enums.has(t.name), `unknown type name ${t.name}`);
      return typeof v === 'string' && enums.get(t.name).has(v);
  }
}

/** A value for a column of the `Sample` tables (named `<kind>_value` / `<kind>_array`). */
const VALUES = {
  int2: 1,
  int4: 2,
  int8: '9007199254740993',
  float4: 1.5,
  float8: 2.25,
  numeric: '12345678901234567890.125',
  numeric102: '3.14',
  money: '12.34',
  text: 'a "quoted", {braced} text',
  varchar: 'b',
  bpchar: 'abc',
  citext: 'MiXeD',
  bool: true,
  uuid: '6f1c1d1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f',
  date: new Date(2024, 0, 2),
  time: '12:34:56',
  timetz: '12:34:56+02',
  timestamp: new Date(2024, 0, 2, 3, 4, 5),
  timestamptz: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
  interval: PostgresInterval('1 day 02:03:04'),
  bit: '101',
  varbit: '1',
  json: { a: [1, 'two', null] },
  jsonb: { b: { c: true } },
  bytea: Buffer.from([0, 1, 255]),
  inet: '10.0.0.1',
  cidr: '10.0.0.0/8',
  macaddr: '08:00:2b:01:02:03',
  tsvector: 'fat cat',
  xml: '<a>b</a>',
  mood: 'HAPPY',
};

/** The parameters of a full row of a `Sample` table: every column set, arrays with a NULL. */
function fullRow(props) {
  return props.map(({ key }) => {
    if (key === 'id') return 1;
    const m = /^(\w+)_(value|array)$/.exec(key);
    assert.ok(m && m[1] in VALUES, `no value for column ${key}`);
    const v = VALUES[m[1]];
    return m[2] === 'value' ? v : [v, null];
  });
}

const quote = (name) => `"${name.replaceAll('"', '""')}"`;

let cluster;
let client;
const DB = 'types';

before(async () => {
  cluster = startCluster();
  cluster.psql('postgres', `CREATE DATABASE ${DB} TEMPLATE template0;`);
  cluster.psql(DB, read('all_types.out'));
  client = new pg.Client({ host: cluster.socketDir, port: cluster.port, user: 'postgres', database: DB });
  await client.connect();
});

after(async () => {
  await client?.end();
  cluster?.stop();
});

/** Inserts `values` (parallel to `props`) into `table` through pg; returns `SELECT *`. */
async function roundTrip(table, props, values) {
  const cols = props.map((p) => quote(p.key)).join(', ');
  const params = props.map((_, i) => `$${i + 1}`).join(', ');
  await client.query(`INSERT INTO ${table} (${cols}) VALUES (${params})`, values);
  const { rows } = await client.query(`SELECT * FROM ${table}`);
  assert.equal(rows.length, 1);
  await client.query(`DELETE FROM ${table}`);
  return rows[0];
}

/** Checks every property of `row` against interface `name` of the generated file `ts`. */
function checkRow(ts, name, row) {
  const props = interfaces(ts).get(name);
  const enums = unions(ts);
  assert.ok(props, `no interface ${name}`);
  assert.deepEqual(Object.keys(row), props.map((p) => p.key), `${name}: the keys are the columns, in order`);
  for (const p of props) {
    const v = row[p.key];
    const shown = Buffer.isBuffer(v) ? `Buffer ${v.toString('hex')}` : JSON.stringify(v);
    assert.ok(matches(v, parseType(p.type), enums), `${name}.${p.key}: ${shown} (${typeof v}) is not ${p.type}`);
  }
}

const TABLES = [
  ['public.sample', 'Sample'],
  ['public.required_sample', 'RequiredSample'],
];

test('a full row of every column type matches the row interface (dates as Date)', async () => {
  const ts = read('all_types.ts');
  for (const [table, name] of TABLES) {
    const props = interfaces(ts).get(`${name}Insert`);
    const row = await roundTrip(table, props, fullRow(props));
    checkRow(ts, name, row);
    // The surprises the mapping documents, seen directly.
    assert.equal(row.int8_value, '9007199254740993');
    assert.equal(row.numeric_value, '12345678901234567890.125');
    assert.equal(typeof row.numeric_array[0], 'number');
    assert.equal(row.mood_array, '{HAPPY,NULL}');
    assert.ok(row.timestamptz_value instanceof Date);
    assert.equal(row.timestamptz_value.getTime(), VALUES.timestamptz.getTime());
    // date and timestamp values are read in the local time zone: a date is local midnight.
    assert.equal(row.date_value.getTime(), VALUES.date.getTime());
    assert.equal(row.timestamp_value.getTime(), VALUES.timestamp.getTime());
    assert.deepEqual(row.jsonb_value, VALUES.jsonb);
  }
});

test('bigint and numeric parameters may be numbers or BigInts, as the insert type says', async () => {
  const ts = read('all_types.ts');
  const insert = new Map(interfaces(ts).get('SampleInsert').map((p) => [p.key, p]));
  assert.equal(insert.get('int8_value').type, 'string | number | bigint | null');
  assert.equal(insert.get('numeric_value').type, 'string | number | null');
  const props = ['id', 'int8_value', 'numeric_value'].map((k) => insert.get(k));
  let row = await roundTrip('public.sample', props, [1, 9007199254740993n, 2.5]);
  assert.equal(row.int8_value, '9007199254740993');
  assert.equal(row.numeric_value, '2.5');
  row = await roundTrip('public.sample', props, [1, 42, 7]);
  assert.equal(row.int8_value, '42');
  checkRow(ts, 'Sample', row);
});

test('a row of NULLs matches the nullable row interface', async () => {
  const ts = read('all_types.ts');
  const props = interfaces(ts).get('SampleInsert');
  const row = await roundTrip('public.sample', props, props.map((p) => (p.key === 'id' ? 1 : null)));
  checkRow(ts, 'Sample', row);
  assert.ok(Object.entries(row).every(([k, v]) => k === 'id' || v === null));
});

test('the insert type requires exactly the columns PostgreSQL requires', async () => {
  const ts = read('all_types.ts');
  const props = interfaces(ts).get('InsertRulesInsert');
  const required = props.filter((p) => !p.optional);
  assert.deepEqual(required.map((p) => p.key), ['required']);
  const row = await roundTrip('public.insert_rules', required, ['given']);
  checkRow(ts, 'InsertRules', row);
  assert.equal(row.with_default, 7);
  assert.equal(row.nullable_with_default, 'OK');
  // Every NOT NULL column of the sample tables without a default is required.
  for (const [table, name] of TABLES) {
    const insert = interfaces(ts).get(`${name}Insert`);
    const values = fullRow(insert);
    for (const [i, p] of insert.entries()) {
      if (p.optional) continue;
      const rest = insert.filter((_, j) => j !== i);
      const cols = rest.map((q) => quote(q.key)).join(', ');
      const params = rest.map((_, j) => `$${j + 1}`).join(', ');
      await assert.rejects(
        client.query(`INSERT INTO ${table} (${cols}) VALUES (${params})`, values.filter((_, j) => j !== i)),
        (e) => e.code === '23502',
        `${table}: leaving out ${p.key} must fail`,
      );
    }
  }
});

test('with the parsers its header names, rows match all_types.dates-string.ts', async () => {
  const ts = read('all_types.dates-string.ts');
  const setup = ts
    .split('\n')
    .filter((l) => l.startsWith('//   '))
    .map((l) => l.slice(5))
    .join('\n');
  assert.match(setup, /setTypeParser/);
  const saved = [1082, 1114, 1184, 1182, 1115, 1185].map((oid) => [oid, pg.types.getTypeParser(oid)]);
  new Function('pg', setup)(pg);
  try {
    for (const [table, name] of TABLES) {
      const props = interfaces(ts).get(`${name}Insert`);
      const row = await roundTrip(table, props, fullRow(props));
      checkRow(ts, name, row);
      assert.equal(row.date_value, '2024-01-02');
      assert.deepEqual(row.date_array, ['2024-01-02', null]);
    }
  } finally {
    for (const [oid, parser] of saved) pg.types.setTypeParser(oid, parser);
  }
});
