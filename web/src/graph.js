// The experiment graph: one node per trial, coloured by value (viridis, yellow = best) and styled by state,
// edges from parent to child labelled with the change; merges dashed. Zoom and pan are cytoscape's; a tap
// selects the trial. Labels are drawn on a canvas, so no text from the data becomes markup.
import cytoscape from 'cytoscape';
import dagre from 'cytoscape-dagre';
import { el, fmt } from './dom.js';

cytoscape.use(dagre);

const VIRIDIS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];

export function valueColor(t) {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const mix = (a, b) => Math.round(a + (b - a) * (x - i));
  const rgb = (h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16));
  const [a, b] = [rgb(VIRIDIS[i]), rgb(VIRIDIS[i + 1])];
  return `rgb(${mix(a[0], b[0])},${mix(a[1], b[1])},${mix(a[2], b[2])})`;
}

// t in 0..1 for each value, 1 the best under the objective's mode.
export function valueScale(values, mode) {
  const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !finite.length) return null;
    const t = hi === lo ? 1 : (v - lo) / (hi - lo);
    return mode === 'max' ? t : 1 - t;
  };
}

export class GraphView {
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.cy = null;
    this.ids = '';
  }

  render(tree, selected) {
    const mode = tree.objective ? tree.objective.mode : 'min';
    const scale = valueScale(tree.nodes.map((n) => n.value), mode);
    const ids = tree.nodes.map((n) => n.number).join(',');
    const nodeData = (n) => {
      const t = scale(n.value);
      return {
        id: `n${n.number}`,
        number: n.number,
        label: `#${n.number}\n${n.value === null ? n.state : fmt(n.value)}`,
        color: t === null ? '#d0d4da' : valueColor(t),
        text: t !== null && t > 0.6 ? '#111' : t === null ? '#333' : '#fff',
      };
    };
    const classes = (n) => [n.state, tree.best === n.number ? 'best' : ''].join(' ');
    // The same trials as on screen: restyle them in place, keeping the layout, zoom and pan the reader chose.
    if (this.cy && ids === this.ids) {
      for (const n of tree.nodes) {
        const node = this.cy.$id(`n${n.number}`);
        node.data(nodeData(n));
        node.classes(classes(n));
      }
      this.select(selected);
      return;
    }
    this.ids = ids;
    const elements = [];
    for (const n of tree.nodes) elements.push({ data: nodeData(n), classes: classes(n) });
    for (const e of tree.edges) {
      elements.push({
        data: { id: `e${e.from}-${e.to}-${e.kind}`, source: `n${e.from}`, target: `n${e.to}`, label: e.label || '' },
        classes: e.kind,
      });
    }
    if (this.cy) this.cy.destroy();
    this.cy = cytoscape({
      container: this.container,
      elements,
      minZoom: 0.05,
      maxZoom: 4,
      style: [
        {
          selector: 'node',
          style: {
            'background-color': 'data(color)',
            label: 'data(label)',
            color: 'data(text)',
            'text-wrap': 'wrap',
            'text-valign': 'center',
            'font-size': 10,
            width: 54,
            height: 34,
            shape: 'round-rectangle',
            'border-width': 1,
            'border-color': '#8a94a6',
          },
        },
        { selector: 'node.running', style: { 'border-color': '#1f6feb', 'border-width': 3 } },
        { selector: 'node.pending', style: { 'background-color': '#fff', 'border-style': 'dashed' } },
        { selector: 'node.failed, node.timed_out', style: { 'background-color': '#f6d5d5', 'border-color': '#c62828', 'border-width': 2 } },
        { selector: 'node.pruned', style: { opacity: 0.55, 'border-style': 'dashed', 'border-color': '#666' } },
        { selector: 'node.interrupted', style: { 'border-color': '#e36209', 'border-style': 'dotted', 'border-width': 2 } },
        { selector: 'node.best', style: { 'border-color': '#d4a017', 'border-width': 4 } },
        { selector: 'node:selected', style: { 'overlay-color': '#1f6feb', 'overlay-opacity': 0.25, 'overlay-padding': 6 } },
        {
          selector: 'edge',
          style: {
            width: 1.5,
            'line-color': '#9aa4b2',
            'target-arrow-color': '#9aa4b2',
            'target-arrow-shape': 'triangle',
            'curve-style': 'bezier',
            label: 'data(label)',
            'font-size': 8,
            color: '#444',
            'text-background-color': '#fff',
            'text-background-opacity': 0.85,
            'text-background-padding': 1,
          },
        },
        { selector: 'edge.merge', style: { 'line-style': 'dashed', 'line-color': '#8e44ad', 'target-arrow-color': '#8e44ad' } },
      ],
      layout: { name: 'dagre', rankDir: 'TB', nodeSep: 14, rankSep: 40, animate: false },
    });
    this.cy.on('tap', 'node', (evt) => this.onSelect(evt.target.data('number')));
    this.select(selected);
    // For the browser tests and for people poking at the page from the console.
    window.__hyperion = Object.assign(window.__hyperion || {}, { cy: this.cy });
  }

  select(number) {
    if (!this.cy) return;
    this.cy.nodes(':selected').unselect();
    if (number) this.cy.$(`#n${number}`).select();
  }
}

export function graphLegend() {
  const swatch = (cls, text) => el('span', { class: `legend-item ${cls}` }, el('i'), text);
  return el(
    'div',
    { class: 'legend' },
    el('span', { class: 'legend-item gradient' }, el('i'), 'value: worst → best'),
    swatch('running', 'running'),
    swatch('pending', 'pending'),
    swatch('failed', 'failed / timed out'),
    swatch('pruned', 'pruned'),
    swatch('best', 'best'),
    swatch('merge', 'merge edge'),
  );
}
