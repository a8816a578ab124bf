// Hyperion's dashboard: the experiments list (#/) and one experiment (#/experiments/ID, #/experiments/ID/N
// with trial N selected). Live: a long poll on /events refreshes what is on screen when the experiment moves.
import { api, query } from './api.js';
import { el, clear, fill, fmt, duration } from './dom.js';
import { GraphView, graphLegend } from './graph.js';
import { curveChart, bestSoFarChart } from './charts.js';
import { importanceView, parallelView, timelineView } from './analysis.js';
import { tracePanel, decisionsView } from './trace.js';

const app = document.getElementById('app');
const crumb = document.getElementById('crumb');
const live = document.getElementById('live');
let page = null; // the page on screen; replaced on navigation

function stateBadge(state) {
  return el('span', { class: `badge ${state}` }, state);
}

function errorBox(error) {
  return el('p', { class: 'error' }, String(error.message || error));
}

// ---------------------------------------------------------------------------------------------------------
// The experiments list

async function experimentsPage() {
  clear(crumb);
  const body = el('section', { class: 'card' }, el('h2', {}, 'Experiments'));
  clear(app).appendChild(body);
  const { experiments } = await api('experiments');
  if (!experiments.length) {
    body.appendChild(el('p', { class: 'muted' }, 'No experiments in this database yet: start one with `hyperion run CONFIG`.'));
    return null;
  }
  const rows = experiments
    .slice()
    .reverse()
    .map((e) =>
      el(
        'tr',
        { class: 'clickable', onclick: () => (location.hash = `#/experiments/${e.id}`) },
        el('td', {}, el('a', { href: `#/experiments/${e.id}`, class: 'exp-name' }, e.name)),
        el('td', {}, stateBadge(e.status)),
        el('td', {}, e.strategy),
        el('td', {}, `${e.objective.metric} (${e.objective.mode})`),
        el('td', { class: 'num' }, String(e.trials)),
        el('td', {}, Object.entries(e.counts).map(([s, n]) => `${n} ${s}`).join(', ')),
        el('td', { class: 'num' }, e.best ? `#${e.best.number}: ${fmt(e.best.value)}` : '–'),
        el('td', {}, new Date(e.created_at * 1000).toLocaleString()),
      ),
    );
  body.appendChild(
    el(
      'table',
      { class: 'grid', id: 'experiments' },
      el('thead', {}, el('tr', {}, ['name', 'status', 'strategy', 'objective', 'trials', 'states', 'best', 'created'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows),
    ),
  );
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// One experiment

const TABS = ['graph', 'trials', 'curves', 'analysis', 'decisions'];

class ExperimentPage {
  constructor(id, selected) {
    this.id = id;
    this.selected = selected;
    this.tab = sessionStorage.getItem('hyperion_tab') || 'graph';
    if (!TABS.includes(this.tab)) this.tab = 'graph';
    this.table = { offset: 0, limit: 25, sort: 'number', order: 'asc', state: '' };
    this.lastEvent = 0;
    this.stopped = false;
    this.abort = new AbortController();
    this.build();
  }

  build() {
    this.header = el('section', { class: 'card exp-header' });
    this.tabBar = el('nav', { class: 'tabs' });
    this.views = {};
    for (const name of TABS) {
      this.tabBar.appendChild(el('button', { class: 'tab', dataset: { tab: name }, onclick: () => this.show(name) }, name));
      this.views[name] = el('section', { class: 'view', id: `view-${name}` });
    }
    this.side = el('aside', { class: 'side card', id: 'trace' });
    this.graph = null;
    clear(app).appendChild(
      el('div', { class: 'layout' }, el('div', { class: 'main' }, this.header, this.tabBar, Object.values(this.views)), this.side),
    );
  }

  async start() {
    this.info = await api('info');
    await this.refreshHeader();
    this.show(this.tab);
    await this.refreshSide();
    this.poll();
  }

  destroy() {
    this.stopped = true;
    this.abort.abort();
  }

  async refreshHeader() {
    const e = await api(`experiments/${this.id}`);
    this.experiment = e;
    clear(crumb).appendChild(el('span', {}, ' / ', el('span', { id: 'exp-title' }, e.name)));
    fill(this.header, 
      el('h2', {}, el('span', { class: 'exp-name' }, e.name), ' ', stateBadge(e.status)),
      el(
        'p',
        { class: 'facts' },
        el('span', {}, `strategy ${e.strategy}`),
        el('span', {}, `objective ${e.objective.metric} (${e.objective.mode})`),
        el('span', {}, `${e.trials} trials: ${Object.entries(e.counts).map(([s, n]) => `${n} ${s}`).join(', ') || 'none yet'}`),
        el('span', {}, e.best ? `best #${e.best.number} = ${fmt(e.best.value)}` : 'no best yet'),
      ),
    );
  }

  show(name) {
    this.tab = name;
    sessionStorage.setItem('hyperion_tab', name);
    for (const b of this.tabBar.children) b.classList.toggle('active', b.dataset.tab === name);
    for (const [n, v] of Object.entries(this.views)) v.hidden = n !== name;
    this.refreshTab().catch((err) => this.views[name].appendChild(errorBox(err)));
  }

  select(number) {
    this.selected = number;
    history.replaceState(null, '', `#/experiments/${this.id}/${number}`);
    if (this.graph) this.graph.select(number);
    this.refreshSide().catch((err) => this.side.appendChild(errorBox(err)));
    if (this.tab === 'curves') this.refreshTab();
    if (this.tab === 'trials') this.highlightRow();
  }

  async refreshTab() {
    const view = this.views[this.tab];
    if (this.tab === 'graph') return this.renderGraph(view);
    if (this.tab === 'trials') return this.renderTrials(view);
    if (this.tab === 'curves') return this.renderCurves(view);
    if (this.tab === 'analysis') return this.renderAnalysis(view);
    if (this.tab === 'decisions') return decisionsView(view, this.id, this.experiment);
  }

  async renderGraph(view) {
    // 300 nodes keep the layout under a second or two in the browser; the API gives up to 5,000 on request.
    const tree = await api(`experiments/${this.id}/graph${query({ max_nodes: 300 })}`);
    if (!this.graphBox) {
      this.graphCaption = el('p', { class: 'muted small', id: 'graph-caption' });
      this.graphBox = el('div', { class: 'graph', id: 'graph' });
      fill(view, this.graphCaption, this.graphBox, graphLegend());
      this.graph = new GraphView(this.graphBox, (n) => this.select(n));
    }
    this.graphCaption.textContent =
      tree.shown_nodes < tree.total_nodes
        ? `${tree.shown_nodes} of ${tree.total_nodes} trials: the best one's lineage and the latest (a trial whose parent is not shown starts a line). Scroll to zoom, drag to pan, click a trial.`
        : `${tree.total_nodes} trials, ${tree.edges.length} edges. Scroll to zoom, drag to pan, click a trial.`;
    this.graphBox.dataset.nodes = String(tree.nodes.length);
    this.graph.render(tree, this.selected);
  }

  async renderTrials(view) {
    const t = this.table;
    const data = await api(`experiments/${this.id}/trials${query(t)}`);
    const params = [...new Set(data.trials.flatMap((r) => Object.keys(r.params)))];
    const sortable = { '#': 'number', state: 'state', value: 'value', operator: 'operator', started: 'started_at', duration: 'duration' };
    const head = ['#', 'state', 'value', 'operator', 'change', ...params, 'started', 'duration'].map((h, i) => {
      const key = i >= 5 && i < 5 + params.length ? null : sortable[h];
      const arrow = key && key === t.sort ? (t.order === 'asc' ? ' ▲' : ' ▼') : '';
      return el(
        'th',
        key ? { class: 'sortable', dataset: { sort: key }, onclick: () => this.sortBy(key) } : {},
        h,
        arrow,
      );
    });
    const start = this.experiment.created_at;
    const rows = data.trials.map((r) =>
      el(
        'tr',
        { class: 'clickable', dataset: { number: r.number }, onclick: () => this.select(r.number) },
        el('td', { class: 'num' }, `#${r.number}`),
        el('td', {}, stateBadge(r.state)),
        el('td', { class: 'num' }, fmt(r.value)),
        el('td', {}, r.operator),
        el('td', {}, r.change),
        params.map((p) => el('td', { class: 'num' }, p in r.params ? fmt(r.params[p]) : '')),
        el('td', {}, r.started_at ? `+${duration(r.started_at - start)}` : '–'),
        el('td', { class: 'num' }, r.started_at && r.ended_at ? duration(r.ended_at - r.started_at) : '–'),
      ),
    );
    const last = Math.min(data.total, t.offset + data.trials.length);
    const stateFilter = el(
      'select',
      { id: 'state-filter', onchange: (ev) => { t.state = ev.target.value; t.offset = 0; this.refreshTab(); } },
      ['', 'completed', 'running', 'pending', 'failed', 'pruned', 'timed_out', 'interrupted'].map((s) =>
        el('option', s === t.state ? { value: s, selected: true } : { value: s }, s || 'all states'),
      ),
    );
    fill(view, 
      el(
        'div',
        { class: 'toolbar' },
        stateFilter,
        el('button', { id: 'page-prev', disabled: t.offset === 0, onclick: () => { t.offset = Math.max(0, t.offset - t.limit); this.refreshTab(); } }, '‹ previous'),
        el('span', { id: 'page-info' }, data.total ? `${t.offset + 1}–${last} of ${data.total}` : 'no trials'),
        el('button', { id: 'page-next', disabled: last >= data.total, onclick: () => { t.offset += t.limit; this.refreshTab(); } }, 'next ›'),
      ),
      el('div', { class: 'scroll' }, el('table', { class: 'grid', id: 'trials' }, el('thead', {}, el('tr', {}, head)), el('tbody', {}, rows))),
    );
    this.highlightRow();
  }

  sortBy(key) {
    const t = this.table;
    t.order = t.sort === key && t.order === 'asc' ? 'desc' : 'asc';
    t.sort = key;
    t.offset = 0;
    this.refreshTab();
  }

  highlightRow() {
    for (const row of this.views.trials.querySelectorAll('tbody tr')) {
      row.classList.toggle('selected', Number(row.dataset.number) === this.selected);
    }
  }

  async renderCurves(view) {
    const metric = this.metric || this.experiment.objective.metric;
    const wanted = await api(`experiments/${this.id}/curves${query({ metric, limit: 100 })}`);
    let curves = wanted.curves;
    if (this.selected && !curves.some((c) => c.number === this.selected)) {
      const mine = await api(`experiments/${this.id}/curves${query({ metric, trials: this.selected })}`);
      curves = curves.concat(mine.curves);
    }
    const metrics = this.metrics || [metric];
    const chooser = el(
      'select',
      { id: 'metric', onchange: (ev) => { this.metric = ev.target.value; this.refreshTab(); } },
      metrics.map((m) => el('option', m === metric ? { value: m, selected: true } : { value: m }, m)),
    );
    const box = el('div', { class: 'chart', id: 'curves-chart' });
    fill(view, 
      el('div', { class: 'toolbar' }, el('label', {}, 'metric ', chooser),
        el('span', { class: 'muted small' },
          `${curves.length} of ${wanted.total_trials} trials (the best first); the selected trial in red`)),
      box,
    );
    curveChart(box, curves, { metric, selected: this.selected });
  }

  async renderAnalysis(view) {
    const s = await api(`experiments/${this.id}/summary`);
    const best = el('div', { class: 'chart', id: 'best-so-far' });
    const importance = el('div', { id: 'importance' });
    const parallel = el('div', { id: 'parallel' });
    const timeline = el('div', { id: 'timeline' });
    fill(view, 
      el('div', { class: 'card' }, el('h3', {}, 'Best so far'), best),
      el('div', { class: 'card' }, el('h3', {}, 'Parameter importance'), importance),
      el('div', { class: 'card' }, el('h3', {}, 'Parallel coordinates'), el('p', { class: 'muted small' }, 'the best 1,000 completed trials; yellow is best'), parallel),
      el('div', { class: 'card' }, el('h3', {}, 'Slots over time'), timeline),
    );
    bestSoFarChart(best, s.best_so_far, s.objective.metric);
    importanceView(importance, s.importance);
    parallelView(parallel, s.parallel, s.objective.mode, (n) => this.select(n));
    timelineView(timeline, s.timeline, (n) => this.select(n));
  }

  async refreshSide() {
    if (!this.selected) {
      fill(this.side, el('h3', {}, 'Reasoning'), el('p', { class: 'muted' }, 'Click a trial in the graph or the table to see why it exists.'));
      return;
    }
    const trial = await api(`experiments/${this.id}/trials/${this.selected}`);
    this.metrics = Object.keys(trial.reports);
    if (!this.metrics.includes(this.experiment.objective.metric)) this.metrics.unshift(this.experiment.objective.metric);
    const trace = await api(`experiments/${this.id}/trials/${this.selected}/trace`);
    tracePanel(this.side, { trial, trace, experiment: this.experiment, info: this.info, onSelect: (n) => this.select(n), id: this.id });
  }

  // Long poll for new events; refreshes the header, the tab on screen and the selected trial at most every
  // second while events come in.
  async poll() {
    while (!this.stopped) {
      try {
        // The first call, without waiting, finds where the log stands; the page on screen already shows that.
        const r = await api(`experiments/${this.id}/events${query({ after: this.lastEvent, wait: this.primed ? 20 : 0 })}`, {
          signal: this.abort.signal,
        });
        live.textContent = r.status === 'running' ? '● live' : '';
        live.className = r.status === 'running' ? 'live on' : 'live';
        // A full page means more are waiting (a page opened on a long experiment): catch up before refreshing.
        if (r.events.length >= 500) {
          this.lastEvent = r.last_id;
        } else if (r.events.length && this.primed) {
          this.lastEvent = r.last_id;
          await this.refreshAll();
          await new Promise((resolve) => setTimeout(resolve, 1000));
        } else {
          this.lastEvent = r.last_id;
          this.primed = true;
        }
      } catch (err) {
        if (this.stopped) return;
        live.textContent = 'offline';
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    }
  }

  async refreshAll() {
    await this.refreshHeader();
    // The decisions tab and a paged table move under the reader's eyes; they refresh on request instead.
    if (this.tab !== 'decisions') await this.refreshTab();
    if (this.selected) await this.refreshSide();
  }
}

// ---------------------------------------------------------------------------------------------------------

async function route() {
  if (page) page.destroy();
  page = null;
  const m = location.hash.match(/^#\/experiments\/(\d+)(?:\/(\d+))?$/);
  try {
    if (m) {
      page = new ExperimentPage(Number(m[1]), m[2] ? Number(m[2]) : null);
      await page.start();
    } else {
      await experimentsPage();
    }
  } catch (err) {
    app.appendChild(errorBox(err));
  }
}

window.addEventListener('hashchange', () => {
  // select() rewrites the hash with replaceState, which fires no hashchange; a real navigation does.
  route();
});
route();
