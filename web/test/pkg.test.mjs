// The planner's wasm build (pkg/) agrees with the `wesley` binary byte for byte, on every
// golden plan case: the plan file, the SQL script, the Markdown and the DDL; and on every
// valid SDL case, the TypeScript of `wesley generate --format typescript`.
//
// Needs pkg/ (scripts/build-wasm) and target/debug/wesley (cargo build -p wesley), or
// $WESLEY_BIN.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WESLEY = process.env.WESLEY_BIN ?? join(resolve(ROOT, process.env.CARGO_TARGET_DIR ?? 'target'), 'debug', 'wesley');
const PKG = join(ROOT, 'pkg');

const wesley = await import(join(PKG, 'wesley_planner.js'));
wesley.initSync({ module: readFileSync(join(PKG, 'wesley_planner_bg.wasm')) });

function cli(...args) {
  assert.ok(existsSync(WESLEY), `${WESLEY} is missing: run cargo build -p wesley`);
  const r = spawnSync(WESLEY, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return r;
}

/** Every golden case: `{ name, old, new }` paths (plan cases, then error cases). */
function cases() {
  const out = [];
  for (const set of ['plan', 'plan_err']) {
    const dir = join(ROOT, 'planner', 'tests', 'data', set);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const old = join(dir, name, 'old.graphql');
      const neu = join(dir, name, 'new.graphql');
      if (existsSync(old) && existsSync(neu)) out.push({ name: `${set}/${name}`, old, new: neu });
    }
  }
  return out;
}

const read = (path) => readFileSync(path, 'utf8');

test('there are golden cases to compare', () => {
  assert.ok(cases().length >= 10, `found ${cases().length}`);
});

for (const c of cases()) {
  test(`${c.name}: plan file, SQL and Markdown equal wesley plan's`, () => {
    const old = read(c.old);
    const neu = read(c.new);
    const json = cli('plan', '--from', c.old, '--to', c.new, '--format', 'json');
    const result = wesley.plan('old.graphql', old, 'new.graphql', neu);
    // The playground's preview (what it plans while someone types) is this plan file's
    // steps, with the same diagnostics and the verdict of the file.
    const shown = wesley.preview('old.graphql', old, 'new.graphql', neu);
    assert.deepEqual(shown.diagnostics, result.diagnostics);
    assert.equal(shown.applicable, result.applicable);
    if (result.plan === null) {
      assert.equal(shown.plan, null);
      assert.equal(shown.verdict, null);
    } else {
      const fields = ['steps', 'rollback', 'waves', 'critical_path', 'tables', 'diagnostics'];
      assert.deepEqual(shown.plan, Object.fromEntries(fields.map((k) => [k, result.plan[k]])));
      assert.deepEqual(shown.verdict, wesley.verdict(result.json, [], []));
    }
    if (json.status === 2) {
      // The command writes no plan file for a plan with errors; neither does planJson.
      assert.equal(json.stdout, '');
      assert.equal(result.applicable, false);
      assert.throws(() => wesley.planJson('old.graphql', old, 'new.graphql', neu));
      assert.ok(
        result.diagnostics.some((d) => d.severity === 'error') || wesley.validatePlan(result.json).length > 0,
        'a plan the command refuses has errors',
      );
      return;
    }
    assert.ok([0, 3].includes(json.status), `wesley plan exited ${json.status}: ${json.stderr}`);
    assert.equal(result.applicable, true);
    assert.deepEqual(wesley.validatePlan(result.json), []);
    assert.equal(result.json, json.stdout, 'plan() json differs from wesley plan --format json');
    assert.equal(wesley.planJson('old.graphql', old, 'new.graphql', neu), json.stdout);
    assert.deepEqual(result.plan, JSON.parse(json.stdout));

    const sql = cli('plan', '--from', c.old, '--to', c.new, '--format', 'sql');
    assert.equal(wesley.renderSql(result.json), sql.stdout, 'renderSql differs from --format sql');
    const md = cli('plan', '--from', c.old, '--to', c.new, '--format', 'markdown');
    assert.equal(wesley.renderMarkdown(result.json, [], []), md.stdout, 'renderMarkdown differs from --format markdown');
    // The verdict and exit code agree with the command's, with and without --deny.
    const v = wesley.verdict(result.json, [], []);
    assert.equal(v.blocks, json.status === 3, `verdict ${JSON.stringify(v)} but wesley plan exited ${json.status}`);
    const denied = cli('plan', '--from', c.old, '--to', c.new, '--format', 'json', '--deny', 'long_running');
    assert.equal(wesley.verdict(result.json, [], ['long_running']).blocks, denied.status === 3);
  });

  test(`${c.name}: DDL equals wesley generate's`, () => {
    const ddl = cli('generate', c.new);
    const result = wesley.generate('new.graphql', read(c.new));
    if (ddl.status !== 0) {
      assert.equal(result.ddl, null);
      return;
    }
    assert.equal(result.ddl, ddl.stdout);
  });
}

