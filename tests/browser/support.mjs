// Helpers shared by the dashboard's browser tests: running hyperion, serving the dashboard, driving chromium
// (Debian's, headless, through playwright-core from web/), screenshots.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
// playwright-core is a dependency of the front end (web/package.json).
const { chromium } = createRequire(path.join(ROOT, 'web', 'package.json'))('playwright-core');
export const BIN = process.env.HYPERION_BIN || path.join(ROOT, 'build', 'hyperion');
const ARTIFACTS = process.env.HYPERION_ARTIFACTS || path.join(ROOT, 'build', 'tests', 'browser', 'artifacts');
export const CHROMIUM = '/usr/bin/chromium';
export const INJECTED_NAME = '<img src=x onerror=alert(1)> "\'><script>alert(2)</script>';

export const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hyperion-browser-'));
const children = [];

export function writeConfig(name, replacements) {
  let text = fs.readFileSync(path.join(HERE, 'fixtures', name), 'utf8');
  for (const [key, value] of Object.entries(replacements)) text = text.replaceAll(key, value);
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

export function hyperion(...args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', cwd: tmp, timeout: 300000 });
  assert.equal(r.status, 0, `hyperion ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

export function json(...args) {
  return JSON.parse(hyperion(...args, '--json'));
}

export async function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts `hyperion ARGS...` and waits for the line naming the dashboard's URL.
export function startServing(args, pattern = /dashboard: (http\S+)/) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no dashboard URL from hyperion ${args.join(' ')}: ${out}`)), 30000);
    const look = (data) => {
      out += data;
      const m = out.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => out });
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => { clearTimeout(timer); if (!out.match(pattern)) reject(new Error(`hyperion exited ${code}: ${out}`)); });
  });
}

export function stop(child) {
  if (child.exitCode === null) child.kill('SIGTERM');
}

// A raw request, so that the Host header and the method are ours to choose.
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function launch() {
  assert.ok(fs.existsSync(BIN), `hyperion binary not found at ${BIN} (set HYPERION_BIN)`);
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-deps`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}

export function cleanUp() {
  for (const child of children) stop(child);
  fs.rmSync(tmp, { recursive: true, force: true });
}

export async function newPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  page.dialogs = [];
  page.on('dialog', async (dialog) => {
    page.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  return page;
}

export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

export async function openTab(page, name) {
  await page.click(`button.tab[data-tab="${name}"]`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

export async function waitForGraph(page) {
  await page.waitForFunction(() => window.__hyperion && window.__hyperion.cy && window.__hyperion.cy.nodes().length > 0);
}

// Clicks the graph node of trial `number` where the canvas draws it.
export async function clickNode(page, number) {
  const at = await page.evaluate((n) => {
    const node = window.__hyperion.cy.$(`#n${n}`);
    const p = node.renderedPosition();
    return { x: p.x, y: p.y };
  }, number);
  const box = await page.locator('#graph').boundingBox();
  await page.mouse.click(box.x + at.x, box.y + at.y);
}


// Text nodes that read "null" or "undefined": a value the page forgot to format.
export async function strayText(page) {
  return page.evaluate(() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const found = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (/^(null|undefined|NaN)$/.test(n.textContent.trim())) found.push(n.parentElement.outerHTML.slice(0, 120));
    }
    return found;
  });
}
