// The playground page: two schema editors, a live plan from the planner (in a worker),
// diagnostics in the editors and in a list, exports, and a shareable URL.

import { setDiagnostics, lintGutter } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { placeholder } from '@codemirror/view';
import { EditorView, basicSetup } from 'codemirror';
import { graphqlLanguageSupport } from 'cm6-graphql';
import { EXAMPLES } from './examples.js';
import { h, renderPlan, verdict } from './render.js';
import { decode, encode } from './share.js';

const DEBOUNCE_MS = 150;
const URL_DEBOUNCE_MS = 400;
const FILES = { current: 'current.graphql', next: 'next.graphql' };

const $ = (id) => document.getElementById(id);

const state = {
  planner: null, // { worker, ready: Promise<info>, info }
  seq: 0,
  pending: new Map(), // id -> { resolve, reject }
  inFlight: false,
  queued: false,
  timer: 0,
  urlTimer: 0,
  good: null, // the last plan without schema errors: { plan, texts, applicable, verdict }
  stale: false,
  scrollTop: false, // show the next plan from its top (after a new example or a reset)
  example: EXAMPLES[0],
  tab: 'plan', // the output shown: 'plan' or 'typescript'
  ts: null, // the last TypeScript without schema errors: { next, dates, text }
  tsSeq: 0, // the latest TypeScript request; older answers are dropped
};

// ---------------------------------------------------------------------------------------
// The planner worker.

function startPlanner() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  let resolveReady;
  let rejectReady;
  const planner = { worker, info: null, ready: new Promise((res, rej) => ((resolveReady = res), (rejectReady = rej))) };
  worker.onmessage = ({ data }) => {
    if ('ready' in data) {
      if (data.ready) {
        planner.info = data;
        resolveReady(data);
      } else {
        rejectReady(new Error(data.error));
      }
      return;
    }
    const waiting = state.pending.get(data.id);
    if (!waiting) return;
    state.pending.delete(data.id);
    if ('error' in data) {
      const error = new Error(data.error);
      error.panic = data.panic;
      waiting.reject(error);
    } else {
      waiting.resolve(data.result);
    }
  };
  worker.onerror = (e) => rejectReady(new Error(e.message || 'the planner worker failed to start'));
  state.planner = planner;
  return planner;
}

async function call(op, args) {
  const planner = state.planner;
  await planner.ready;
  const id = ++state.seq;
  return new Promise((resolve, reject) => {
    state.pending.set(id, { resolve, reject });
    planner.worker.postMessage({ id, op, ...args });
  });
}

/** A panic leaves the wasm instance in an unknown state: start over with a new worker. */
function replacePlanner() {
  state.planner.worker.terminate();
  for (const { reject } of state.pending.values()) reject(new Error('the planner was restarted'));
  state.pending.clear();
  startPlanner();
}

// ---------------------------------------------------------------------------------------
// Editors.

function editor(which, label, doc, empty) {
  const parent = $(`editor-${which}`);
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        basicSetup,
        graphqlLanguageSupport(),
        lintGutter(),
        placeholder(empty),
        EditorView.contentAttributes.of({ 'aria-label': label, 'aria-describedby': `${which}-hint` }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) {
            scheduleReplan();
            scheduleUrl();
          }
        }),
      ],
    }),
  });
}

const initial = EXAMPLES[0];
const editors = {
  current: editor('current', 'Current schema (GraphQL SDL)', initial.current, 'Empty: a new database. Type or paste the schema the database has now.'),
  next: editor('next', 'Next schema (GraphQL SDL)', initial.next, 'Type or paste the schema the database should have.'),
};

function texts() {
  return { current: editors.current.state.doc.toString(), next: editors.next.state.doc.toString() };
}

function setTexts({ current, next }) {
  for (const [which, text] of [['current', current], ['next', next]]) {
    const view = editors[which];
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  }
}

/** The editor offset of a one-based line and column (columns count characters). */
function offsetOf(doc, line, column) {
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  let i = 0;
  for (let c = 1; c < column && i < l.text.length; c++) {
    i += l.text.codePointAt(i) > 0xffff ? 2 : 1;
  }
  return l.from + i;
}

/** The word at `from` (or one character), so the squiggle is visible. */
function rangeAt(doc, from) {
  const line = doc.lineAt(from);
  const rest = line.text.slice(from - line.from);
  const word = /^[\w@$.]+/.exec(rest);
  const len = word ? word[0].length : rest.length ? 1 : 0;
  return { from, to: from + len };
}

function showEditorDiagnostics(diagnostics) {
  for (const which of ['current', 'next']) {
    const view = editors[which];
    const doc = view.state.doc;
    const marks = diagnostics
      .filter((d) => d.file === FILES[which])
      .map((d) => ({
        ...rangeAt(doc, offsetOf(doc, d.line, d.column)),
        severity: d.severity === 'error' ? 'error' : 'warning',
        source: d.code,
        message: d.help ? `${d.message}\n${d.help}` : d.message,
      }));
    view.dispatch(setDiagnostics(view.state, marks));
  }
}

