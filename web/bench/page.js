// The planner benchmark, in the browser (dist/bench/index.html): plans synthetic schemas
// of several sizes with a few changes and reports the median time of repeated runs. The
// planner runs on this page's main thread, so the numbers are the planner's own (the
// playground itself plans in a worker). web/bench/bench.mjs drives it in headless Chromium.

import init, * as wesley from '../../pkg/wesley_planner.js';

const started = performance.now();
const ready = init({ module_or_path: new URL('../wesley_planner_bg.wasm', import.meta.url) }).then(() => performance.now() - started);

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

/**
 * `schemas` maps each of `sizes` (table counts) to a synthetic schema of that many tables
 * (planner/examples/synth.rs). For each size: `replan` is what the playground does while someone types in the "next"
 * editor (the current schema's parse is reused); `full` parses both schemas; `parse` is
 * the "next" schema's parse and DDL alone.
 */
export async function run({ sizes, schemas, runs = { 50: 15, 200: 11, 1000: 5 } }) {
  const initMs = await ready;
  const results = [];
  for (const tables of sizes) {
    const current = schemas[tables];
    const next = withChanges(current);
    const [firstMs, first] = time(() => wesley.plan('current.graphql', current, 'next.graphql', next));
    if (!first.applicable) throw new Error(`the ${tables}-table plan is not applicable: ${JSON.stringify(first.diagnostics.slice(0, 3))}`);
    const n = runs[tables] ?? 5;
    const replan = [];
    const full = [];
    const parse = [];
    // A different comment each time, as when typing: nothing is reused but the current
    // schema's parse. (One loop per measure: the full plans would evict that parse.)
    const edited = (i) => `${next}# edit ${i}\n`;
    // Each loop starts with three untimed runs (i < 0).
    const measure = (into, f) => {
      for (let i = -3; i < n; i++) {
        const [ms] = time(() => f(i));
        if (i >= 0) into.push(ms);
      }
    };
    measure(replan, (i) => wesley.plan('current.graphql', current, 'next.graphql', edited(i)));
    measure(full, (i) => wesley.plan('current.graphql', `${current}# edit ${i}\n`, 'next.graphql', `${edited(i)} `));
    measure(parse, (i) => wesley.generate('next.graphql', `${edited(i)}  `));
    results.push({
      tables,
      runs: n,
      sdlBytes: next.length,
      steps: first.plan.steps.length,
      planJsonBytes: first.json.length,
      firstMs,
      replanMs: median(replan),
      fullMs: median(full),
      parseMs: median(parse),
    });
  }
  return { initMs, version: wesley.version(), results };
}

window.bench = { run };
