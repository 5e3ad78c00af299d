/**
 * The scenario, in headless Chromium against two real nodes that meet only through
 * Postgres: Ann's browser talks to the dev node, Ben's to a second `parley-node serve`. They
 * register, befriend each other, chat both ways, reply, edit, react, see typing and the read
 * mark; Ann uploads an image and Ben sees its thumbnail; Ann creates a group with Ben, Cat joins
 * it by invite link and mentions Ann (autocomplete), Ann makes Cat an admin, Ben mutes it; Ann
 * pins it and finds a message by search. Then Ben's context goes offline while Ann sends, and
 * back online every message appears once, in order. axe-core runs on each new screen; the chat
 * view's screenshot goes to web/artifacts/chat.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { a11yViolations, ARTIFACTS, BrowserHarness, CHROMIUM, DIST, nav, PASSWORD, register, shownTexts } from '../support/browser';
import { DevNode, PeerNode, uniqueName } from '../support/node';

let nodeA: DevNode;
let nodeB: PeerNode;
const harness = new BrowserHarness();

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} is not built: run scripts/build-web`);
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  nodeA = new DevNode({ webDir: DIST });
  await nodeA.start();
  nodeB = new PeerNode(nodeA, { webDir: DIST, nodeId: 'node-b' });
  await nodeB.start();
  await harness.launch();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') await harness.captureFailure();
});

afterAll(async () => {
  await harness.close();
  await nodeB?.stop();
  await nodeA?.dispose();
});

/** A PNG drawn by the page's canvas (a gradient, so it is not trivially small). */
async function pngFrom(page: Page, w: number, h: number): Promise<Buffer> {
  const b64 = await page.evaluate(
    ([w, h]) => {
      const c = document.createElement('canvas');
      c.width = w!;
      c.height = h!;
      const g = c.getContext('2d')!;
      const grad = g.createLinearGradient(0, 0, w!, h!);
      grad.addColorStop(0, '#1f5bd8');
      grad.addColorStop(1, '#e0a400');
      g.fillStyle = grad;
      g.fillRect(0, 0, w!, h!);
      g.fillStyle = '#fff';
      g.font = '120px sans-serif';
      g.fillText('Parley', 60, h! / 2);
      return c.toDataURL('image/png').split(',')[1]!;
    },
    [w, h],
  );
  return Buffer.from(b64, 'base64');
}

/** The message whose own text is exactly `text` (not one quoting it). */
function messageRow(page: Page, text: string) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.getByRole('log', { name: 'Messages' }).locator('li.msg').filter({ has: page.locator('p.text', { hasText: exact }) });
}

async function openMenu(page: Page, text: string): Promise<void> {
  await messageRow(page, text).getByRole('button', { name: /^Actions for/ }).click();
  await page.getByRole('menu', { name: 'Message actions' }).waitFor();
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}

