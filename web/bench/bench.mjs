// Runs the planner benchmark page (web/bench/) in headless Chromium and prints the time to
// re-plan synthetic schemas of 50, 200 and 1,000 tables with a few changes as the
// playground does while someone types (medians of repeated runs), and the size of the
// wasm module raw and gzipped. The schemas come from
// planner/examples/synth.rs. `scripts/bench-web`
// builds everything first.
//
//   node web/bench/bench.mjs [--sizes 50,200,1000]

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WEB, browser, serve } from '../test/browser.mjs';

const FRAME_MS = 16;
const arg = process.argv.indexOf('--sizes');
const sizes = arg > 0 ? process.argv[arg + 1].split(',').map(Number) : [50, 200, 1000];

// The synthetic schemas come from the native generator: the browser build leaves it out.
const schemas = Object.fromEntries(
  sizes.map((n) => [
    n,
    execFileSync('cargo', ['run', '-q', '-p', 'wesley-planner', '--features', 'synth', '--example', 'synth', '--', String(n), '1'], {
      cwd: join(WEB, '..'),
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    }),
  ]),
);

const wasm = readFileSync(join(WEB, 'dist', 'wesley_planner_bg.wasm'));
const app = readFileSync(join(WEB, 'dist', 'app.js'));
const server = await serve();
const chrome = await browser();
let report;
try {
  const { page } = chrome;
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${server.url}bench/`);
  await page.waitForFunction(() => window.bench);
  report = await page.evaluate((args) => window.bench.run(args), { sizes, schemas });
  report.browser = await chrome.context.browser()?.version?.() ?? (await page.evaluate(() => navigator.userAgent));
} finally {
  await chrome.close();
  server.stop();
}

const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
const ms = (n) => `${n.toFixed(1)} ms`.padStart(10);
console.log(`Wesley planner ${report.version} in ${report.browser}`);
console.log(`wasm module: ${kb(wasm.length)} raw, ${kb(gzipSync(wasm, { level: 9 }).length)} gzipped; page script ${kb(app.length)} raw, ${kb(gzipSync(app, { level: 9 }).length)} gzipped`);
console.log(`wasm init (fetch + compile + instantiate): ${report.initMs.toFixed(0)} ms\n`);
console.log('tables  steps   SDL bytes   plan.json      re-plan  round trip   full plan   plan file  parse+DDL   runs');
for (const r of report.results) {
  console.log(
    `${String(r.tables).padStart(6)} ${String(r.steps).padStart(6)} ${String(r.sdlBytes).padStart(11)} ${String(r.planJsonBytes).padStart(11)} ${ms(r.replanMs)}  ${ms(r.roundTripMs)}  ${ms(r.fullMs)}  ${ms(r.fileMs)} ${ms(r.parseMs)} ${String(r.runs).padStart(6)}`,
  );
}
console.log(`
re-plan:    what the playground's worker does while you type in "next schema" (a different text
            each run; the current schema's parse is reused): the steps, diagnostics and verdict
round trip: the same through a worker, from the message to the answer (the page's wait)
full plan:  the same after both schemas changed
plan file:  what an export costs: the plan file (both schemas embedded) and its validation
parse+DDL:  one schema's parse and DDL alone. Medians.`);
const at200 = report.results.find((r) => r.tables === 200);
if (at200) {
  const fits = at200.replanMs <= FRAME_MS;
  console.log(`200 tables re-plan in one animation frame (${FRAME_MS} ms): ${fits ? 'yes' : 'no'} (${at200.replanMs.toFixed(1)} ms; round trip ${at200.roundTripMs.toFixed(1)} ms)`);
}
