// The reasoning views: the selected trial's panel (its params, curve, lineage from the root with every
// rationale, the decisions about it, notes it answered) and the agent's decisions over time, with the LLM's
// prompts and replies when an LLM agent decided. Everything from the data is set as text.
import { api, query } from './api.js';
import { el, fill, fmt, duration } from './dom.js';
import { curveChart } from './charts.js';

function pretty(value) {
  return el('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

function changedText(changed) {
  return Object.entries(changed || {}).map(([name, c]) =>
    el('li', {}, el('code', {}, name), ': ', 'from' in c ? `${fmt(c.from)} → ` : '', 'to' in c ? fmt(c.to) : '(removed)'),
  );
}

function lineageStep(step, isLast, onSelect) {
  const head = el(
    'div',
    { class: 'step-head' },
    el('a', { href: '#', class: 'trial-link', onclick: (ev) => { ev.preventDefault(); onSelect(step.number); } }, `#${step.number}`),
    ' ',
    el('span', { class: `badge ${step.state}` }, step.state),
    ' ',
    el('span', { class: 'op' }, step.operator),
    step.change ? el('span', { class: 'change' }, ` ${step.change}`) : null,
    el('span', { class: 'num' }, ` ${fmt(step.value)}`),
  );
  const body = el(
    'div',
    { class: 'step-body' },
    step.decided_by ? el('div', { class: 'muted small' }, `decided by ${step.decided_by}`) : null,
    el('p', { class: 'rationale' }, step.rationale || '(no rationale recorded)'),
    Object.keys(step.changed || {}).length ? el('ul', { class: 'changed' }, changedText(step.changed)) : null,
    step.restore_from ? el('div', { class: 'muted small' }, 'restored ', el('code', {}, step.restore_from)) : null,
    (step.other_parents || []).length
      ? el('div', { class: 'small' }, 'merged with ', step.other_parents.map((o) => `#${o.number} (${fmt(o.value)}) `))
      : null,
    step.evidence && Object.keys(step.evidence).length
      ? el('details', {}, el('summary', {}, 'evidence'), pretty(step.evidence))
      : null,
    (step.notes || []).length
      ? el('div', { class: 'notes' }, step.notes.map((n) => el('div', { class: 'note' }, '✎ note: ', n.text)))
      : null,
    (step.decisions || []).length
      ? el('ul', { class: 'decisions' }, step.decisions.map((d) => el('li', {}, el('b', {}, d.type), ` by ${d.source || '?'}: `, d.reason || '')))
      : null,
  );
  return el('li', { class: isLast ? 'step current' : 'step' }, head, body);
}

export function tracePanel(side, { trial, trace, experiment, info, onSelect, id }) {
  const metric = experiment.objective.metric;
  const chart = el('div', { class: 'chart small-chart', id: 'trial-curve' });
  const params = el(
    'table',
    { class: 'params' },
    el('tbody', {}, Object.entries(trial.params).map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, fmt(v))))),
  );
  const lineage = el('ol', { class: 'lineage', id: 'lineage' }, trace.lineage.map((s, i) => lineageStep(s, i === trace.lineage.length - 1, onSelect)));
  const time = trial.started_at && trial.ended_at ? ` in ${duration(trial.ended_at - trial.started_at)}` : '';
  fill(side, 
    el('h3', { id: 'trace-title' }, `Trial #${trial.number} `, el('span', { class: `badge ${trial.state}` }, trial.state)),
    el('p', { class: 'facts' }, `${metric} = ${fmt(trial.value)}${time}`, trial.attempt > 1 ? `, attempt ${trial.attempt}` : ''),
    // A pruned or interrupted trial's reason is no failure: shown plainly, failures in red.
    trial.error ? el('p', { class: ['failed', 'timed_out'].includes(trial.state) ? 'error' : 'reason' }, trial.error) : null,
    params,
    chart,
    el('h4', {}, `Why it exists: its lineage (${trace.lineage.length} step${trace.lineage.length === 1 ? '' : 's'})`),
    lineage,
    stopButton(info, id, trial),
    noteForm(info, id),
  );
  curveChart(chart, [{ number: trial.number, points: trial.reports[metric] || [] }], { metric, selected: trial.number, height: 180 });
}