describe('two people on two nodes, in Chromium', () => {
  it('befriend, chat, reply, edit, react, share an image, make a group, and lose nothing offline', async () => {
    const annName = uniqueName('ann');
    const benName = uniqueName('ben');
    const catName = uniqueName('cat');
    const ann = await harness.openApp(nodeA.baseUrl);
    const ben = await harness.openApp(nodeB.baseUrl);
    await register(ann, annName, 'Ann');
    await register(ben, benName, 'Ben');

    // Friends across nodes: Ann asks, Ben accepts (the notice crosses over Postgres).
    await nav(ann, /^Friends/);
    await ann.getByLabel('Find people by username').fill(benName);
    await ann.getByRole('button', { name: 'Add friend Ben' }).click();
    await ann.getByRole('status').filter({ hasText: 'Friend request sent to Ben.' }).waitFor();
    await ben.getByRole('button', { name: 'Friends, 1 request' }).waitFor();
    await nav(ben, /^Friends/);
    await ben.getByRole('button', { name: 'Accept Ann' }).click();
    await ann.getByRole('list', { name: 'Your friends' }).getByText('Ben').waitFor();

    // Ann opens the chat from her friends list and says hello; Ben reads it.
    await ann.getByRole('button', { name: 'Message Ben' }).click();
    await ann.getByRole('heading', { name: 'Ben' }).waitFor();
    await send(ann, 'Hello Ben');
    await messageRow(ann, 'Hello Ben').getByText(/Sent|Delivered/).waitFor();
    await nav(ben, /^Ann, 1 unread/);
    await expect.poll(() => shownTexts(ben)).toEqual(['Hello Ben']);
    await messageRow(ann, 'Hello Ben').getByText('Read').waitFor();

    // Ben types (Ann sees it), then replies to her message.
    await ben.getByLabel('Message', { exact: true }).pressSequentially('Hi', { delay: 30 });
    await ann.getByRole('status').filter({ hasText: 'Ben is typing…' }).waitFor();
    await ben.getByLabel('Message', { exact: true }).fill('');
    await openMenu(ben, 'Hello Ben');
    expect(await a11yViolations(ben)).toEqual([]);
    await ben.getByRole('menuitem', { name: 'Reply' }).click();
    await ben.getByRole('status').filter({ hasText: 'Replying to Ann' }).waitFor();
    await send(ben, 'Hi Ann, good to see you');
    const reply = messageRow(ann, 'Hi Ann, good to see you');
    await reply.locator('blockquote', { hasText: 'Hello Ben' }).waitFor();
    await expect.poll(() => ann.getByText('Ben is typing…').count()).toBe(0);

    // Ann edits her message; Ben sees the new text marked edited.
    await openMenu(ann, 'Hello Ben');
    await ann.getByRole('menuitem', { name: 'Edit' }).click();
    await ann.getByRole('status').filter({ hasText: 'Editing message' }).waitFor();
    await ann.getByLabel('Message', { exact: true }).fill('Hello Ben, welcome!');
    await ann.getByRole('button', { name: 'Save', exact: true }).click();
    await messageRow(ben, 'Hello Ben, welcome!').getByText('edited').waitFor();
    // The quote in Ben's reply follows the edit too.
    await messageRow(ben, 'Hi Ann, good to see you').locator('blockquote', { hasText: 'welcome' }).waitFor();

    // Ben reacts; Ann sees the count, adds hers, and takes it back.
    await openMenu(ben, 'Hello Ben, welcome!');
    await ben.getByRole('menuitem', { name: 'React 👍' }).click();
    const annThumbs = messageRow(ann, 'Hello Ben, welcome!').getByRole('button', { name: '👍 1' });
    await annThumbs.waitFor();
    await annThumbs.click();
    await messageRow(ben, 'Hello Ben, welcome!').getByRole('button', { name: '👍 2' }).waitFor();
    await messageRow(ann, 'Hello Ben, welcome!').getByRole('button', { name: '👍 2' }).click();
    await messageRow(ben, 'Hello Ben, welcome!').getByRole('button', { name: '👍 1' }).waitFor();

    // Ann shares a photo: a progress bar while it uploads, Ben gets its thumbnail inline.
    await ann.evaluate(() => {
      const w = window as unknown as { sawProgress: boolean };
      w.sawProgress = false;
      new MutationObserver(() => {
        if (document.querySelector('progress')) w.sawProgress = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    const png = await pngFrom(ann, 1600, 1200);
    await ann.getByLabel('Attach files').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png });
    await ann.getByRole('list', { name: 'Attachments' }).getByText('sunset.png').waitFor();
    await send(ann, 'Look at this');
    await messageRow(ann, 'Look at this').getByText(/Sent|Delivered|Read/).waitFor();
    expect(await ann.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress)).toBe(true);
    const img = messageRow(ben, 'Look at this').locator('img[alt="sunset.png"]');
    await img.waitFor();
    await expect
      .poll(() => img.evaluate((el: HTMLImageElement) => ({ ok: el.complete && el.naturalWidth > 0, w: el.naturalWidth, src: el.src })), {
        timeout: 20_000,
      })
      .toMatchObject({ ok: true, w: 320 });
    expect(await img.getAttribute('src')).toContain('thumbs');
    expect(await a11yViolations(ben)).toEqual([]);
    await ben.screenshot({ path: join(ARTIFACTS, 'chat.png') });

    // A group: Ann creates it with Ben, and makes an invite link.
    await nav(ann, /^New group/);
    expect(await a11yViolations(ann)).toEqual([]);
    await ann.getByLabel('Group name').fill('Weekend trip');
    await ann.getByRole('group', { name: 'Members' }).getByLabel('Ben').check();
    await ann.getByRole('button', { name: 'Create group' }).click();
    await ann.getByRole('heading', { name: 'Weekend trip' }).waitFor();
    await ann.getByRole('button', { name: 'Conversation details' }).click();
    await ann.getByRole('button', { name: 'Create invite link' }).click();
    const link = await ann.getByLabel('Invite link', { exact: true }).first().inputValue();
    expect(link).toContain('#/join/');
    expect(await a11yViolations(ann)).toEqual([]);

    // Cat (new, on node A) opens the link, signs up, and is in.
    const cat = await harness.openApp(link);
    await cat.getByLabel('Username').fill(catName);
    await cat.getByLabel('Password').fill(PASSWORD);
    await cat.getByLabel('Display name').fill('Cat');
    await cat.getByRole('button', { name: 'Register' }).click();
    await cat.getByRole('heading', { name: 'Weekend trip' }).waitFor();
    // Cat mentions Ann by picking her from the suggestions.
    const catBox = cat.getByLabel('Message', { exact: true });
    await catBox.pressSequentially('Hi all, @An', { delay: 20 });
    await cat.getByRole('listbox', { name: 'Mention suggestions' }).getByRole('option', { name: '@Ann' }).click();
    await catBox.pressSequentially('see you Saturday');
    await catBox.press('Enter');
    await messageRow(cat, 'Hi all, @Ann see you Saturday').getByText(/Sent|Delivered|Read/).waitFor();
    expect(await catBox.inputValue()).toBe('');

    // Ann's list counts the mention; Ben's gets the message on the other node.
    await nav(ann, /^Weekend trip, 1 unread, 1 mention/);
    await messageRow(ann, 'Hi all, @Ann see you Saturday').waitFor();
    await nav(ben, /^Weekend trip/);
    await messageRow(ben, 'Hi all, @Ann see you Saturday').waitFor();

    // Roles: Ann makes Cat an admin; everyone's member list says so.
    await ann.getByRole('button', { name: 'Conversation details' }).click();
    await ann.getByLabel('Role of Cat').selectOption('admin');
    await ann.getByRole('list', { name: 'Members' }).locator('[data-member]', { hasText: 'Cat' }).locator('.tag', { hasText: 'admin' }).waitFor();
    // Admins mute members: Cat may not post for an hour, then Ann lifts it.
    await ann.getByRole('button', { name: 'Mute Cat' }).click();
    await ann.getByRole('list', { name: 'Members' }).locator('[data-member]', { hasText: 'Cat' }).locator('.tag', { hasText: 'admin · muted' }).waitFor();
    await ann.getByRole('button', { name: 'Unmute Cat' }).click();
    await ann.getByRole('button', { name: 'Mute Cat' }).waitFor();
    // Ann pins the group; Ben mutes it.
    await ann.getByLabel('Pinned').check();
    await ben.getByRole('button', { name: 'Conversation details' }).click();
    await ben.getByRole('list', { name: 'Members' }).locator('[data-member]', { hasText: 'Cat' }).locator('.tag', { hasText: 'admin' }).waitFor();
    await ben.getByLabel('Mute notifications').selectOption({ label: 'Mute for 1 hour' });
    await ben.getByRole('option', { name: /^Muted until/ }).waitFor({ state: 'attached' });
    expect(await a11yViolations(ben)).toEqual([]);
    await nav(ben, /^Weekend trip.*muted/);
    await nav(ann, /^Weekend trip, pinned/);
    // Pinned first in Ann's list.
    await ann.getByRole('button', { name: 'Back to conversations' }).click();
    const rows = await ann.getByRole('list', { name: 'Conversation list' }).getByRole('button').allInnerTexts();
    expect(rows[0]).toContain('Weekend trip');

    // Search finds the edited message.
    await nav(ann, /^Search/);
    await ann.getByLabel('Search messages').fill('welcome');
    const hit = ann.getByRole('list', { name: 'Search results' }).getByRole('button', { name: /^Ben: .*welcome/ });
    await hit.waitFor();
    expect(await a11yViolations(ann)).toEqual([]);
    await hit.click();
    await ann.getByRole('heading', { name: 'Ben' }).waitFor();

    // Ben goes offline on the direct chat while Ann sends; back online, each once, in order.
    await nav(ben, /^Ann/);
    const before = await shownTexts(ben);
    await ben.context().setOffline(true);
    await ben.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
    const offline = ['while you were away 1', 'while you were away 2', 'while you were away 3'];
    for (const t of offline) await send(ann, t);
    await expect.poll(() => ann.locator('li[data-pending]').count()).toBe(0);
    await ben.context().setOffline(false);
    await expect.poll(() => shownTexts(ben), { timeout: 20_000 }).toEqual([...before, ...offline]);
    await expect.poll(() => ben.getByText('Reconnecting…').count()).toBe(0);
    const seqs = await ben.locator('li.msg[data-seq]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    await messageRow(ann, 'while you were away 3').getByText('Read').waitFor();
    await ben.screenshot({ path: join(ARTIFACTS, 'chat-after-offline.png') });

    expect(harness.pageErrors).toEqual([]);
  });
});
