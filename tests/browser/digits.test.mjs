// The dashboard on the real example: a short beam search over the digits MLP (PyTorch, scikit-learn's digits;
// 3 levels of 2 x 2, 6 epochs), then the graph, the curves and the trace of the best trial in chromium, saved as
// screenshots (digits-graph.png, digits-curves.png, digits-trace.png, digits-analysis.png) in $HYPERION_ARTIFACTS.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tmp, hyperion, json, startServing, launch, cleanUp, newPage, shot, openTab, waitForGraph, clickNode, strayText } from './support.mjs';

const DIGITS = path.join(ROOT, 'examples', 'digits');
let browser;
let db;
let server;

before(async () => {
  // The example's beam config, shrunk as tests/e2e/test_graph_digits.py shrinks it.
  let text = fs.readFileSync(path.join(DIGITS, 'beam.yaml'), 'utf8');
  const shrink = [
    [/workdir: \./, `workdir: ${DIGITS}`],
    [/strategy: \{[^}]*\}/, 'strategy: {type: beam, width: 2, branches: 2, span: 2, seed: 3}'],
    [/training: \{[^}]*\}/, 'training: {unit: epochs, max: 6}'],
    [/--epochs, "20"/, '--epochs, "6"'],
  ];
  for (const [pattern, replacement] of shrink) {
    assert.match(text, pattern);
    text = text.replace(pattern, replacement);
  }
  const config = path.join(tmp, 'digits-beam.yaml');
  fs.writeFileSync(config, text);
  db = `sqlite://${path.join(tmp, 'digits.db')}`;
  hyperion('run', config, '--storage', db, '--output-dir', path.join(tmp, 'runs'), '-q');
  server = await startServing(['ui', '--storage', db, '--port', '0']);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  cleanUp();
});

it('shows the graph, the curves and the trace of a digits run', async () => {
  const trials = json('trials', '--storage', db);
  const best = json('best', '--storage', db);
  assert.equal(trials.length, 12);
  const page = await newPage(browser);
  await page.goto(`${server.url}#/experiments/1`);
  await waitForGraph(page);
  assert.equal(await page.locator('#graph').getAttribute('data-nodes'), '12');
  await shot(page, 'digits-graph');

  const trace = json('trace', String(best.number), '--storage', db);
  await clickNode(page, best.number);
  await page.waitForFunction((n) => document.querySelector('#trace-title')?.textContent.startsWith(`Trial #${n} `), best.number);
  assert.deepEqual(await page.locator('#lineage .rationale').allTextContents(), trace.lineage.map((s) => s.rationale));
  await shot(page, 'digits-trace');
  assert.deepEqual(await strayText(page), [], 'every value formatted');

  await openTab(page, 'curves');
  await page.waitForSelector('#curves-chart canvas');
  // Every trial reports val_acc once per epoch of its span (2 epochs each).
  assert.ok(Number(await page.locator('#curves-chart').getAttribute('data-points')) >= 2 * trials.length);
  await shot(page, 'digits-curves');
  await openTab(page, 'analysis');
  await page.waitForSelector('#best-so-far canvas');
  await shot(page, 'digits-analysis');
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.dialogs, []);
  await page.close();
});
