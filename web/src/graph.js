// The step graph as an inline SVG: one column per wave (steps whose dependencies are all
// in earlier columns), dependency edges, and the critical path highlighted.

const NS = 'http://www.w3.org/2000/svg';
const NODE_W = 150;
const NODE_H = 38;
const GAP_X = 46;
const GAP_Y = 10;
const PAD = 12;
const HEAD = 18;
/** Plans larger than this are listed, not drawn: the picture would be unreadable. */
export const MAX_GRAPH_STEPS = 400;

/** An `<svg>` for the plan file `plan`, or null when it has no steps or too many. */
export function stepGraph(plan) {
  const steps = plan.steps;
  if (steps.length === 0 || steps.length > MAX_GRAPH_STEPS) return null;
  const number = new Map(steps.map((s, i) => [s.id, i + 1]));
  const byId = new Map(steps.map((s) => [s.id, s]));
  const waves = plan.waves.length ? plan.waves : [steps.map((s) => s.id)];
  const critical = new Set(plan.critical_path);
  const criticalEdges = new Set();
  for (let i = 1; i < plan.critical_path.length; i++) {
    criticalEdges.add(`${plan.critical_path[i - 1]}\u0000${plan.critical_path[i]}`);
  }

  // Order each wave by the mean row of its dependencies (one barycenter pass), which
  // removes most edge crossings; ties keep the planner's order.
  const rowOf = new Map();
  const ordered = waves.map((wave, col) => {
    const keyed = wave.map((id, i) => {
      const rows = (byId.get(id)?.depends_on ?? []).map((d) => rowOf.get(d)).filter((r) => r !== undefined);
      return { id, i, key: col && rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : i };
    });
    keyed.sort((a, b) => a.key - b.key || a.i - b.i);
    keyed.forEach(({ id }, row) => rowOf.set(id, row));
    return keyed.map(({ id }) => id);
  });

  const place = new Map();
  ordered.forEach((wave, col) => {
    wave.forEach((id, row) => {
      place.set(id, { x: PAD + col * (NODE_W + GAP_X), y: PAD + HEAD + row * (NODE_H + GAP_Y) });
    });
  });
  const rows = Math.max(...waves.map((w) => w.length));
  const width = PAD * 2 + waves.length * NODE_W + (waves.length - 1) * GAP_X;
  const height = PAD * 2 + HEAD + rows * NODE_H + (rows - 1) * GAP_Y;

  const svg = el('svg', {
    class: 'graph',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'group',
    'aria-label': `Step graph: ${steps.length} steps in ${waves.length} waves; the critical path is ${plan.critical_path.map((id) => `#${number.get(id)}`).join(' → ') || 'empty'}`,
  });
  const defs = el('defs');
  for (const [name, cls] of [['arrow', 'edge'], ['arrow-critical', 'edge critical']]) {
    const marker = el('marker', { id: name, viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(el('path', { d: 'M0,0 L8,4 L0,8 z', class: `${cls} head` }));
    defs.append(marker);
  }
  svg.append(defs);

  waves.forEach((_, col) => {
    const label = el('text', { x: PAD + col * (NODE_W + GAP_X) + NODE_W / 2, y: PAD + 8, class: 'wave-label', 'text-anchor': 'middle' });
    label.textContent = `wave ${col + 1}`;
    svg.append(label);
  });

  const edges = el('g', { class: 'edges' });
  const nodes = el('g', { class: 'nodes' });
  for (const step of steps) {
    const to = place.get(step.id);
    if (!to) continue;
    for (const dep of step.depends_on) {
      const from = place.get(dep);
      if (!from) continue;
      const isCritical = criticalEdges.has(`${dep}\u0000${step.id}`);
      const x1 = from.x + NODE_W;
      const y1 = from.y + NODE_H / 2;
      const x2 = to.x - 2;
      const y2 = to.y + NODE_H / 2;
      const bend = Math.max(18, (x2 - x1) / 2);
      edges.append(
        el('path', {
          d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
          class: isCritical ? 'edge critical' : 'edge',
          'marker-end': `url(#${isCritical ? 'arrow-critical' : 'arrow'})`,
        }),
      );
    }
  }
  for (const [id, { x, y }] of place) {
    const step = byId.get(id);
    if (!step) continue;
    const n = number.get(id);
    const link = el('a', { href: `#step-${n}`, class: `node phase-${step.phase}${critical.has(id) ? ' critical' : ''}` });
    const title = el('title');
    title.textContent = `#${n} ${step.kind} (${step.phase})${step.table ? ` on ${step.table}` : ''}${critical.has(id) ? ', on the critical path' : ''}`;
    link.append(title);
    link.append(el('rect', { x, y, width: NODE_W, height: NODE_H, rx: 6 }));
    const line1 = el('text', { x: x + 8, y: y + 15, class: 'node-kind' });
    line1.textContent = fit(`#${n} ${step.kind.replaceAll('_', ' ')}`, 21);
    const line2 = el('text', { x: x + 8, y: y + 30, class: 'node-table' });
    line2.textContent = fit(step.table ? step.table.replace(/^public\./, '') : '(schema)', 23);
    link.append(line1, line2);
    nodes.append(link);
  }
  svg.append(edges, nodes);
  return svg;
}

function fit(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function el(name, attrs = {}) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}
