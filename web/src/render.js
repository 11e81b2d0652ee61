// The plan file as HTML: a verdict, the lock impact per table, the hazards with what they
// mean, the step graph and the steps grouped by phase with their SQL.

import { MAX_GRAPH_STEPS, stepGraph } from './graph.js';
import { highlightedSql } from './sql.js';

const LOCKS = {
  AccessShareLock: 'ACCESS SHARE',
  RowShareLock: 'ROW SHARE',
  RowExclusiveLock: 'ROW EXCLUSIVE',
  ShareUpdateExclusiveLock: 'SHARE UPDATE EXCLUSIVE',
  ShareLock: 'SHARE',
  ShareRowExclusiveLock: 'SHARE ROW EXCLUSIVE',
  ExclusiveLock: 'EXCLUSIVE',
  AccessExclusiveLock: 'ACCESS EXCLUSIVE',
};

const PHASES = {
  expand: ['Expand', 'additive changes the running application tolerates'],
  backfill: ['Backfill', 'existing rows are filled in batches'],
  validate: ['Validate', 'data is checked against the new constraints'],
  switch: ['Switch', 'the new shape becomes authoritative'],
  contract: ['Contract', 'what the new schema no longer has is removed'],
};

/** `red` when a lock blocks reads, `amber` when it blocks writes, `green` otherwise. */
export function lockLevel(mode) {
  if (mode === 'AccessExclusiveLock') return 'red';
  if (mode === 'ShareLock' || mode === 'ShareRowExclusiveLock' || mode === 'ExclusiveLock') return 'amber';
  return 'green';
}

const LEVEL_WORDS = {
  red: 'blocks reads and writes',
  amber: 'blocks writes',
  green: 'blocks neither reads nor writes',
};

/** A lock badge: the SQL name of the mode, coloured by what it blocks. */
export function lockBadge(mode, relation) {
  const level = lockLevel(mode);
  const badge = h('span', {
    class: `lock-badge lock-${level}`,
    'data-testid': 'lock-badge',
    'data-mode': mode,
    title: `${mode}${relation ? ` on ${relation}` : ''}: ${LEVEL_WORDS[level]} while held`,
  });
  badge.append(h('span', { class: 'lock-dot', 'aria-hidden': 'true' }), LOCKS[mode] ?? mode);
  return badge;
}

/**
 * One line that says what a reviewer needs to know first: the planner's own verdict
 * (`planned`, from `verdict()` in the wasm module: `wesley plan`'s, with its default
 * hazard policy), so the page and the command line always agree.
 */
export function verdict(plan, applicable, planned) {
  const errors = [...new Set(plan.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code))];
  if (errors.length) return { level: 'error', text: `Plan has errors: ${errors.join(', ')}` };
  if (!applicable) return { level: 'error', text: 'wesley apply would refuse this plan' };
  if (!planned) return { level: 'error', text: 'No verdict from the planner' };
  return { level: planned.level, text: planned.summary };
}

/** The whole preview for a plan file. `hazardInfo` is the planner's list of hazard kinds. */
export function renderPlan(plan, hazardInfo) {
  const frag = document.createDocumentFragment();
  const number = new Map(plan.steps.map((s, i) => [s.id, i + 1]));
  if (plan.steps.length === 0) {
    frag.append(h('p', { class: 'empty' }, 'No steps: the next schema is what the database already has.'));
    return frag;
  }
  frag.append(section('Lock impact per table', 'locks-heading', lockTable(plan)));
  frag.append(section('Hazards', 'hazards-heading', hazards(plan, hazardInfo, number)));
  const graph = stepGraph(plan);
  frag.append(
    section(
      'Step graph',
      'graph-heading',
      graph
        ? h('div', { class: 'graph-scroll', tabindex: '0', 'aria-label': 'Step graph, scrollable' }, graph, graphLegend())
        : h('p', { class: 'empty' }, `The graph is drawn for plans of up to ${MAX_GRAPH_STEPS} steps.`),
    ),
  );
  frag.append(section('Steps by phase', 'steps-heading', steps(plan, number)));
  frag.append(section('Rollback', 'rollback-heading', rollback(plan)));
  return frag;
}