function jumpTo(which, line, column) {
  const view = editors[which];
  const pos = offsetOf(view.state.doc, line, column);
  view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: 'center' }) });
  view.focus();
}

// ---------------------------------------------------------------------------------------
// Planning.

function scheduleReplan() {
  clearTimeout(state.timer);
  state.timer = setTimeout(replan, DEBOUNCE_MS);
}

async function replan() {
  if (state.inFlight) {
    state.queued = true;
    return;
  }
  state.inFlight = true;
  document.body.dataset.planning = 'true';
  const asked = texts();
  try {
    const result = await call('plan', asked);
    const now = texts();
    // A newer edit is waiting: its plan replaces this one, so do not show positions that
    // no longer match the text.
    if (now.current === asked.current && now.next === asked.next) show(result, asked);
  } catch (e) {
    showFailure(e);
  } finally {
    state.inFlight = false;
    delete document.body.dataset.planning;
    if (state.queued) {
      state.queued = false;
      replan();
    }
  }
}

function show(result, asked) {
  showEditorDiagnostics(result.diagnostics);
  showDiagnosticList(result.diagnostics);
  if (result.plan) {
    // The texts it was planned from: an export builds their plan file (the plan shown is
    // its steps only, without the schemas).
    state.good = { plan: result.plan, texts: asked, applicable: result.applicable, verdict: result.verdict };
    state.stale = false;
    renderPreview();
    $('timing').textContent = `planned in ${Math.max(1, Math.round(result.millis))} ms`;
  } else {
    state.stale = true;
    markStale();
  }
  updateExports();
  document.body.dataset.ready = 'true';
  if (state.tab === 'typescript') refreshTypeScript();
}

// ---------------------------------------------------------------------------------------
// Output tabs: the plan, or the TypeScript types of the next schema.

function showTab(name) {
  state.tab = name;
  for (const [tab, panel] of [['tab-plan', 'plan'], ['tab-typescript', 'typescript']]) {
    const selected = panel === name;
    $(tab).setAttribute('aria-selected', String(selected));
    $(panel).hidden = !selected;
  }
  if (name === 'typescript') refreshTypeScript();
}

/** Generates the next schema's types in the worker and shows them (the latest request wins). */
async function refreshTypeScript() {
  const seq = ++state.tsSeq;
  const asked = { next: texts().next, dates: $('ts-dates').value };
  let result;
  try {
    result = await call('typescript', asked);
  } catch (e) {
    if (e.panic) replacePlanner();
    result = { typescript: null };
  }
  if (seq !== state.tsSeq) return;
  if (result.typescript !== null) {
    state.ts = { ...asked, text: result.typescript };
    $('typescript-code').textContent = result.typescript;
  }
  const stale = result.typescript === null;
  $('typescript-stale').hidden = !stale || !state.ts;
  $('typescript').classList.toggle('is-stale', stale);
  $('export-typescript').disabled = !state.ts || stale;
}

function showFailure(e) {
  if (e.panic) {
    replacePlanner();
    showDiagnosticList([], [], `Internal planner error (please report it with both schemas): ${e.message}`);
  } else {
    showDiagnosticList([], [], e.message);
  }
  state.stale = true;
  markStale();
  updateExports();
}

function renderPreview() {
  const { plan, applicable } = state.good;
  const v = verdict(plan, applicable, state.good.verdict);
  const line = $('verdict');
  line.className = `verdict verdict-${v.level}`;
  line.textContent = v.text;
  const target = $('plan-body');
  target.replaceChildren(renderPlan(plan, state.planner.info?.hazards ?? []));
  if (state.scrollTop) {
    $('results').scrollTop = 0;
    state.scrollTop = false;
  }
  markStale();
}

function markStale() {
  $('stale').hidden = !state.stale || !state.good;
  $('plan').classList.toggle('is-stale', state.stale);
  if (!state.good && state.stale) {
    $('verdict').className = 'verdict verdict-error';
    $('verdict').textContent = 'Fix the errors to see a plan';
  }
}

