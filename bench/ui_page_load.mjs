// The dashboard's pages in a real browser on a large experiment: serves DB (made by bench/ui_scale) with
// `hyperion ui`, opens it in headless chromium and times each view from the click (or the address) until it is
// drawn. Prints a Markdown table for docs/benchmarks.md ("Dashboard at scale").
// Usage: node bench/ui_page_load.mjs DB   (HYPERION_BIN: the binary, default build/hyperion)
import { launch, startServing, newPage, openTab, waitForGraph, clickNode, cleanUp } from '../tests/browser/support.mjs';

const db = process.argv[2];
if (!db) {
  console.error('usage: node bench/ui_page_load.mjs DB');
  process.exit(2);
}
const server = await startServing(['ui', '--storage', `sqlite://${db}`, '--port', '0']);
const browser = await launch();
const page = await newPage(browser);
const rows = [];
async function time(what, action) {
  const start = performance.now();
  await action();
  rows.push([what, (performance.now() - start) / 1000]);
}
// A first, untimed load: the renderer's start and the script's first parse are the browser's, not the page's.
await page.goto(server.url);
await page.waitForSelector('#experiments tbody tr');
await page.goto('about:blank');
await time('experiments list', async () => {
  await page.goto(server.url);
  await page.waitForSelector('#experiments tbody tr');
});
await time('experiment: header and graph (300 of 20,000 trials)', async () => {
  await page.goto(`${server.url}#/experiments/1`);
  await waitForGraph(page);
});
const last = Number(await page.evaluate(() => window.__hyperion.cy.nodes().last().data('number')));
await time('click a node: its trial, curve and trace', async () => {
  await clickNode(page, last);
  await page.waitForFunction((n) => document.querySelector('#trace-title')?.textContent.startsWith(`Trial #${n} `), last);
});
await time('trials tab (sortable, paged)', async () => {
  await openTab(page, 'trials');
  await page.waitForSelector('#trials tbody tr');
});
await time('trials sorted by value', async () => {
  await page.click('#trials th[data-sort="value"]');
  await page.waitForFunction(() => document.querySelector('#trials th[data-sort="value"]').textContent.includes('▲'));
});
await time('curves tab (100 best trials)', async () => {
  await openTab(page, 'curves');
  await page.waitForSelector('#curves-chart canvas');
});
await time('analysis tab (best so far, importance, parallel, timeline)', async () => {
  await openTab(page, 'analysis');
  await page.waitForSelector('#timeline rect');
});
await time('decisions tab (newest 50)', async () => {
  await openTab(page, 'decisions');
  await page.waitForSelector('#decisions tbody tr');
});
console.log('| page or action in chromium | seconds |\n|---|---:|');
for (const [what, seconds] of rows) console.log(`| ${what} | ${seconds.toFixed(3)} |`);
await browser.close();
server.child.kill('SIGTERM');
cleanUp();
