// The TypeScript that `wesley generate --format typescript` writes compiles under
// `tsc --strict`: every golden output (planner/tests/data/sdl/ok/*.ts), and
// test/typescript/usage.ts, which uses the generated types and whose `@ts-expect-error`
// lines must stay errors. Needs web/'s npm packages (npm ci: typescript, @types/node).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'web', 'node_modules', '.bin', 'tsc');
const GOLDEN = join(ROOT, 'planner', 'tests', 'data', 'sdl', 'ok');

/** Runs `tsc --strict --noEmit` on `files`: `{ status, output }`. */
function tsc(files) {
  const args = ['--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler', '--types', 'node', ...files];
  const r = spawnSync(TSC, args, { encoding: 'utf8', cwd: join(ROOT, 'web') });
  if (r.error) throw r.error;
  return { status: r.status, output: r.stdout + r.stderr };
}

const golden = readdirSync(GOLDEN)
  .filter((f) => f.endsWith('.ts'))
  .sort()
  .map((f) => join(GOLDEN, f));

test('every golden TypeScript output and the usage file compile with --strict', () => {
  assert.ok(golden.length >= 10, `found ${golden.length} golden .ts files`);
  const r = tsc([...golden, join(ROOT, 'web', 'test', 'typescript', 'usage.ts')]);
  assert.equal(r.status, 0, r.output);
});

test('tsc reports a wrong use of a generated type', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wesley-ts-'));
  try {
    const file = join(dir, 'wrong.ts');
    const types = join(GOLDEN, 'all_types').replaceAll('\\', '/');
    writeFileSync(file, `import type { Sample } from '${types}';\nexport const n = (s: Sample): number => s.int8_value;\n`);
    const r = tsc([file]);
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /int8_value|string/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