/** What `wesley rollback` can undo (docs/plan-format.md, "Rollback"): the inverse steps, what stays. */
function rollback(plan) {
  const contract = plan.steps.some((s) => s.phase === 'contract');
  const inverse = plan.rollback ?? [];
  const wrap = h('div', { class: 'rollback', 'data-testid': 'rollback' });
  wrap.append(
    h(
      'p',
      {},
      h('code', {}, 'wesley rollback'),
      ` undoes this plan ${contract ? 'until its first contract step runs' : 'at any point'} (${plural(inverse.length, 'inverse step')}).`,
    ),
  );
  const notes = plan.steps.filter((s) => s.undo && (s.undo.kind === 'stays' || (s.undo.kind === 'refuses' && s.phase !== 'contract')));
  if (notes.length) {
    wrap.append(
      h('ul', { class: 'rollback-notes' }, ...notes.map((s) => h('li', {}, s.undo.kind === 'stays' ? 'Stays: ' : `No rollback once ${s.id} has run: `, s.undo.note ?? ''))),
    );
  }
  if (inverse.length) {
    const details = h('details', {}, h('summary', {}, 'Inverse steps, in the order they run'));
    const list = h('ol', { class: 'rollback-steps' });
    for (const s of inverse) list.append(h('li', { 'data-kind': s.kind }, h('p', { class: 'summary' }, s.summary), highlightedSql(s.sql)));
    details.append(list);
    wrap.append(details);
  }
  return wrap;
}

function section(title, id, ...content) {
  return h('section', { class: 'block', 'aria-labelledby': id }, h('h2', { id }, title), ...content);
}

