// The dashboard in a real browser: Debian's chromium (headless), driven by playwright-core, against real
// experiments made by running hyperion on the fixture configs here. Screenshots go to $HYPERION_ARTIFACTS.
// Run by CTest (label browser): node --test tests/browser/dashboard.test.mjs, with HYPERION_BIN set.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  HERE, ROOT, INJECTED_NAME, tmp, writeConfig, hyperion, json, freePort, startServing, stop, request, launch,
  cleanUp, newPage, shot, openTab, waitForGraph, clickNode, strayText,
} from './support.mjs';

let browser;
let db;
let graphExperiment;
let injectionExperiment;
let readOnly; // `hyperion ui` on loopback without a token
let acting; // `hyperion ui` on loopback with a token

before(async () => {
  db = `sqlite://${path.join(tmp, 'h.db')}`;
  const rec = path.join(tmp, 'records');
  fs.mkdirSync(rec);
  const graph = writeConfig('graph.yaml', { '@LINEAGE@': path.join(ROOT, 'tests', 'e2e', 'fixtures', 'lineage.py'), '@REC@': rec });
  hyperion('run', graph, '--storage', db, '--output-dir', path.join(tmp, 'runs'), '-q');
  const injection = writeConfig('injection.yaml', { '@DIR@': path.join(HERE, 'fixtures') });
  hyperion('run', injection, '--storage', db, '--output-dir', path.join(tmp, 'runs'), '-q');
  // Rationales are written by agents and LLMs: give one markup and script.
  const sql = `UPDATE trials SET rationale = '<img src=z onerror=alert(8)><script>alert(9)</script>' ` +
    `WHERE number = 1 AND experiment_id = (SELECT id FROM experiments WHERE name LIKE '<img%')`;
  const r = spawnSync('/usr/bin/sqlite3', [path.join(tmp, 'h.db'), sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const experiments = json('status', '--storage', db);
  graphExperiment = experiments.find((e) => e.name === 'browser-beam');
  injectionExperiment = experiments.find((e) => e.name === INJECTED_NAME);
  assert.ok(graphExperiment && injectionExperiment, JSON.stringify(experiments));
  readOnly = await startServing(['ui', '--storage', db, '--port', '0']);
  acting = await startServing(['ui', '--storage', db, '--port', '0', '--token', 'test-token-123']);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  cleanUp();
});

describe('the dashboard', () => {
  it('lists the experiments', async () => {
    const page = await newPage(browser);
    await page.goto(readOnly.url);
    await page.waitForSelector('#experiments tbody tr');
    const names = await page.locator('#experiments .exp-name').allTextContents();
    assert.deepEqual(names.sort(), ['browser-beam', INJECTED_NAME].sort());
    await shot(page, 'experiments');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('draws the graph, and a click on a node shows that trial\'s trace', async () => {
    const trials = json('trials', '--storage', db, '--experiment', 'browser-beam');
    const page = await newPage(browser);
    await page.goto(`${readOnly.url}#/experiments/${graphExperiment.id}`);
    await waitForGraph(page);
    assert.equal(await page.locator('#graph').getAttribute('data-nodes'), String(trials.length));
    const edges = trials.reduce((n, t) => n + t.parents.length, 0);
    assert.ok(edges > 0, 'the beam branched');
    assert.equal(await page.evaluate(() => window.__hyperion.cy.edges().length), edges);
    await shot(page, 'graph');

    // The deepest trial: its lineage has every step from the root.
    const target = trials.filter((t) => t.parents.length).at(-1);
    const trace = json('trace', String(target.number), '--storage', db, '--experiment', 'browser-beam');
    await clickNode(page, target.number);
    await page.waitForFunction((n) => document.querySelector('#trace-title')?.textContent.startsWith(`Trial #${n} `), target.number);
    const rationales = await page.locator('#lineage .rationale').allTextContents();
    assert.equal(rationales.length, trace.lineage.length);
    assert.deepEqual(rationales, trace.lineage.map((s) => s.rationale));
    assert.ok(trace.lineage.length >= 2, 'a branch has its parent in its lineage');
    assert.equal(await page.evaluate(() => location.hash), `#/experiments/${graphExperiment.id}/${target.number}`);
    assert.ok(Number(await page.locator('#trial-curve').getAttribute('data-points')) > 0, 'the trial\'s own curve');
    await shot(page, 'trace');
    assert.deepEqual(await strayText(page), []);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('pages and sorts the trial table', async () => {
    const trials = json('trials', '--storage', db, '--experiment', INJECTED_NAME);
    assert.equal(trials.length, 30);
    const page = await newPage(browser);
    await page.goto(`${readOnly.url}#/experiments/${injectionExperiment.id}`);
    await openTab(page, 'trials');
    await page.waitForSelector('#trials tbody tr');
    assert.equal(await page.locator('#page-info').textContent(), '1–25 of 30');
    assert.equal(await page.locator('#trials tbody tr').count(), 25);
    await page.click('#page-next');
    await page.waitForFunction(() => document.querySelector('#page-info').textContent === '26–30 of 30');
    assert.deepEqual(await page.locator('#trials tbody tr td:first-child').allTextContents(), ['#26', '#27', '#28', '#29', '#30']);

    await page.click('#trials th[data-sort="value"]');
    await page.waitForFunction(() => document.querySelector('#page-info').textContent === '1–25 of 30');
    const byValue = [...trials].sort((a, b) => a.value - b.value || a.number - b.number);
    assert.equal(await page.locator('#trials tbody tr').first().getAttribute('data-number'), String(byValue[0].number));
    await page.click('#trials th[data-sort="value"]');
    await page.waitForFunction((n) => document.querySelector('#trials tbody tr')?.dataset.number === String(n), byValue.at(-1).number);
    await shot(page, 'trials');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('draws learning curves and the analysis views', async () => {
    const page = await newPage(browser);
    await page.goto(`${readOnly.url}#/experiments/${graphExperiment.id}`);
    await openTab(page, 'curves');
    await page.waitForSelector('#curves-chart canvas');
    const trials = json('trials', '--storage', db, '--experiment', 'browser-beam');
    const started = trials.filter((t) => t.started_at !== null).length;
    assert.ok(Number(await page.locator('#curves-chart').getAttribute('data-points')) >= started, 'a point per trial at least');
    await shot(page, 'curves');
    await openTab(page, 'analysis');
    await page.waitForSelector('#best-so-far canvas');
    const completed = trials.filter((t) => t.state === 'completed').length;
    assert.equal(await page.locator('#best-so-far').getAttribute('data-points'), String(completed));
    assert.deepEqual((await page.locator('#importance .bar-label').allTextContents()).sort(), ['dropout', 'lr']);
    assert.equal(await page.locator('#parallel polyline').count(), completed);
    assert.equal(await page.locator('#timeline rect').count(), started);
    await shot(page, 'analysis');
    await openTab(page, 'decisions');
    await page.waitForSelector('#decisions tbody tr');
    assert.ok((await page.locator('#decisions tr[data-kind="propose"]').count()) > 0);
    await shot(page, 'decisions');
    assert.deepEqual(await strayText(page), []);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('shows markup in names, values and rationales as text', async () => {
    const page = await newPage(browser);
    await page.goto(readOnly.url);
    await page.waitForSelector('#experiments tbody tr');
    await page.goto(`${readOnly.url}#/experiments/${injectionExperiment.id}/1`);
    await waitForGraph(page);
    await page.waitForSelector('#lineage .rationale');
    assert.equal(await page.locator('#lineage .rationale').first().textContent(), '<img src=z onerror=alert(8)><script>alert(9)</script>');
    assert.equal(await page.locator('#exp-title').textContent(), INJECTED_NAME);
    for (const tab of ['trials', 'curves', 'analysis', 'decisions', 'graph']) {
      await openTab(page, tab);
      await page.waitForTimeout(300);
    }
    await clickNode(page, 2);
    await page.waitForFunction(() => document.querySelector('#trace-title')?.textContent.startsWith('Trial #2 '));
    await openTab(page, 'trials');
    await page.waitForSelector('#trials tbody tr');
    const table = await page.locator('#trials').textContent();
    assert.ok(table.includes('<svg onload=alert(4)>') && table.includes('opt<script>alert(5)</script>'), 'param names as text');
    assert.ok(table.includes('<b onmouseover=alert(6)>x</b>') || table.includes('javascript:alert(7)'), 'categorical values as text');
    await page.hover('#trials tbody tr');
    await shot(page, 'injection');
    const injected = await page.evaluate(() => ({
      images: document.querySelectorAll('img').length,
      scripts: [...document.scripts].filter((s) => !s.src.endsWith('/assets/app.js')).length,
      handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
      bold: document.querySelectorAll('main b[onmouseover], svg[onload]').length,
      links: [...document.querySelectorAll('a')].filter((a) => a.href.startsWith('javascript:')).length,
    }));
    assert.deepEqual(injected, { images: 0, scripts: 0, handlers: 0, bold: 0, links: 0 });
    assert.deepEqual(page.dialogs, [], 'no dialog opened');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('is read-only without the token and acts with it', async () => {
    const api = `${readOnly.url}api/experiments/${graphExperiment.id}`;
    const list = await request(`${readOnly.url}api/experiments`);
    assert.equal(list.status, 200);
    assert.match(list.headers['content-type'], /^application\/json/);
    assert.match(list.headers['content-security-policy'], /script-src 'self'/);
    const refused = await request(`${api}/notes`, { method: 'POST', body: '{"text": "lower lr"}' });
    assert.equal(refused.status, 403);
    assert.match(refused.headers['content-type'], /^application\/json/);
    assert.match(JSON.parse(refused.body).error, /token/);
    const actingApi = `${acting.url.replace(/\?token=.*$/, '')}api/experiments/${graphExperiment.id}`;
    assert.equal((await request(`${actingApi}/notes`, { method: 'POST', body: '{"text": "lower lr"}' })).status, 403);
    assert.equal((await request(`${actingApi}/notes`, { method: 'POST', body: '{"text": "lower lr"}', headers: { Authorization: 'Bearer wrong' } })).status, 403);
    const stored = await request(`${actingApi}/notes`, { method: 'POST', body: '{"text": "lower lr"}', headers: { Authorization: 'Bearer test-token-123' } });
    assert.equal(stored.status, 201, stored.body);
    const notes = json('decisions', '--storage', db, '--experiment', 'browser-beam').filter((d) => d.kind === 'note');
    assert.deepEqual(notes.map((n) => n.text), ['lower lr']);
    // Another site's name for this address (DNS rebinding) is refused.
    const rebound = await request(`${readOnly.url}api/experiments`, { headers: { Host: 'evil.example:80' } });
    assert.equal(rebound.status, 403);
    assert.equal((await request(`${readOnly.url}api/nothing`)).status, 404);
    assert.equal((await request(`${api}/trials?limit=0`)).status, 400);

    // In the browser: the page opened with the token sends a note.
    const page = await newPage(browser);
    await page.goto(`${acting.url}#/experiments/${graphExperiment.id}/1`);
    await page.waitForSelector('#note-text');
    assert.equal(await page.evaluate(() => location.search), '', 'the token leaves the address bar');
    await page.fill('#note-text', 'try dropout 0.1');
    await page.click('#note-send');
    await page.waitForFunction(() => document.querySelector('#note-status').textContent.startsWith('note stored'));
    await page.close();
  });

  it('needs a token on a non-loopback address', async () => {
    const port = await freePort();
    const open = await startServing(['ui', '--storage', db, '--host', '0.0.0.0', '--port', String(port)]);
    const token = open.output().match(/token \(made for this run\): ([0-9a-f]{32})/)[1];
    const base = `http://127.0.0.1:${port}`;
    const denied = await request(`${base}/api/experiments`);
    assert.equal(denied.status, 401);
    assert.match(denied.headers['content-type'], /^application\/json/);
    assert.equal((await request(`${base}/`)).status, 401, 'the page too');
    assert.equal((await request(`${base}/api/experiments`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await request(`${base}/api/experiments?token=${token}`)).status, 200);
    const page = await newPage(browser);
    await page.goto(`${base}/?token=${token}`);
    await page.waitForSelector('#experiments tbody tr');
    await page.close();
    stop(open.child);
  });

  it('stops a running trial from the page', async () => {
    const liveDb = `sqlite://${path.join(tmp, 'stop.db')}`;
    const config = writeConfig('stop.yaml', { '@DIR@': path.join(HERE, 'fixtures') });
    // Waits for the run's first progress line: by then the experiment and its first trial exist.
    const run = await startServing(['run', config, '--storage', liveDb, '--output-dir', path.join(tmp, 'runs')], /(running|started)/);
    const ui = await startServing(['ui', '--storage', liveDb, '--port', '0', '--token', 'stop-token']);
    const page = await newPage(browser);
    await page.goto(`${ui.url}#/experiments/1/1`);
    // Trial #1 runs for 30 s unless stopped.
    await page.waitForSelector('#stop-trial', { timeout: 30000 });
    await page.click('#stop-trial');
    await page.waitForFunction(() => document.querySelector('#stop-status').textContent.startsWith('stop requested'));
    await page.close();
    await new Promise((resolve) => (run.child.exitCode !== null ? resolve() : run.child.on('exit', resolve)));
    const trials = json('trials', '--storage', liveDb);
    assert.equal(trials[0].state, 'pruned', JSON.stringify(trials[0]));
    assert.equal(trials[0].error, 'stopped by a person: stopped from the dashboard');
    const prunes = json('decisions', '--storage', liveDb).filter((d) => d.kind === 'prune-request');
    assert.deepEqual(prunes.map((d) => [d.trial, d.who]), [[1, 'person']]);
    stop(ui.child);
  });

  it('updates live while `hyperion run --ui` runs, without reloading', async () => {
    const port = await freePort();
    const liveDb = `sqlite://${path.join(tmp, 'live.db')}`;
    const config = writeConfig('live.yaml', { '@DIR@': path.join(HERE, 'fixtures') });
    const run = await startServing(['run', config, '--storage', liveDb, '--output-dir', path.join(tmp, 'runs'), '--ui', String(port), '-q']);
    const base = `http://127.0.0.1:${port}`;
    // The experiment exists once the orchestrator has stored it.
    for (let i = 0; i < 100; i++) {
      const r = await request(`${base}/api/experiments`).catch(() => null);
      if (r && JSON.parse(r.body).experiments.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const page = await newPage(browser);
    await page.goto(`${base}/#/experiments/1`);
    await waitForGraph(page);
    await page.evaluate(() => (window.__notReloaded = true));
    const first = Number(await page.locator('#graph').getAttribute('data-nodes'));
    assert.ok(first < 8, `the page opened before the run ended (${first} trials)`);
    // More trials appear while the run goes on. (Not necessarily all 8: `run --ui` stops serving when the run
    // ends, possibly before the page fetched the last state.)
    await page.waitForFunction((n) => Number(document.querySelector('#graph').dataset.nodes) > n, first, { timeout: 60000 });
    assert.equal(await page.evaluate(() => window.__notReloaded), true);
    assert.match(await page.locator('#live').textContent(), /live/);
    await shot(page, 'live');
    await page.close();
    await new Promise((resolve) => (run.child.exitCode !== null ? resolve() : run.child.on('exit', resolve)));
    assert.equal(run.child.exitCode, 0, run.output());
  });
});
