/**
 * Headless Debian Chromium (playwright-core) for the browser tests: launching it, a phone-sized
 * context per person with page errors collected, axe-core, and the app's common steps.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { WEB_DIR } from './node';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const DIST = join(WEB_DIR, 'dist');
export const ARTIFACTS = join(WEB_DIR, 'artifacts');
export const PASSWORD = 'correct horse battery';
export const PHONE = { width: 390, height: 780 };

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export class BrowserHarness {
  browser!: Browser;
  readonly contexts: BrowserContext[] = [];
  /** Uncaught errors and console errors of every page (network noise aside). */
  readonly pageErrors: string[] = [];
  private profileDir = '';

  async launch(): Promise<void> {
    this.profileDir = mkdtempSync(join(tmpdir(), 'parley-chromium-'));
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
      env: { ...process.env, HOME: this.profileDir, XDG_CONFIG_HOME: this.profileDir, XDG_CACHE_HOME: this.profileDir },
    });
  }

  /** A new person: their own context (storage, offline switch), phone-sized, at `url`. */
  async openApp(url: string): Promise<Page> {
    const ctx = await this.browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, hasTouch: true });
    this.contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => this.pageErrors.push(`${e.name}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(m.text())) {
        this.pageErrors.push(`console: ${m.text()}`);
      }
    });
    await page.goto(url);
    return page;
  }

  /** Every open page's screenshot and message texts, after a failure: `artifacts/failed-<n>.png`. */
  async captureFailure(): Promise<void> {
    let n = 0;
    for (const ctx of this.contexts) {
      for (const page of ctx.pages()) {
        n++;
        await page.screenshot({ path: join(ARTIFACTS, `failed-${n}.png`) }).catch(() => {});
        const texts = await page.locator('li.msg').allInnerTexts().catch(() => []);
        const rows = await page.locator('button.conv').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label'))).catch(() => []);
        console.error(`page ${n} (${page.url()}): messages ${JSON.stringify(texts)}, conversations ${JSON.stringify(rows)}`);
      }
    }
  }

  async close(): Promise<void> {
    for (const c of this.contexts) await c.close().catch(() => {});
    await this.browser?.close().catch(() => {});
    if (this.profileDir) rmSync(this.profileDir, { recursive: true, force: true });
  }
}

/** axe-core's serious and critical WCAG A/AA violations on the current screen. */
export async function a11yViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(o: unknown): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

export async function register(page: Page, username: string, displayName: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

/** The message texts shown in the open chat, in order. */
export async function shownTexts(page: Page): Promise<string[]> {
  return page.getByRole('log', { name: 'Messages' }).locator('li .text').allTextContents();
}

/** Clicks a list-header button from wherever the page is (back to the list first on phones). */
export async function nav(page: Page, name: RegExp): Promise<void> {
  const back = page.getByRole('button', { name: /^Back/ });
  if (await back.first().isVisible()) await back.first().click();
  await page.getByRole('button', { name }).click();
}