function lockTable(plan) {
  const table = h('table', { class: 'lock-table', 'data-testid': 'lock-table' });
  table.append(
    h('caption', { class: 'visually-hidden' }, 'The strongest lock each table gets, and what it blocks'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Table', 'Strongest lock', 'Reads blocked', 'Writes blocked', 'Work', 'Rewrite', 'Steps'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
  );
  const body = h('tbody');
  for (const t of plan.tables) {
    const name = h('th', { scope: 'row' }, h('code', {}, t.table));
    if (t.new_table) name.append(' ', h('span', { class: 'tag', title: 'created by this plan: nothing uses it yet' }, 'new'));
    body.append(
      h(
        'tr',
        { 'data-table': t.table },
        name,
        h('td', {}, t.strongest_lock ? lockBadge(t.strongest_lock, t.table) : '—'),
        blocked(t.reads_blocked),
        blocked(t.writes_blocked),
        h('td', { class: 'impact', 'data-work': t.work }, t.new_table ? 'new table' : WORK[t.work] ?? t.work),
        yesNo(t.rewrite, true),
        h('td', { class: 'num' }, String(t.steps)),
      ),
    );
  }
  table.append(body);
  return h('div', { class: 'table-scroll' }, table);
}

/** How long reads or writes of a table can be blocked (the plan file's `Blocking`). */
const BLOCKING = {
  none: ['no', 'no', 'never blocked'],
  lock_wait: ['lock wait', 'yes', 'only while a step waits for and holds a lock for an instant: at most lock_timeout per attempt'],
  table_size: ['while read', 'yes bad', 'for as long as a step scans or rewrites the table'],
};
const WORK = { instant: 'instant', table_size: 'proportional to table size' };

function blocked(value) {
  const [text, cls, title] = BLOCKING[value] ?? [value, 'yes bad', value];
  return h('td', { class: cls, title, 'data-blocked': value }, text);
}

function yesNo(value, alarming) {
  return h('td', { class: value ? (alarming ? 'yes bad' : 'yes') : 'no' }, value ? 'yes' : 'no');
}

function hazards(plan, hazardInfo, number) {
  const byKind = new Map();
  for (const step of plan.steps) {
    for (const hz of step.hazards) {
      if (!byKind.has(hz.kind)) byKind.set(hz.kind, []);
      byKind.get(hz.kind).push({ step, hz });
    }
  }
  if (byKind.size === 0) return h('p', { class: 'empty' }, 'None: no step deletes data, blocks traffic or changes access.');
  const info = new Map(hazardInfo.map((i) => [i.kind, i]));
  const list = h('div', { class: 'hazards' });
  for (const [kind, items] of [...byKind].sort(([a], [b]) => a.localeCompare(b))) {
    const about = info.get(kind);
    const card = h('article', { class: `hazard hazard-${kind}`, 'data-kind': kind });
    card.append(
      h(
        'h3',
        {},
        h('span', { class: 'hazard-kind' }, kind),
        about ? ` ${about.description}` : '',
        h('span', { class: 'count' }, ` · ${plural(items.length, 'step')}`),
      ),
    );
    if (about) card.append(h('p', { class: 'advice' }, about.advice));
    const ul = h('ul');
    for (const { step, hz } of items) {
      const n = number.get(step.id);
      ul.append(h('li', { 'data-severity': hz.severity }, severityTag(hz.severity), ' ', h('a', { href: `#step-${n}` }, `#${n}`), ' ', hz.message));
    }
    card.append(ul);
    list.append(card);
  }
  return list;
}

function steps(plan, number) {
  const wrap = h('div', { class: 'phases' });
  let run = null;
  plan.steps.forEach((step, i) => {
    if (!run || run.phase !== step.phase) {
      const [title, about] = PHASES[step.phase] ?? [step.phase, ''];
      const id = `phase-${i + 1}`;
      run = { phase: step.phase, el: h('section', { class: `phase phase-${step.phase}`, 'aria-labelledby': id }) };
      run.el.append(h('h3', { id }, title, h('small', {}, ` ${about}`)));
      wrap.append(run.el);
    }
    run.el.append(stepCard(step, i + 1, number));
  });
  return wrap;
}

function stepCard(step, n, number) {
  const card = h('article', {
    class: `step phase-${step.phase}`,
    id: `step-${n}`,
    'data-testid': 'step',
    'data-kind': step.kind,
    'data-table': step.table ?? '',
    'aria-label': `Step ${n}: ${step.kind.replaceAll('_', ' ')}`,
  });
  const head = h('header', {}, h('span', { class: 'step-num' }, `#${n}`), h('span', { class: 'step-kind' }, step.kind.replaceAll('_', ' ')));
  if (step.table) head.append(h('code', { class: 'step-table' }, step.table));
  const flags = [];
  if (!step.transactional) flags.push(['outside a transaction', 'runs alone, not in a transaction block']);
  if (step.rewrite) flags.push(['rewrites the table', 'the whole table is rewritten']);
  if (step.scan) flags.push(['scans the table', 'reads every row']);
  if (step.backfill) flags.push([`batches of ${step.backfill.batch_size}`, 'updates existing rows in short transactions']);
  for (const [text, title] of flags) head.append(h('span', { class: 'flag', title }, text));
  card.append(head, h('p', { class: 'summary' }, step.summary));
  if (step.locks.length) {
    const locks = h('p', { class: 'locks' }, 'Locks: ');
    step.locks.forEach((l, i) => {
      if (i) locks.append(', ');
      locks.append(lockBadge(l.mode, l.relation), ' on ', h('code', {}, l.relation));
    });
    card.append(locks);
  }
  if (step.hazards.length) {
    card.append(
      h(
        'ul',
        { class: 'step-hazards' },
        ...step.hazards.map((hz) => h('li', { 'data-severity': hz.severity }, severityTag(hz.severity), ' ', h('span', { class: 'hazard-kind' }, hz.kind), ' ', hz.message)),
      ),
    );
  }
  card.append(highlightedSql(step.sql));
  if (step.depends_on.length) {
    const deps = h('p', { class: 'deps' }, 'After ');
    step.depends_on.forEach((id, i) => {
      if (i) deps.append(', ');
      deps.append(h('a', { href: `#step-${number.get(id)}` }, `#${number.get(id)}`));
    });
    card.append(deps);
  }
  return card;
}

/** `refuse` (needs a decision: `wesley plan` exits 3) or `review` (shown; exit 0). */
function severityTag(severity) {
  const title =
    severity === 'refuse'
      ? 'needs a decision: wesley plan refuses the plan (exit 3) unless the kind is allowed'
      : 'for review: it does not change the exit code';
  return h('span', { class: `severity severity-${severity}`, title }, severity);
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A small hyperscript: `h('p', { class: 'x' }, 'text', child)`. */
export function h(name, attrs = {}, ...children) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== ''));
  return node;
}

function graphLegend() {
  return h(
    'p',
    { class: 'legend' },
    ...Object.entries(PHASES).map(([phase, [title]]) => h('span', { class: `swatch phase-${phase}` }, title)),
    h('span', { class: 'swatch critical' }, 'critical path'),
  );
}
