// The planner benchmark, in the browser (dist/bench/index.html): plans synthetic schemas
// of several sizes with a few changes and reports the median time of repeated runs. It
// times the playground's own worker operations (web/src/ops.js): on this page's main
// thread, so the numbers are the planner's own, and through a worker like the
// playground's, so they include the messages. web/bench/bench.mjs drives it in headless
// Chromium.

import init, * as wesley from '../../pkg/wesley_planner.js';
import { planOps } from '../src/ops.js';

const started = performance.now();
const ready = init({ module_or_path: new URL('../wesley_planner_bg.wasm', import.meta.url) }).then(() => performance.now() - started);
const ops = planOps(wesley);

/**
 * The "next" version of a synthetic schema: a nullable column with an index on three
 * tables spread over the schema, and a new table.
 */
export function withChanges(sdl) {
  const types = [...sdl.matchAll(/^type (\w+) @wes_table[^{]*\{\n/gm)];
  const picks = new Set([0, Math.floor(types.length / 2), types.length - 1].map((i) => types[i].index));
  let out = '';
  let last = 0;
  for (const m of types) {
    const end = m.index + m[0].length;
    out += sdl.slice(last, end);
    if (picks.has(m.index)) out += '  benchNote: String @wes_index\n';
    last = end;
  }
  out += sdl.slice(last);
  return `${out}\ntype BenchAudit @wes_table {\n  id: ID! @wes_pk\n  at: DateTime!\n}\n`;
}

/**
 * The "next" schema as someone types a column's name: run `i` names the new table's
 * column `at<i>`, so every run plans a different schema, and the plan must show the name.
 */
const typed = (next, i) => next.replace('\n  at: DateTime!\n}\n', `\n  at${i}: DateTime!\n}\n`);

function check(result, i, tables) {
  const ok =
    result.applicable &&
    result.verdict !== null &&
    result.plan.steps.some((s) => s.sql.includes(`"at${i}"`));
  if (!ok) throw new Error(`the ${tables}-table plan of run ${i} is not the expected one: ${JSON.stringify(result.diagnostics.slice(0, 3))}`);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function time(f) {
  const t = performance.now();
  const value = f();
  return [performance.now() - t, value];
}

/** The playground's planner worker (dist/worker.js), and a way to ask it one thing. */
async function startWorker() {
  const worker = new Worker(new URL('../worker.js', import.meta.url), { type: 'module' });
  await new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.ready ? resolve() : reject(new Error(data.error)));
    worker.onerror = (e) => reject(new Error(e.message));
  });
  let seq = 0;
  const ask = (op, args) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      worker.onmessage = ({ data }) => {
        if (data.id !== id) return;
        if ('error' in data) reject(new Error(data.error));
        else resolve(data.result);
      };
      worker.postMessage({ id, op, ...args });
    });
  return { ask, stop: () => worker.terminate() };
}

/**
 * `schemas` maps each of `sizes` (table counts) to a synthetic schema of that many tables
 * (planner/examples/synth.rs). For each size: `replan` is what the playground's worker
 * does while someone types in the "next" editor (each run a different text; the current
 * schema's parse is reused), `roundTrip` the same through a worker, from the message to
 * the answer; `full` plans after both schemas changed; `file` is what an export costs (the
 * plan file and its validation); `parse` is the "next" schema's parse and DDL alone.
 */
export async function run({ sizes, schemas, runs = { 50: 15, 200: 11, 1000: 5 } }) {
  const initMs = await ready;
  const worker = await startWorker();
  // Warm up both instances first: the engine optimises a module's hot functions only once
  // they have run a while, and the first size measured would otherwise pay for it.
  const smallest = schemas[Math.min(...sizes)];
  for (let i = 0; i < 20; i++) {
    const args = { current: smallest, next: typed(withChanges(smallest), 1000 + i) };
    check(ops.plan(args), 1000 + i, 'warm-up');
    check(await worker.ask('plan', args), 1000 + i, 'warm-up');
  }
  const results = [];
  try {
    for (const tables of sizes) {
      const current = schemas[tables];
      const next = withChanges(current);
      const [firstMs, first] = time(() => ops.plan({ current, next }));
      if (!first.applicable) throw new Error(`the ${tables}-table plan is not applicable: ${JSON.stringify(first.diagnostics.slice(0, 3))}`);
      const n = runs[tables] ?? 5;
      const replan = [];
      const roundTrip = [];
      const full = [];
      const file = [];
      const parse = [];
      // One loop per measure (the full plans would evict the current schema's parse); each
      // starts with three untimed runs (i < 0). Run numbers differ between loops, so no
      // loop plans a text another one planned.
      const measure = async (into, base, f) => {
        for (let i = -3; i < n; i++) {
          const t = performance.now();
          await f(base + i + 3);
          if (i >= 0) into.push(performance.now() - t);
        }
      };
      await measure(replan, 0, (i) => check(ops.plan({ current, next: typed(next, i) }), i, tables));
      await measure(roundTrip, 100, async (i) => check(await worker.ask('plan', { current, next: typed(next, i) }), i, tables));
      await measure(full, 200, (i) => check(ops.plan({ current: `${current}# edit ${i}\n`, next: typed(next, i) }), i, tables));
      let planJsonBytes = 0;
      await measure(file, 300, (i) => {
        const { json, refused } = ops.file({ current, next: typed(next, i) });
        if (json === null || refused.length || !json.includes(`\\"at${i}\\"`)) throw new Error(`the ${tables}-table plan file of run ${i} is not the expected one: ${refused.join('; ')}`);
        planJsonBytes = json.length;
      });
      await measure(parse, 400, (i) => {
        if (wesley.generate('next.graphql', typed(next, i)).ddl === null) throw new Error(`the ${tables}-table schema has errors`);
      });
      results.push({
        tables,
        runs: n,
        sdlBytes: next.length,
        steps: first.plan.steps.length,
        planJsonBytes,
        firstMs,
        replanMs: median(replan),
        roundTripMs: median(roundTrip),
        fullMs: median(full),
        fileMs: median(file),
        parseMs: median(parse),
      });
    }
  } finally {
    worker.stop();
  }
  return { initMs, version: wesley.version(), results };
}

window.bench = { run };
