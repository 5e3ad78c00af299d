/**
 * The built app in headless Debian Chromium (playwright-core) against a real `parley-node dev`
 * serving it: two people register, one finds the other and opens a chat, they chat both ways and
 * see typing and the read mark; then one goes offline while the other sends three messages, and
 * back online every message appears once, in order. Then the social features: two more people
 * befriend each other through the UI (a request with a note, accepted from the notifications),
 * see each other's presence dot go online (and offline after the grace period), one blocks the
 * other, whose send comes back refused; settings, sessions and account deletion. axe-core runs
 * on every screen. Screenshots go to web/artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newClient } from '../support/clients';
import { a11yViolations, ARTIFACTS, BrowserHarness, CHROMIUM, DIST, nav, PASSWORD, register, shownTexts } from '../support/browser';
import { DevNode, uniqueName } from '../support/node';

let node: DevNode;
const harness = new BrowserHarness();
const pageErrors = harness.pageErrors;
/** Shared by the tests, in order. */
const shared: { alice?: Page; bob?: Page; aliceName?: string } = {};

const openApp = () => harness.openApp(node.baseUrl);

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} is not built: run scripts/build-web`);
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  node = new DevNode({ webDir: DIST });
  await node.start();
  await harness.launch();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') await harness.captureFailure();
});

afterAll(async () => {
  await harness.close();
  await node?.dispose();
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
    await alice.locator('li.msg.mine', { hasText: 'Hi Bob!' }).getByText(/Sent|Delivered/).waitFor();

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

/** Shared by the social tests, in order. */
const social: { carol?: Page; dave?: Page; carolName?: string; daveName?: string } = {};

describe('social features in Chromium', () => {
  it('two people befriend each other through the UI and see each other online', async () => {
    const carolName = uniqueName('carol');
    const daveName = uniqueName('dave');
    const carol = await openApp();
    const dave = await openApp();
    Object.assign(social, { carol, dave, carolName, daveName });
    await register(carol, carolName, 'Carol');
    await register(dave, daveName, 'Dave');

    // Carol finds Dave on the Friends screen and sends a request with a note.
    await nav(carol, /^Friends/);
    await carol.getByRole('heading', { name: 'Friends', exact: true }).waitFor();
    expect(await a11yViolations(carol)).toEqual([]);
    await carol.getByLabel('Find people by username').fill(daveName);
    await carol.getByLabel('Note').fill('Hi Dave, it is Carol from the climbing gym');
    await carol.getByRole('button', { name: 'Add friend Dave' }).click();
    await carol.getByRole('status').filter({ hasText: 'Friend request sent to Dave.' }).waitFor();
    await carol.getByRole('list', { name: 'Requests you sent' }).getByText('Dave').waitFor();
    await carol.getByRole('button', { name: 'Cancel request to Dave' }).waitFor();
    expect(await a11yViolations(carol)).toEqual([]);

    // Dave's bell counts it; the notifications show the note and accept it.
    await dave.getByRole('button', { name: 'Notifications, 1 unseen' }).waitFor();
    await dave.getByRole('button', { name: 'Friends, 1 request' }).waitFor();
    await dave.getByRole('button', { name: /^Notifications/ }).click();
    await dave.getByText('Carol wants to be friends: “Hi Dave, it is Carol from the climbing gym”').waitFor();
    expect(await a11yViolations(dave)).toEqual([]);
    await dave.screenshot({ path: join(ARTIFACTS, 'notices-dave.png') });
    await dave.getByRole('button', { name: 'Accept Carol' }).click();
    await expect.poll(() => dave.getByRole('button', { name: 'Accept Carol' }).count()).toBe(0);
    // Opening the notifications marked them seen (on the server too).
    await dave.getByRole('button', { name: 'Back' }).click();
    await dave.getByRole('button', { name: 'Notifications', exact: true }).waitFor();
    await dave.getByRole('button', { name: 'Friends', exact: true }).waitFor();

    // Carol hears it (a notice) and sees Dave online on her Friends screen.
    await carol.getByRole('list', { name: 'Your friends' }).getByText('Dave').waitFor();
    await carol.locator('[data-friend] [data-presence="online"]').first().waitFor();
    await carol.getByRole('button', { name: 'Dave, online, profile' }).waitFor();
    expect(await carol.getByRole('button', { name: 'Cancel request to Dave' }).count()).toBe(0);
    expect(await a11yViolations(carol)).toEqual([]);
    await carol.screenshot({ path: join(ARTIFACTS, 'friends-carol.png') });
    await carol.getByRole('button', { name: 'Back' }).click();
    await carol.getByRole('button', { name: 'Notifications, 1 unseen' }).waitFor();

    // Dave opens the chat from his Friends screen: the header shows Carol online.
    await nav(dave, /^Friends/);
    await dave.getByRole('button', { name: 'Carol, online, profile' }).waitFor();
    await dave.getByRole('button', { name: 'Message Carol' }).click();
    await dave.getByRole('heading', { name: 'Carol' }).waitFor();
    await dave.locator('.presence-line[data-presence="online"]').getByText('Online').waitFor();
    await dave.getByLabel('Message', { exact: true }).fill('Hi Carol!');
    await dave.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(() => shownTexts(dave)).toEqual(['Hi Carol!']);

    // Carol's conversation list shows the dot on Dave's row, and the chat header says Online.
    const row = carol.getByRole('button', { name: /^Dave, 1 unread, online/ });
    await row.waitFor();
    await row.locator('.dot.online').waitFor();
    await carol.screenshot({ path: join(ARTIFACTS, 'list-presence-carol.png') });
    await row.click();
    await expect.poll(() => shownTexts(carol)).toEqual(['Hi Carol!']);
    await carol.locator('.presence-line[data-presence="online"]').getByText('Online').waitFor();
    expect(await a11yViolations(carol)).toEqual([]);

    // Dave's profile from the chat header.
    await carol.getByRole('button', { name: 'Dave, profile' }).click();
    await carol.getByRole('region', { name: 'Profile of Dave' }).waitFor();
    await carol.getByText('Friends', { exact: true }).waitFor();
    await carol.getByRole('button', { name: 'Remove friend' }).waitFor();
    expect(await a11yViolations(carol)).toEqual([]);
    await carol.getByRole('button', { name: 'Message' , exact: true }).click();
    await carol.getByRole('heading', { name: 'Dave' }).waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('shows a friend offline after the grace period and online again when they are back', async () => {
    const { carol, dave } = social as Required<typeof social>;
    const closed = Date.now();
    await dave.context().setOffline(true);
    await carol.locator('.presence-line[data-presence="offline"]').getByText('Last seen just now').waitFor({ timeout: 20_000 });
    console.log(`browser: offline shown ${Date.now() - closed} ms after the friend's page went offline`);
    await carol.getByRole('button', { name: 'Back to conversations' }).click();
    await carol.getByRole('button', { name: /^Dave, offline/ }).locator('.dot.offline').waitFor();
    await dave.context().setOffline(false);
    await carol.getByRole('button', { name: /^Dave, online/ }).locator('.dot.online').waitFor({ timeout: 20_000 });
    await carol.getByRole('button', { name: /^Dave/ }).click();
    await carol.locator('.presence-line[data-presence="online"]').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('one blocks the other: the blocked one’s send comes back refused, and the chat says so', async () => {
    const { carol, dave } = social as Required<typeof social>;
    // Carol is offline while Dave blocks her, so her app does not know yet when she sends.
    await carol.context().setOffline(true);
    await carol.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
    await dave.getByRole('button', { name: 'Block', exact: true }).click();
    await dave.getByRole('button', { name: 'Unblock', exact: true }).waitFor();
    await dave.getByText('You blocked Carol. Unblock them to message each other.').waitFor();
    expect(await dave.getByLabel('Message', { exact: true }).count()).toBe(0);
    expect(await a11yViolations(dave)).toEqual([]);
    await dave.screenshot({ path: join(ARTIFACTS, 'blocked-dave.png') });

    const box = carol.getByLabel('Message', { exact: true });
    await box.fill('Are you still there?');
    await carol.getByRole('button', { name: 'Send', exact: true }).click();
    await carol.locator('li[data-pending]').getByText('Sending…').waitFor();
    await carol.context().setOffline(false);
    // The resend is refused (a `reply` with `forbidden`): shown as such, not "Sending…" forever.
    await carol.locator('li[data-pending]').getByText('Not sent: You can’t message this person.').waitFor({ timeout: 20_000 });
    await carol.locator('[data-cannot]').getByText('You can’t message this person.').waitFor();
    await expect.poll(() => carol.getByLabel('Message', { exact: true }).count()).toBe(0);
    await expect.poll(() => carol.locator('.presence-line').count()).toBe(0);
    expect(await a11yViolations(carol)).toEqual([]);
    await carol.screenshot({ path: join(ARTIFACTS, 'refused-carol.png') });
    // After the reconnect her notifications were listed again: the ended friendship is there.
    await carol.getByRole('button', { name: 'Back to conversations' }).click();
    await carol.getByRole('button', { name: /^Notifications, \d+ unseen/ }).click();
    await carol.getByText('Dave is no longer your friend.').waitFor();
    expect(await a11yViolations(carol)).toEqual([]);
    await carol.getByRole('button', { name: 'Back' }).click();

    // Dave unblocks from Settings; no friendship comes back, but messages go through again.
    await nav(dave, /^Settings/);
    await dave.getByRole('button', { name: 'Unblock Carol' }).click();
    await expect.poll(() => dave.getByRole('button', { name: 'Unblock Carol' }).count()).toBe(0);
    await nav(dave, /^Carol/);
    await dave.getByRole('button', { name: 'Block', exact: true }).waitFor();
    await dave.getByLabel('Message', { exact: true }).fill('Sorry, wrong button');
    await dave.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(() => dave.locator('li[data-pending]').count()).toBe(0);
    await carol.getByRole('button', { name: /^Dave, 1 unread/ }).waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('edits the profile and settings, signs out another session, and deletes the account', async () => {
    const { carol, dave, daveName } = social as Required<typeof social>;
    // Another device of Dave's, to sign out from the sessions list.
    const { client: phone } = newClient(node);
    await phone.login({ username: daveName, password: PASSWORD, device_name: 'phone' });

    await nav(dave, /^Settings/);
    const name = dave.getByLabel('Display name');
    await expect.poll(() => name.inputValue()).toBe('Dave');
    await name.fill('Dave D.');
    await dave.getByLabel('Bio').fill('Climbs on Tuesdays.');
    await dave.getByLabel('Friends only').check();
    await dave.getByLabel('Show my online status to friends').uncheck();
    await dave.getByRole('button', { name: 'Save' }).click();
    await dave.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    const me = await phone.rest.users.me();
    expect(me).toMatchObject({ display_name: 'Dave D.', bio: 'Climbs on Tuesdays.', dm_policy: 'friends', show_presence: false });

    const sessions = dave.getByRole('list', { name: 'Sessions' });
    await sessions.getByText('This device').waitFor();
    await dave.getByRole('button', { name: /^Sign out phone/ }).waitFor();
    expect(await a11yViolations(dave)).toEqual([]);
    await dave.screenshot({ path: join(ARTIFACTS, 'settings-dave.png'), fullPage: true });
    await dave.getByRole('button', { name: /^Sign out phone/ }).click();
    await expect.poll(() => dave.getByRole('button', { name: /^Sign out phone/ }).count()).toBe(0);
    await expect(phone.rest.auth.refresh(phone.session!.credentials.refresh_token)).rejects.toMatchObject({ status: 401 });
    await phone.close();

    // Friends only: Carol (no longer a friend) cannot message him; her send says so.
    await nav(carol, /^Dave/);
    await carol.getByLabel('Message', { exact: true }).fill('Can I message you?');
    await carol.getByRole('button', { name: 'Send', exact: true }).click();
    await carol.locator('li[data-pending]', { hasText: 'Can I message you?' }).getByText('Not sent: You can’t message this person.').waitFor();
    await carol.locator('[data-cannot]').getByText('this user accepts direct messages from friends only').waitFor();
    expect(await a11yViolations(carol)).toEqual([]);

    // A wrong password is refused, then the account goes and Dave is back at the sign-in screen.
    await nav(dave, /^Settings/);
    await dave.getByRole('button', { name: 'Delete account…' }).click();
    await dave.getByLabel('Confirm with your password').fill('not my password');
    await dave.getByRole('button', { name: 'Delete my account' }).click();
    await dave.getByRole('alert').filter({ hasText: 'The password is wrong.' }).waitFor();
    expect(await a11yViolations(dave)).toEqual([]);
    await dave.getByLabel('Confirm with your password').fill(PASSWORD);
    await dave.getByRole('button', { name: 'Delete my account' }).click();
    await dave.getByRole('button', { name: 'Sign in' }).waitFor();
    await dave.getByText('Your account was deleted.').waitFor();

    // Carol sees a deleted user (after a reload the list comes from the server).
    await carol.reload();
    await carol.getByRole('button', { name: /^Deleted user/ }).click();
    await carol.getByText('This account was deleted. You can’t message it.').waitFor();
    expect(await a11yViolations(carol)).toEqual([]);
    await carol.screenshot({ path: join(ARTIFACTS, 'deleted-carol.png') });
    expect(pageErrors).toEqual([]);
  });
});
