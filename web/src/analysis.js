// The analysis views drawn as SVG built element by element: parameter importance, parallel coordinates over
// the parameters, and the timeline of slots. Every label is a text node.
import { el, svg, clear, fmt, duration } from './dom.js';
import { valueColor, valueScale } from './graph.js';

export function importanceView(container, rows) {
  clear(container);
  if (!rows.length) {
    container.appendChild(el('p', { class: 'muted' }, 'Needs at least 3 completed trials.'));
    return;
  }
  for (const r of rows) {
    container.appendChild(
      el(
        'div',
        { class: 'bar-row', title: `${r.kind}, ${r.trials} trials` },
        el('span', { class: 'bar-label' }, r.param),
        el('span', { class: 'bar' }, el('i', { style: `width:${Math.round(r.importance * 100)}%` })),
        el('span', { class: 'bar-value' }, r.importance.toFixed(2)),
      ),
    );
  }
  container.appendChild(
    el('p', { class: 'muted small' }, "|Spearman's ρ| of each number with the value; the correlation ratio η for categoricals."),
  );
}

// points: [{number, value, params}] best first.
export function parallelView(container, points, mode, onSelect) {
  clear(container);
  if (points.length < 2) {
    container.appendChild(el('p', { class: 'muted' }, 'Needs at least 2 completed trials.'));
    return;
  }
  const names = [...new Set(points.flatMap((p) => Object.keys(p.params)))];
  const axes = [...names.map((n) => ({ name: n, get: (p) => p.params[n] })), { name: 'value', get: (p) => p.value }];
  const W = Math.max(480, container.clientWidth - 10);
  const H = 300;
  const top = 28;
  const bottom = H - 24;
  const x = (i) => 40 + (i * (W - 80)) / Math.max(1, axes.length - 1);
  const scales = axes.map((axis) => {
    const values = points.map(axis.get).filter((v) => v !== undefined);
    if (values.every((v) => typeof v === 'number')) {
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      // Positive values spread over orders of magnitude (a learning rate) read better on a log axis.
      const log = lo > 0 && hi / lo > 50;
      const f = log ? Math.log : (v) => v;
      const span = f(hi) - f(lo);
      return { y: (v) => (span === 0 ? (top + bottom) / 2 : bottom - ((f(v) - f(lo)) / span) * (bottom - top)), lo, hi };
    }
    const cats = [...new Set(values.map((v) => JSON.stringify(v)))].sort();
    return {
      y: (v) => (cats.length === 1 ? (top + bottom) / 2 : bottom - (cats.indexOf(JSON.stringify(v)) / (cats.length - 1)) * (bottom - top)),
      cats,
    };
  });
  const color = valueScale(points.map((p) => p.value), mode);
  const root = svg('svg', { width: W, height: H, class: 'parallel' });
  // Worst first, so the best lines are drawn on top.
  for (const p of [...points].reverse()) {
    const coords = [];
    axes.forEach((axis, i) => {
      const v = axis.get(p);
      if (v !== undefined) coords.push(`${x(i).toFixed(1)},${scales[i].y(v).toFixed(1)}`);
    });
    const line = svg('polyline', { points: coords.join(' '), stroke: valueColor(color(p.value) ?? 0), class: 'pc-line' },
      svg('title', {}, `#${p.number}: ${fmt(p.value)}`));
    line.addEventListener('click', () => onSelect(p.number));
    root.appendChild(line);
  }
  axes.forEach((axis, i) => {
    const s = scales[i];
    root.appendChild(svg('line', { x1: x(i), x2: x(i), y1: top, y2: bottom, class: 'pc-axis' }));
    root.appendChild(svg('text', { x: x(i), y: 14, class: 'pc-name' }, axis.name));
    const ticks = s.cats ? s.cats.map((c) => [JSON.parse(c), s.y(JSON.parse(c))]) : [[s.hi, s.y(s.hi)], [s.lo, s.y(s.lo)]];
    for (const [v, y] of ticks) root.appendChild(svg('text', { x: x(i) + 4, y: y + 3, class: 'pc-tick' }, fmt(v)));
  });
  container.appendChild(root);
}

// rows: [{number, slot, start, end, state}] in seconds since the start.
export function timelineView(container, rows, onSelect) {
  clear(container);
  if (!rows.length) {
    container.appendChild(el('p', { class: 'muted' }, 'No trial has started yet.'));
    return;
  }
  const now = Math.max(...rows.map((r) => r.end ?? r.start));
  const t0 = Math.min(...rows.map((r) => r.start));
  const slots = Math.max(...rows.map((r) => r.slot)) + 1;
  const W = Math.max(480, container.clientWidth - 10);
  const lane = 22;
  const H = slots * lane + 30;
  const x = (t) => 60 + ((t - t0) / Math.max(1e-9, now - t0)) * (W - 70);
  const root = svg('svg', { width: W, height: H, class: 'timeline' });
  for (let s = 0; s < slots; s++) root.appendChild(svg('text', { x: 4, y: s * lane + 15, class: 'tl-slot' }, `slot ${s + 1}`));
  for (const r of rows) {
    const end = r.end ?? now;
    const rect = svg('rect', {
      x: x(r.start), y: r.slot * lane + 3, width: Math.max(2, x(end) - x(r.start)), height: lane - 6, class: `tl-bar ${r.state}`,
    }, svg('title', {}, `#${r.number} ${r.state}, ${duration(end - r.start)}`));
    rect.addEventListener('click', () => onSelect(r.number));
    root.appendChild(rect);
    if (x(end) - x(r.start) > 28) root.appendChild(svg('text', { x: x(r.start) + 3, y: r.slot * lane + 15, class: 'tl-label' }, `#${r.number}`));
  }
  root.appendChild(svg('text', { x: 60, y: H - 6, class: 'tl-axis' }, `${duration(0)}`));
  root.appendChild(svg('text', { x: W - 60, y: H - 6, class: 'tl-axis' }, duration(now - t0)));
  container.appendChild(root);
}
