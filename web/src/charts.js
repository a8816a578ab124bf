// Line charts on uPlot: learning curves (many trials, the selected one drawn bold) and best-so-far over time.
import uPlot from 'uplot';
import { el, clear } from './dom.js';

// uPlot wants one shared x axis: the union of every series' steps, with null where a series has no point.
function align(series) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const [x, v] of s.points) y[index.get(x)] = v;
    return y;
  });
  return [xs, ...ys];
}

function width(container) {
  return Math.max(320, container.clientWidth - 8);
}

// curves: [{number, points: [[step, value]]}]. Returns how many points were drawn.
export function curveChart(container, curves, { metric, selected, height = 320, xLabel = 'step' }) {
  clear(container);
  const drawn = curves.filter((c) => c.points.length);
  if (!drawn.length) {
    container.appendChild(el('p', { class: 'muted' }, `No reports of ${metric} yet.`));
    return 0;
  }
  const data = align(drawn);
  const series = [{ label: xLabel }];
  for (const c of drawn) {
    const mine = c.number === selected;
    series.push({
      label: `#${c.number}`,
      stroke: mine ? '#d62728' : 'rgba(31,111,235,0.28)',
      width: mine ? 2.5 : 1,
      spanGaps: true,
      points: { show: drawn.length === 1 || mine },
    });
  }
  const chart = new uPlot(
    {
      width: width(container),
      height,
      legend: { show: drawn.length <= 12 },
      cursor: { points: { show: false } },
      scales: { x: { time: false } },
      axes: [{ label: xLabel }, { label: metric, size: 60 }],
      series,
    },
    data,
    container,
  );
  container.dataset.points = String(drawn.reduce((n, c) => n + c.points.length, 0));
  return chart;
}

// rows: [{time, value, best}] from /summary.
export function bestSoFarChart(container, rows, metric) {
  clear(container);
  if (!rows.length) {
    container.appendChild(el('p', { class: 'muted' }, 'No completed trial yet.'));
    return;
  }
  const xs = rows.map((r) => r.time);
  new uPlot(
    {
      width: width(container),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds since start' }, { label: metric, size: 60 }],
      series: [
        { label: 'time' },
        { label: 'trial value', stroke: 'rgba(31,111,235,0.6)', fill: 'rgba(31,111,235,0.6)', paths: () => null, points: { show: true, size: 5, fill: 'rgba(31,111,235,0.6)' } },
        { label: 'best so far', stroke: '#d62728', width: 2, paths: uPlot.paths.stepped({ align: 1 }) },
      ],
    },
    [xs, rows.map((r) => r.value), rows.map((r) => r.best)],
    container,
  );
  container.dataset.points = String(rows.length);
}