test('SDL errors come back as diagnostics with line and column, not exceptions', () => {
  const src = 'type Post @wes_table {\n  id: ID! @wes_pk\n  title: String! =\n}\n';
  const result = wesley.plan('current.graphql', '', 'next.graphql', src);
  assert.equal(result.plan, null);
  assert.equal(result.json, null);
  assert.equal(result.applicable, false);
  const [d] = result.diagnostics;
  assert.equal(d.file, 'next.graphql');
  assert.equal(d.severity, 'error');
  assert.equal(d.line, 3);
  assert.equal(typeof d.column, 'number');
  assert.ok(d.message.length > 0);
  assert.equal(wesley.takePanic(), undefined, 'no panic was recorded');
});

test('a blank current schema is an empty database', () => {
  const result = wesley.plan('current.graphql', '', 'next.graphql', 'type A @wes_table { id: ID! @wes_pk }');
  assert.equal(result.applicable, true);
  assert.deepEqual(
    result.plan.steps.map((s) => s.kind),
    ['create_table'],
  );
});

test('version, format and hazards; no test generator in the download', () => {
  const cargo = read(join(ROOT, 'Cargo.toml'));
  assert.equal(wesley.version(), /\nversion = "([^"]+)"/.exec(cargo)[1]);
  assert.equal(wesley.planFormat(), 'wesley.plan/v3');
  const kinds = wesley.hazards().map((h) => h.kind);
  assert.ok(kinds.includes('deletes_data') && kinds.includes('blocks_writes'), kinds.join());
  for (const h of wesley.hazards()) assert.ok(h.description && h.advice, h.kind);
  // The synthetic schema generator is a cargo feature the browser build leaves out.
  assert.equal(wesley.synthSchema, undefined);
});

test('validatePlan refuses an edited plan file like wesley apply', () => {
  const json = wesley.planJson('a', '', 'b', 'type A @wes_table { id: ID! @wes_pk }');
  const edited = json.replace('CREATE TABLE', 'CREATE UNLOGGED TABLE');
  assert.notEqual(edited, json);
  assert.match(wesley.validatePlan(edited).join('\n'), /modified/);
  assert.ok(wesley.validatePlan('{}').length > 0);
});

test('bad arguments throw errors with the reason', () => {
  assert.throws(() => wesley.renderSql('{'), /not a wesley.plan\/v3 plan file/);
  const json = wesley.planJson('a', '', 'b', 'type A @wes_table { id: ID! @wes_pk }');
  assert.throws(() => wesley.renderSql(json, 'soon'), /lock timeout/);
  assert.throws(() => wesley.renderMarkdown(json, ['nonsense'], []), /unknown hazard/);
  assert.throws(() => wesley.verdict(json, ['long_running'], ['long_running']), /both allowed and denied/);
});

test('generateTypescript equals wesley generate --format typescript on every valid SDL case', () => {
  const dir = join(ROOT, 'planner', 'tests', 'data', 'sdl', 'ok');
  const schemas = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  assert.ok(schemas.length >= 5, `found ${schemas.length}`);
  for (const name of schemas) {
    const path = join(dir, name);
    for (const dates of ['date', 'string']) {
      const cliOut = cli('generate', path, '--format', 'typescript', '--ts-dates', dates);
      assert.equal(cliOut.status, 0, cliOut.stderr);
      const result = wesley.generateTypescript(name, read(path), dates);
      assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error'), []);
      assert.equal(result.typescript, cliOut.stdout, `${name} with dates as ${dates}`);
    }
  }
  assert.throws(() => wesley.generateTypescript('s.graphql', '', 'epoch'), /date.*string/);
});
