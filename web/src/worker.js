// The planner, off the main thread: typing stays smooth however long a plan takes.
//
// Messages in:  { id, op: 'plan' | 'file', current, next } | { id, op: 'sql' | 'markdown', json }
//               | { id, op: 'typescript', next, dates }
// Messages out: { ready, version, format, hazards } once, then { id, result } or
//               { id, error, panic }. A panic (a planner bug) leaves the module in an
//               unknown state: the page then replaces this worker with a fresh one.

import init, * as wesley from '../../pkg/wesley_planner.js';
import { planOps } from './ops.js';

const ops = planOps(wesley);

const ready = init({ module_or_path: new URL('./wesley_planner_bg.wasm', import.meta.url) }).then(
  () => {
    postMessage({
      ready: true,
      version: wesley.version(),
      format: wesley.planFormat(),
      hazards: wesley.hazards(),
    });
  },
  (e) => postMessage({ ready: false, error: `the planner failed to load: ${e}` }),
);

self.onmessage = async ({ data }) => {
  await ready;
  try {
    postMessage({ id: data.id, result: ops[data.op](data) });
  } catch (e) {
    const panic = safe(() => wesley.takePanic());
    postMessage({ id: data.id, error: panic ?? String(e?.message ?? e), panic: panic !== undefined || e instanceof WebAssembly.RuntimeError });
  }
};

function safe(f) {
  try {
    return f();
  } catch {
    return undefined;
  }
}