// Stops a running or pending trial (a prune decided by "person"); shown only with the token.
function stopButton(info, id, trial) {
  if (!info.can_act || !['running', 'pending'].includes(trial.state)) return null;
  const status = el('span', { class: 'small', id: 'stop-status' });
  const stop = async () => {
    try {
      await api(`experiments/${id}/trials/${trial.number}/stop`, { method: 'POST', body: { reason: 'stopped from the dashboard' } });
      status.textContent = 'stop requested: the run stops it within a second';
    } catch (err) {
      status.textContent = err.message;
    }
  };
  return el('div', { class: 'toolbar' }, el('button', { id: 'stop-trial', onclick: stop }, `stop trial #${trial.number}`), status);
}

// A note for the agent; shown only when the page carries the server's token (actions need it).
function noteForm(info, id) {
  if (!info.can_act) {
    return el('p', { class: 'muted small' }, 'Read-only: open the URL with the token `hyperion ui --token` prints to send notes to the agent.');
  }
  const text = el('textarea', { id: 'note-text', rows: 2, placeholder: 'a hint for the agent, e.g. lr above 0.1 diverges' });
  const status = el('span', { class: 'small', id: 'note-status' });
  const send = async () => {
    try {
      const r = await api(`experiments/${id}/notes`, { method: 'POST', body: { text: text.value } });
      status.textContent = `note stored (event ${r.id})`;
      text.value = '';
    } catch (err) {
      status.textContent = err.message;
    }
  };
  return el('div', { class: 'note-form' }, el('h4', {}, 'Note for the agent'), text, el('button', { id: 'note-send', onclick: send }, 'send'), ' ', status);
}

function exchangeDetails(d) {
  if (d.type !== 'agent_exchange') return null;
  return el(
    'details',
    { class: 'exchange' },
    el('summary', {}, 'prompt and reply'),
    (d.messages || []).map((m) => el('div', { class: 'message' }, el('b', {}, m.role || '?'), pretty(m.content))),
    el('div', { class: 'message' }, el('b', {}, 'reply'), pretty(d.reply)),
  );
}

export async function decisionsView(view, id, experiment, state = { offset: 0 }) {
  const limit = 50;
  const data = await api(`experiments/${id}/decisions${query({ order: 'desc', offset: state.offset, limit })}`);
  const rows = data.decisions.map((d) =>
    el(
      'tr',
      { dataset: { kind: d.kind } },
      el('td', { class: 'num' }, `+${duration(d.elapsed)}`),
      el('td', {}, el('span', { class: `kind ${d.kind}` }, d.kind)),
      el('td', {}, d.trial ? `#${d.trial}` : ''),
      el('td', {}, d.who || ''),
      el('td', {}, el('div', {}, d.summary), exchangeDetails(d)),
    ),
  );
  const last = Math.min(data.total, state.offset + data.decisions.length);
  const go = (offset) => decisionsView(view, id, experiment, { offset });
  fill(view, 
    el(
      'div',
      { class: 'toolbar' },
      el('button', { disabled: state.offset === 0, onclick: () => go(Math.max(0, state.offset - limit)) }, '‹ newer'),
      el('span', {}, data.total ? `${state.offset + 1}–${last} of ${data.total}, newest first` : 'no decisions yet'),
      el('button', { disabled: last >= data.total, onclick: () => go(state.offset + limit) }, 'older ›'),
      el('button', { onclick: () => go(state.offset) }, 'refresh'),
    ),
    el('table', { class: 'grid', id: 'decisions' }, el('thead', {}, el('tr', {}, ['time', 'kind', 'trial', 'who', 'what and why'].map((h) => el('th', {}, h)))), el('tbody', {}, rows)),
  );
}
