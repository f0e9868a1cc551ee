// How long pages take to reconnect once the server answers again after an
// outage (docs/frontend.md, "Reconnect"): starts the local stack, joins PAGES
// pages in headless Chromium, kills the stack's whole process group (a crash:
// the sockets just die), waits OUTAGE seconds, starts it again on the same
// port, and prints for each page the seconds from the stack answering again
// to the page being in the room again. Run by scripts/reconnect-bench.sh.
//   node scripts/outage.mjs LOCAL_BINARY [OUTAGE_SECONDS=49] [PAGES=8]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const [bin, outageArg = '49', pagesArg = '8'] = process.argv.slice(2);
if (!bin) throw new Error('usage: node scripts/outage.mjs LOCAL_BINARY [OUTAGE_SECONDS] [PAGES]');
const outageMs = Number(outageArg) * 1000;
const pages = Number(pagesArg);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const base = `http://127.0.0.1:${port}`;

function startStack() {
  // detached: a process group of its own, so that killing it kills dynalite too.
  // From the repository's root: the stack serves frontend/dist from there.
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  return spawn(bin, ['-auth', 'none'], { cwd, env: { ...process.env, PORT: String(port) }, detached: true, stdio: 'ignore' });
}
async function answers() {
  for (;;) {
    try {
      if ((await fetch(`${base}/config.json`)).ok) return Date.now();
    } catch {
      // not yet
    }
    await sleep(50);
  }
}

let stack = startStack();
await answers();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const ps = [];
  for (let i = 0; i < pages; i++) {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/`);
    await page.fill('#join-name', `p${i}`);
    await page.fill('#join-room', 'outage');
    await page.press('#join-room', 'Enter');
    await page.waitForSelector('#conn[data-state="ready"]');
    ps.push(page);
  }
  process.kill(-stack.pid, 'SIGKILL');
  const down = Date.now();
  await Promise.all(ps.map((p) => p.waitForSelector('#conn[data-state="waiting"]', { timeout: 10_000 })));
  await sleep(Math.max(0, down + outageMs - Date.now()));
  stack = startStack();
  const back = await answers();
  const secs = await Promise.all(
    ps.map(async (p) => {
      await p.waitForSelector('#conn[data-state="ready"]', { timeout: 120_000 });
      return (Date.now() - back) / 1000;
    }),
  );
  secs.sort((a, b) => a - b);
  const median = secs[Math.floor(secs.length / 2)];
  console.log(`outage ${(back - down) / 1000} s (stack down to answering again), ${pages} pages`);
  console.log(`seconds from the stack answering to each page ready: ${secs.map((s) => s.toFixed(1)).join(' ')}`);
  console.log(`median ${median.toFixed(1)} s, max ${secs[secs.length - 1].toFixed(1)} s`);
} finally {
  await browser.close();
  try {
    process.kill(-stack.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}