function showDiagnosticList(diagnostics, refused, failure) {
  const list = $('diagnostic-list');
  const items = [];
  if (failure) items.push(h('li', { class: 'diag diag-error' }, h('span', { class: 'diag-code' }, 'error'), ' ', failure));
  for (const d of diagnostics) {
    const which = d.file === FILES.current ? 'current' : d.file === FILES.next ? 'next' : null;
    const li = h('li', {
      class: `diag diag-${d.severity}`,
      'data-file': d.file,
      'data-line': String(d.line),
      'data-column': String(d.column),
    });
    if (which) {
      const jump = h('button', { type: 'button', class: 'diag-loc', title: 'Show in the editor' }, `${which} ${d.line}:${d.column}`);
      jump.addEventListener('click', () => jumpTo(which, d.line, d.column));
      li.append(jump, ' ');
    } else {
      li.append(h('span', { class: 'diag-loc' }, 'plan'), ' ');
    }
    li.append(h('span', { class: 'diag-code' }, `${d.severity}[${d.code}]`), ' ', d.message);
    if (d.help) li.append(h('span', { class: 'diag-help' }, d.help));
    items.push(li);
  }
  for (const r of refused ?? []) {
    items.push(h('li', { class: 'diag diag-error' }, h('span', { class: 'diag-code' }, 'refused'), ' ', r));
  }
  list.replaceChildren(...items);
  const errors = items.filter((li) => li.classList.contains('diag-error')).length;
  const warnings = items.length - errors;
  $('diagnostics-count').textContent = items.length
    ? `${errors} ${errors === 1 ? 'error' : 'errors'}, ${warnings} ${warnings === 1 ? 'warning' : 'warnings'}`
    : 'none';
  $('diagnostics').classList.toggle('has-errors', errors > 0);
}

// ---------------------------------------------------------------------------------------
// Exports and sharing.

function updateExports() {
  const ok = Boolean(state.good && !state.stale && state.good.applicable);
  for (const id of ['export-json', 'export-sql', 'export-markdown', 'copy-markdown']) $(id).disabled = !ok;
  $('exports-note').textContent = ok
    ? ''
    : state.stale
      ? 'Exports wait for a schema without errors.'
      : 'This plan has errors: nothing to export.';
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function exportAs(kind) {
  const { json, refused } = await call('file', state.good.texts);
  if (kind !== 'markdown') {
    // Like `wesley plan`: never write a plan file or script that `wesley apply` refuses.
    if (refused.length) {
      showDiagnosticList([], refused);
      toast('Not exported: wesley apply would refuse this plan (see Diagnostics)');
      return;
    }
  }
  if (kind === 'json') return download('plan.json', 'application/json', json);
  const text = await call(kind === 'sql' ? 'sql' : 'markdown', { json });
  if (kind === 'sql') return download('plan.sql', 'application/sql', text);
  return download('plan.md', 'text/markdown', text);
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h('textarea', { class: 'visually-hidden' });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

let toastTimer = 0;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.classList.add('shown');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('shown'), 2500);
}

async function writeUrl() {
  const fragment = await encode(texts());
  history.replaceState(null, '', `${location.pathname}${location.search}${fragment}`);
  return location.href;
}

function scheduleUrl() {
  clearTimeout(state.urlTimer);
  state.urlTimer = setTimeout(writeUrl, URL_DEBOUNCE_MS);
}

// ---------------------------------------------------------------------------------------
// Wiring.

function wire() {
  const select = $('example');
  for (const ex of EXAMPLES) select.append(h('option', { value: ex.id }, ex.title));
  select.addEventListener('change', () => {
    state.example = EXAMPLES.find((e) => e.id === select.value) ?? EXAMPLES[0];
    state.scrollTop = true;
    setTexts(state.example);
  });
  $('reset').addEventListener('click', () => {
    state.scrollTop = true;
    setTexts(state.example);
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    clearTimeout(state.urlTimer);
    toast(`Reset to the example “${state.example.title}”`);
  });
  $('share').addEventListener('click', async () => {
    clearTimeout(state.urlTimer);
    const url = await writeUrl();
    await copyText(url);
    toast('Link copied: it holds both schemas');
  });
  $('tab-plan').addEventListener('click', () => showTab('plan'));
  $('tab-typescript').addEventListener('click', () => showTab('typescript'));
  $('ts-dates').addEventListener('change', () => refreshTypeScript());
  $('export-typescript').addEventListener('click', () => download('types.ts', 'text/plain', state.ts.text));
  $('export-json').addEventListener('click', () => exportAs('json'));
  $('export-sql').addEventListener('click', () => exportAs('sql'));
  $('export-markdown').addEventListener('click', () => exportAs('markdown'));
  $('copy-markdown').addEventListener('click', async () => {
    const { json } = await call('file', state.good.texts);
    await copyText(await call('markdown', { json }));
    toast('Markdown copied: paste it into a pull request');
  });
}

async function main() {
  wire();
  updateExports();
  startPlanner();
  const shared = await decode(location.hash);
  if (shared) setTexts(shared);
  try {
    const info = await state.planner.ready;
    $('version').textContent = `planner ${info.version} · ${info.format}`;
  } catch (e) {
    showFailure(e);
    return;
  }
  clearTimeout(state.timer);
  replan();
  if ('serviceWorker' in navigator && location.protocol.startsWith('http')) {
    navigator.serviceWorker.register('./sw.js').catch(() => {});
  }
}

// For tests and for the curious: the current texts, the last plan shown (its steps, as the
// planner's `preview` returns them) and the texts it was planned from, and the last TypeScript.
window.playground = {
  texts,
  get plan() {
    return state.good?.plan ?? null;
  },
  get planned() {
    return state.good?.texts ?? null;
  },
  get typescript() {
    return state.ts;
  },
};

main();
