// End to end for the local dashboard (/_local/dashboard): scripts/test-e2e.sh
// runs this file against a stack started with a 2-second metrics period and
// a management API that fails 60% of its POSTs (-fault-post-error 0.6; the
// management client retries a 500, so about a third of the deliveries fail).
// The dashboard is opened, the chat page is loaded once (the page's hosting
// row counts it), then the load tool (GROUPCHAT_E2E_LOAD, built by the script)
// runs against the stack while the browser watches: the widgets fill with
// non-zero data, and the FailedDeliveries alarm goes from OK to ALARM under
// the injected fault, its threshold drawn on its graph, and back to OK once the
// load is over.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, launch } from './browser';

const here = dirname(fileURLToPath(import.meta.url));
const SCREENSHOT =
  process.env.GROUPCHAT_UPDATE_SCREENSHOT === '1'
    ? resolve(here, '../../docs/observability.png')
    : resolve(here, '../e2e-output/observability.png');
const LOAD = process.env.GROUPCHAT_E2E_LOAD ?? '';

let browser: Browser;
let page: Page;
let load: ChildProcess | undefined;
let loadDone: Promise<number | null> | undefined;

/** The state the dashboard's alarm table shows for an alarm. */
const alarmState = (id: string) => page.getAttribute(`#alarm-rows tr[data-alarm="${id}"]`, 'data-state');

/** The sum of the absolute values a widget draws (its data-total). */
async function total(title: string): Promise<number> {
  return Number(await page.getAttribute(`.widget[data-widget="${title}"]`, 'data-total'));
}

async function until(what: string, check: () => Promise<boolean>, timeout = 30_000): Promise<void> {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting until ${what}`);
}

beforeAll(async () => {
  if (!LOAD) throw new Error('GROUPCHAT_E2E_LOAD is not set: run scripts/test-e2e.sh, which builds the load tool');
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1, locale: 'en-GB' });
  page = await context.newPage();
  page.on('pageerror', (e) => {
    throw e;
  });
});

afterAll(async () => {
  load?.kill('SIGTERM');
  await browser?.close();
});

describe('the local dashboard', () => {
  it('shows the definition: every alarm, and the widgets in their rows', async () => {
    await page.goto(`${BASE}/_local/dashboard/`);
    await page.waitForSelector('#alarm-rows tr[data-alarm="FailedDeliveries"]');
    for (const id of ['LambdaErrors', 'LambdaDurationP99', 'ApiIntegrationErrors', 'FailedDeliveries', 'InternalErrors', 'Page5xxErrors']) {
      expect(await page.$(`#alarm-rows tr[data-alarm="${id}"]`), id).not.toBeNull();
    }
    for (const title of ['Connections and messages', 'Duration (ms)', 'Recipients and what became of them', 'Page requests']) {
      expect(await page.$(`.widget[data-widget="${title}"]`), title).not.toBeNull();
    }
    // Nothing has happened yet: missing data is not breaching.
    await until('FailedDeliveries is OK before the load', async () => (await alarmState('FailedDeliveries')) === 'OK');
  });

  it('fills with the load run and fires FailedDeliveries under the failing management API', async () => {
    // The chat page, once: what the page's hosting row counts.
    const chat = await browser.newPage();
    await chat.goto(`${BASE}/`);
    await chat.close();

    const wsURL = BASE.replace(/^http/, 'ws') + '/local';
    load = spawn(LOAD, ['-url', wsURL, '-clients', '20', '-room-size', '5', '-rate', '20', '-duration', '12s', '-drain', '3s', '-q'], {
      stdio: 'ignore',
    });
    loadDone = new Promise((r) => load!.on('exit', (code) => r(code)));

    await until('FailedDeliveries goes to ALARM', async () => (await alarmState('FailedDeliveries')) === 'ALARM', 40_000);
    for (const title of [
      'Connections and messages',
      'Invocations, errors, throttles',
      'Duration (ms)',
      'Actions accepted per route, internal errors, rate-limited frames',
      'Recipients and what became of them',
      'Connections latency (ms)',
      'Page requests',
    ]) {
      await until(`"${title}" shows data`, async () => (await total(title)) > 0, 10_000);
    }
    // The graph of the failed deliveries carries the alarm: its state, and its threshold as a line.
    const recipients = page.locator('.widget[data-widget="Recipients and what became of them"]');
    await expect(recipients.locator('.badges [data-alarm="FailedDeliveries"]').textContent()).resolves.toBe('FailedDeliveries: ALARM');
    await expect(recipients.locator('.u-legend').textContent()).resolves.toContain('FailedDeliveries threshold');
    // A healthy alarm stays OK meanwhile.
    expect(await alarmState('LambdaErrors')).toBe('OK');

    // The picture for docs/observability.md: a few periods into the run, the fault still on.
    await until('six periods are drawn', async () => {
      const points = await page.getAttribute('.widget[data-widget="Duration (ms)"]', 'data-points');
      return Number(points) >= 12; // p50 and p99
    });
    expect(await alarmState('FailedDeliveries')).toBe('ALARM');
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('returns FailedDeliveries to OK once the load is over', async () => {
    await loadDone;
    await until('FailedDeliveries is back to OK', async () => (await alarmState('FailedDeliveries')) === 'OK', 30_000);
  });
});
