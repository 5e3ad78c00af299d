/**
 * The built app in headless Debian Chromium (playwright-core) against a real `parley-node dev`
 * serving it: two people register, one finds the other and opens a chat, they chat both ways and
 * see typing and the read mark; then one goes offline while the other sends three messages, and
 * back online every message appears once, in order. Screenshots go to web/artifacts/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClient } from '../support/clients';
import { DevNode, uniqueName, WEB_DIR } from '../support/node';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DIST = join(WEB_DIR, 'dist');
const ARTIFACTS = join(WEB_DIR, 'artifacts');
const PASSWORD = 'correct horse battery';
const PHONE = { width: 390, height: 780 };

let node: DevNode;
let browser: Browser;
let profileDir: string;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];
/** Shared by the tests, in order. */
const shared: { alice?: Page; bob?: Page; aliceName?: string } = {};

async function openApp(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, hasTouch: true });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(m.text())) {
      pageErrors.push(`console: ${m.text()}`);
    }
  });
  await page.goto(node.baseUrl);
  return page;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical WCAG A/AA violations on the current screen. */
async function a11yViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(o: unknown): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

async function register(page: Page, username: string, displayName: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

/** The message texts shown in the open chat, in order. */
async function shownTexts(page: Page): Promise<string[]> {
  return page.getByRole('log', { name: 'Messages' }).locator('li .text').allTextContents();
}

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} is not built: run scripts/build-web`);
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  node = new DevNode({ webDir: DIST });
  await node.start();
  profileDir = mkdtempSync(join(tmpdir(), 'parley-chromium-'));
  browser = await chromium.launch({
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
    env: { ...process.env, HOME: profileDir, XDG_CONFIG_HOME: profileDir, XDG_CACHE_HOME: profileDir },
  });
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await node?.dispose();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

describe('chat web app in Chromium', () => {
  it('two people chat both ways, see typing and the read mark, and lose nothing offline', async () => {
    const aliceName = uniqueName('alice');
    const bobName = uniqueName('bob');
    const alice = await openApp();
    const bob = await openApp();
    Object.assign(shared, { alice, bob, aliceName });
    await alice.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await a11yViolations(alice)).toEqual([]);
    await register(alice, aliceName, 'Alice');
    await register(bob, bobName, 'Bob');

    // Alice finds Bob by username and opens a chat.
    await alice.getByRole('button', { name: 'New chat' }).click();
    await alice.getByLabel('Search users').fill(bobName.slice(0, 8));
    await alice.getByRole('button', { name: 'Chat with Bob' }).waitFor();
    expect(await a11yViolations(alice)).toEqual([]);
    await alice.getByRole('button', { name: 'Chat with Bob' }).click();
    await alice.getByRole('heading', { name: 'Bob' }).waitFor();
    const aliceBox = alice.getByLabel('Message', { exact: true });
    await aliceBox.fill('Hi Bob!');
    await alice.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(() => shownTexts(alice)).toEqual(['Hi Bob!']);
    await alice.locator('li.msg.mine', { hasText: 'Hi Bob!' }).getByText('Sent').waitFor();

    // Bob sees the new conversation with an unread badge, opens it: Alice sees "Read".
    const row = bob.getByRole('button', { name: /^Alice, 1 unread/ });
    await row.waitFor();
    await row.click();
    await expect.poll(() => shownTexts(bob)).toEqual(['Hi Bob!']);
    await alice.locator('li.msg.mine', { hasText: 'Hi Bob!' }).getByText('Read').waitFor();

    // Bob types: Alice sees it; then he answers.
    const bobBox = bob.getByLabel('Message', { exact: true });
    await bobBox.pressSequentially('Hey Al', { delay: 20 });
    await alice.getByRole('status').filter({ hasText: 'Bob is typing…' }).waitFor();
    await bobBox.pressSequentially('ice', { delay: 20 });
    await bobBox.press('Enter');
    await expect.poll(() => shownTexts(alice)).toEqual(['Hi Bob!', 'Hey Alice']);
    await expect.poll(() => shownTexts(bob)).toEqual(['Hi Bob!', 'Hey Alice']);
    // Bob's message ends his typing indicator.
    await expect.poll(() => alice.getByText('Bob is typing…').count()).toBe(0);

    // Bob goes offline; Alice sends three messages meanwhile.
    await bob.context().setOffline(true);
    await bob.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
    for (const t of ['one', 'two', 'three']) {
      await aliceBox.fill(t);
      await alice.getByRole('button', { name: 'Send', exact: true }).click();
    }
    await expect.poll(() => shownTexts(alice)).toEqual(['Hi Bob!', 'Hey Alice', 'one', 'two', 'three']);
    await expect.poll(() => alice.locator('li[data-pending]').count()).toBe(0);
    expect(await shownTexts(bob)).toEqual(['Hi Bob!', 'Hey Alice']);

    // Back online: each message once, in order, and Alice's last one gets read.
    await bob.context().setOffline(false);
    await expect
      .poll(() => shownTexts(bob), { timeout: 20_000 })
      .toEqual(['Hi Bob!', 'Hey Alice', 'one', 'two', 'three']);
    await expect.poll(() => bob.getByText('Reconnecting…').count()).toBe(0);
    await alice.locator('li.msg.mine', { hasText: 'three' }).getByText('Read').waitFor();
    // Seqs on screen are strictly increasing, no repeats.
    const seqs = (await bob.locator('li.msg[data-seq]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq')))));
    expect(seqs).toEqual([1, 2, 3, 4, 5]);

    // Positions persisted in IndexedDB by the SDK.
    const stored = await bob.evaluate(async () => {
      const s = (window as unknown as { parley: { rt: { flushPositions(): Promise<void>; store: { loadPositions(): Promise<Record<string, number>> } } } }).parley;
      await s.rt.flushPositions();
      return s.rt.store.loadPositions();
    });
    expect(Object.values(stored)).toEqual([5]);

    expect(await a11yViolations(alice)).toEqual([]);
    expect(await a11yViolations(bob)).toEqual([]);
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-alice.png') });
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-bob.png') });
    // The conversation list with the badge state after reading, on Alice's side.
    await alice.getByRole('button', { name: 'Back to conversations' }).click();
    await alice.getByRole('button', { name: /^Bob/ }).waitFor();
    await alice.screenshot({ path: join(ARTIFACTS, 'list-alice.png') });
    expect(await a11yViolations(alice)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('after a reload, resumes the session and loads older history on scroll up', async () => {
    const { alice, bob, aliceName } = shared as Required<typeof shared>;
    const conv = await bob.evaluate(() => (window as unknown as { parley: { view: { id: string } } }).parley.view.id);
    await bob.getByRole('button', { name: 'Back to conversations' }).click();
    // Sixty more messages from Alice, over REST from another of her devices.
    const { client } = newClient(node);
    await client.login({ username: aliceName, password: PASSWORD });
    const more = Array.from({ length: 60 }, (_, i) => `history ${i + 1}`);
    for (const text of more) await client.rest.conversations.sendMessage(conv, { client_msg_id: `h-${text}`, text });
    await client.close();
    // Counted live on Bob's list...
    await bob.getByRole('button', { name: /^Alice, 60 unread/ }).waitFor();
    // ...and by the server after a reload (session from localStorage, positions from IndexedDB).
    await bob.reload();
    const row = bob.getByRole('button', { name: /^Alice, 60 unread/ });
    await row.waitFor();
    await row.click();
    const all = ['Hi Bob!', 'Hey Alice', 'one', 'two', 'three', ...more];
    // The latest page first...
    await expect.poll(() => shownTexts(bob)).toEqual(all.slice(-50));
    // ...and the rest when scrolled to the top.
    await bob.locator('.messages').evaluate((el) => (el.scrollTop = 0));
    await expect.poll(() => shownTexts(bob)).toEqual(all);
    // Alice's web session got her other device's messages live.
    await alice.getByRole('button', { name: /^Bob/ }).getByText('You: history 60').waitFor();
    await bob.screenshot({ path: join(ARTIFACTS, 'history-bob.png') });
    expect(pageErrors).toEqual([]);
  });
});
