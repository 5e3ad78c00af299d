/**
 * The social SDK against a real `parley-node dev`: profiles and settings, friend requests (with a
 * note, declined, cancelled, crossing requests that accept each other), notices as frames and
 * over REST with the seen marker, friends' presence (online at once, offline after the grace
 * period, hidden), blocks (sends refused over realtime and REST), `dm_policy: friends`, and the
 * account: sessions, password change, deletion.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '../../src/sdk/errors';
import type { Notice, NoticeKind, NoticeOf, UserId } from '../../src/sdk/types';
import { newClient, PASSWORD, record, registerAndConnect, type TestUser } from '../support/clients';
import { DevNode, sleep, waitFor } from '../support/node';

let node: DevNode;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

/** The first notice of `kind` (matching `pred`) that `u` received as a frame. */
function noticeOf<K extends NoticeKind>(u: TestUser, kind: K, pred: (n: NoticeOf<K>) => boolean = () => true) {
  return u.notices.find((n): n is Notice & NoticeOf<K> => n.kind === kind && pred(n as NoticeOf<K>));
}

async function waitNotice<K extends NoticeKind>(
  u: TestUser,
  kind: K,
  pred: (n: NoticeOf<K>) => boolean = () => true,
): Promise<NoticeOf<K>> {
  await waitFor(() => noticeOf(u, kind, pred) !== undefined, `a ${kind} notice`);
  return noticeOf(u, kind, pred)!;
}

async function rejection(p: Promise<unknown>): Promise<ParleyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ParleyError);
    return e as ParleyError;
  }
  throw new Error('expected a rejection');
}

/** Drops `u`'s realtime connection and opens a new one, recording into the same arrays. */
async function reconnect(u: TestUser): Promise<void> {
  await u.client.disconnect();
  u.rt = await u.client.connect();
  record(u, u.rt);
  await waitFor(() => u.rt.state === 'online', 'online again');
}

async function befriend(a: TestUser, b: TestUser): Promise<void> {
  const { request } = await a.client.rest.friends.request(b.user.id);
  await b.client.rest.friends.accept(request.id);
}

beforeAll(async () => {
  node = new DevNode();
  await node.start();
  alice = await registerAndConnect(node, 'alice');
  bob = await registerAndConnect(node, 'bob');
  carol = await registerAndConnect(node, 'carol');
  await waitFor(() => [alice, bob, carol].every((u) => u.rt.state === 'online'), 'all online');
});

afterAll(async () => {
  for (const u of [alice, bob, carol]) await u?.client.close();
  await node?.dispose();
});

describe('social SDK against a real node', () => {
  it('reads and edits the profile and settings', async () => {
    const me = await alice.client.rest.account.profile();
    expect(me).toMatchObject({ id: alice.user.id, dm_policy: 'everyone', show_presence: true });
    expect((await alice.client.rest.users.me()).dm_policy).toBe('everyone');
    const edited = await alice.client.rest.account.updateProfile({ display_name: 'Alice A.', bio: 'hello' });
    expect(edited).toMatchObject({ display_name: 'Alice A.', bio: 'hello', dm_policy: 'everyone' });
    // An empty bio clears it; absent fields stay.
    const cleared = await alice.client.rest.account.updateProfile({ bio: '' });
    expect(cleared).toMatchObject({ display_name: 'Alice A.', bio: null });
    const bad = await rejection(alice.client.rest.account.updateProfile({ display_name: '' }));
    expect([bad.status, bad.code]).toEqual([400, 'invalid_request']);
    // Strangers: no relationship, no presence.
    const seen = await bob.client.rest.users.get(alice.user.id);
    expect(seen).toMatchObject({ id: alice.user.id, display_name: 'Alice A.', relationship: 'none' });
    expect(seen.online ?? null).toBeNull();
    // Presence snapshots arrived on connect, empty: nobody has friends yet.
    expect(alice.rt.presence.online()).toEqual([]);
  });

  it('sends a friend request with a note; the recipient gets a notice frame and accepts; both see presence', async () => {
    const { request, accepted } = await alice.client.rest.friends.request(bob.user.id, '  hi Bob, it is Alice  ');
    expect(accepted).toBe(false);
    expect(request).toMatchObject({ status: 'pending', message: 'hi Bob, it is Alice' });
    expect(request.from.id).toBe(alice.user.id);
    expect(request.to.id).toBe(bob.user.id);

    const n = await waitNotice(bob, 'friend_request');
    expect(n.request).toMatchObject({ id: request.id, message: 'hi Bob, it is Alice' });
    expect(n.request.from.id).toBe(alice.user.id);
    expect((n as Notice).seen).toBe(false);

    // Both directions list it; asking twice is a conflict.
    expect((await bob.client.rest.friends.allRequests('incoming')).map((r) => r.id)).toEqual([request.id]);
    expect((await alice.client.rest.friends.allRequests('outgoing')).map((r) => r.id)).toEqual([request.id]);
    expect(await alice.client.rest.friends.allRequests('incoming')).toEqual([]);
    const dup = await rejection(alice.client.rest.friends.request(bob.user.id));
    expect([dup.status, dup.code]).toEqual([409, 'conflict']);
    expect((await alice.client.rest.users.get(bob.user.id)).relationship).toBe('request_sent');
    expect((await bob.client.rest.users.get(alice.user.id)).relationship).toBe('request_received');

    const t0 = Date.now();
    const done = await bob.client.rest.friends.accept(request.id);
    expect(done.status).toBe('accepted');
    expect(done.decided_at).not.toBeNull();
    const again = await rejection(bob.client.rest.friends.accept(request.id));
    expect([again.status, again.code]).toEqual([409, 'conflict']);

    // Both sides get friend_accepted with the other user, and see each other online.
    expect((await waitNotice(alice, 'friend_accepted')).user.id).toBe(bob.user.id);
    expect((await waitNotice(bob, 'friend_accepted')).user.id).toBe(alice.user.id);
    await waitFor(() => alice.rt.presence.isOnline(bob.user.id) && bob.rt.presence.isOnline(alice.user.id), 'presence online');
    console.log(`presence online after accepting: ${Date.now() - t0} ms`);
    expect(alice.presence.at(-1)).toMatchObject({ user_id: bob.user.id, online: true, known: true });

    const friends = await alice.client.rest.friends.listAll();
    expect(friends.map((f) => f.id)).toEqual([bob.user.id]);
    expect(friends[0]!.online).toBe(true);
    expect(friends[0]!.since).toBeTruthy();
    const profile = await alice.client.rest.users.get(bob.user.id);
    expect(profile).toMatchObject({ relationship: 'friend', online: true });
    const twice = await rejection(alice.client.rest.friends.request(bob.user.id));
    expect([twice.status, twice.code]).toEqual([409, 'conflict']);
  });

  it('counts unseen notices and marks them seen up to one (never back)', async () => {
    const page = await bob.client.rest.notices.list();
    expect(page.notices.map((n) => n.kind)).toEqual(['friend_accepted', 'friend_request']);
    expect(page.unseen_count).toBe(2);
    expect(page.notices.every((n) => !n.seen)).toBe(true);
    // The frames are the stored notices.
    expect(page.notices.map((n) => n.id).sort()).toEqual(bob.notices.map((n) => n.id).sort());

    await bob.client.rest.notices.markSeen(page.notices[1]!.id);
    const half = await bob.client.rest.notices.list();
    expect(half.unseen_count).toBe(1);
    expect(half.notices.map((n) => n.seen)).toEqual([false, true]);

    await bob.client.rest.notices.markSeen(page.notices[0]!.id);
    await bob.client.rest.notices.markSeen(page.notices[1]!.id); // older: the marker stays
    const all = await bob.client.rest.notices.list({ limit: 1 });
    expect(all.unseen_count).toBe(0);
    expect(all.notices).toHaveLength(1);
    expect(all.notices[0]!.seen).toBe(true);
    expect(all.next_cursor).not.toBeNull();
    const older = await bob.client.rest.notices.list({ limit: 1, cursor: all.next_cursor! });
    expect(older.notices.map((n) => n.id)).toEqual([page.notices[1]!.id]);
  });

  it('shows a friend offline after the grace period, online again when they reconnect, and not while hidden', async () => {
    // Bob's last connection closes: Alice hears it after the grace period, with last_seen_at.
    await bob.client.disconnect();
    const closedAt = Date.now();
    await waitFor(() => !alice.rt.presence.isOnline(bob.user.id), 'bob offline', 20_000);
    const graceMs = Date.now() - closedAt;
    console.log(`presence offline after the last connection closed: ${graceMs} ms`);
    expect(graceMs).toBeGreaterThan(3_000);
    expect(graceMs).toBeLessThan(12_000);
    const offline = alice.rt.presence.get(bob.user.id)!;
    expect(offline.last_seen_at).toBeTruthy();
    expect(Math.abs(Date.parse(offline.last_seen_at!) - closedAt)).toBeLessThan(2_000);
    const listed = (await alice.client.rest.friends.listAll())[0]!;
    expect(listed.online).toBe(false);
    expect(listed.last_seen_at).toBe(offline.last_seen_at);

    // He comes back: his own snapshot lists Alice, and Alice hears him within a moment.
    const t0 = Date.now();
    bob.rt = await bob.client.connect();
    record(bob, bob.rt);
    await waitFor(() => alice.rt.presence.isOnline(bob.user.id), 'bob online again');
    console.log(`presence online after reconnecting: ${Date.now() - t0} ms`);
    await waitFor(() => bob.rt.presence.isOnline(alice.user.id), "bob's snapshot has alice");

    // Hiding presence looks like going offline (no last_seen_at), showing it again like coming back.
    await bob.client.rest.account.updateProfile({ show_presence: false });
    await waitFor(() => !alice.rt.presence.isOnline(bob.user.id), 'bob hidden');
    const hidden = (await alice.client.rest.friends.listAll())[0]!;
    expect(hidden.online ?? null).toBeNull();
    // Bob still sees Alice.
    expect(bob.rt.presence.isOnline(alice.user.id)).toBe(true);
    await bob.client.rest.account.updateProfile({ show_presence: true });
    await waitFor(() => alice.rt.presence.isOnline(bob.user.id), 'bob shown again');

    // A reconnect within the grace period announces nothing.
    const before = alice.presence.filter((p) => p.user_id === bob.user.id).length;
    await reconnect(bob);
    await sleep(7_000);
    expect(alice.presence.filter((p) => p.user_id === bob.user.id).length).toBe(before);
    expect(alice.rt.presence.isOnline(bob.user.id)).toBe(true);
  });

  it('declines, cancels, and turns crossing requests into a friendship', async () => {
    const { request: r1 } = await carol.client.rest.friends.request(alice.user.id, 'hello?');
    await waitNotice(alice, 'friend_request', (n) => n.request.id === r1.id);
    const declined = await alice.client.rest.friends.decline(r1.id);
    expect(declined.status).toBe('declined');
    console.log(`decided_at of a declined request: ${declined.decided_at}`);
    const d = await waitNotice(carol, 'friend_declined', (n) => n.request_id === r1.id);
    expect(d.user_id).toBe(alice.user.id);

    const { request: r2 } = await carol.client.rest.friends.request(alice.user.id);
    expect(r2.message).toBeNull();
    await waitNotice(alice, 'friend_request', (n) => n.request.id === r2.id);
    // Only the sender cancels, only the recipient accepts: the other side is told so (403).
    expect((await rejection(alice.client.rest.friends.cancel(r2.id))).status).toBe(403);
    expect((await rejection(carol.client.rest.friends.accept(r2.id))).status).toBe(403);
    const cancelled = await carol.client.rest.friends.cancel(r2.id);
    expect(cancelled.status).toBe('cancelled');
    console.log(`decided_at of a cancelled request: ${cancelled.decided_at}`);
    const c = await waitNotice(alice, 'friend_request_cancelled', (n) => n.request_id === r2.id);
    expect(c.user_id).toBe(carol.user.id);
    expect(await alice.client.rest.friends.allRequests('incoming')).toEqual([]);

    // Alice asks, then Carol asks too: that accepts Alice's request (200, not a second request).
    const { request: r3 } = await alice.client.rest.friends.request(carol.user.id);
    const crossed = await carol.client.rest.friends.request(alice.user.id, 'me too');
    expect(crossed.accepted).toBe(true);
    expect(crossed.request).toMatchObject({ id: r3.id, status: 'accepted' });
    await waitNotice(alice, 'friend_accepted', (n) => n.user.id === carol.user.id);
    await waitNotice(carol, 'friend_accepted', (n) => n.user.id === alice.user.id);
    await waitFor(() => carol.rt.presence.isOnline(alice.user.id), 'carol sees alice online');
    expect((await alice.client.rest.friends.listAll()).map((f) => f.id).sort()).toEqual([bob.user.id, carol.user.id].sort());

    // Unfriending: the other side gets friend_removed and forgets the presence.
    await alice.client.rest.friends.remove(carol.user.id);
    const removed = await waitNotice(carol, 'friend_removed', (n) => n.user_id === alice.user.id);
    expect(removed.user_id).toBe(alice.user.id);
    expect(carol.rt.presence.get(alice.user.id)).toBeUndefined();
    expect(carol.presence.at(-1)).toMatchObject({ user_id: alice.user.id, known: false });
    expect((await rejection(alice.client.rest.friends.remove(carol.user.id))).status).toBe(404);
    // Asking oneself is invalid.
    expect((await rejection(alice.client.rest.friends.request(alice.user.id))).code).toBe('invalid_request');
  });

  it('blocks: the friendship ends, and direct sends, opening and requests are refused both ways', async () => {
    const conv = (await alice.client.rest.conversations.openDirect(bob.user.id)).id;
    await bob.rt.send(conv, 'before the block');

    await alice.client.rest.blocks.block(bob.user.id);
    await alice.client.rest.blocks.block(bob.user.id); // safe to repeat
    // Bob (the blocked one) hears it as an ended friendship; Alice (who blocked) gets no notice.
    await waitNotice(bob, 'friend_removed', (n) => n.user_id === alice.user.id);
    expect(bob.rt.presence.get(alice.user.id)).toBeUndefined();
    expect(await alice.client.rest.friends.listAll()).toEqual([]);
    expect((await alice.client.rest.blocks.listAll()).map((b) => b.id)).toEqual([bob.user.id]);
    expect((await alice.client.rest.blocks.listAll())[0]!.blocked_at).toBeTruthy();
    expect(await bob.client.rest.blocks.listAll()).toEqual([]);
    // Either way reads `blocked`.
    expect((await alice.client.rest.users.get(bob.user.id)).relationship).toBe('blocked');
    expect((await bob.client.rest.users.get(alice.user.id)).relationship).toBe('blocked');

    // Realtime send: a `reply` with `forbidden`, a rejected promise and a sendFailed event.
    let failed: ParleyError | undefined;
    const off = bob.rt.on('sendFailed', ({ error }) => (failed = error));
    const refused = await rejection(bob.rt.send(conv, 'after the block'));
    off();
    expect(refused.code).toBe('forbidden');
    expect(failed?.code).toBe('forbidden');
    expect(bob.rt.outbox()).toEqual([]);
    // The blocker cannot message either.
    expect((await rejection(alice.rt.send(conv, 'from the blocker'))).code).toBe('forbidden');
    // REST: sending, opening the conversation and friend requests, both ways.
    const rest = await rejection(bob.client.rest.conversations.sendMessage(conv, { client_msg_id: `b-${Date.now()}`, text: 'x' }));
    expect([rest.status, rest.code]).toEqual([403, 'forbidden']);
    expect((await rejection(bob.client.rest.conversations.openDirect(alice.user.id))).status).toBe(403);
    expect((await rejection(alice.client.rest.conversations.openDirect(bob.user.id))).status).toBe(403);
    expect((await rejection(bob.client.rest.friends.request(alice.user.id))).status).toBe(403);
    expect((await rejection(alice.client.rest.friends.request(bob.user.id))).status).toBe(403);
    // Bob no longer finds Alice; Alice still finds Bob.
    expect((await bob.client.rest.users.search(alice.user.username)).users).toEqual([]);
    expect((await alice.client.rest.users.search(bob.user.username)).users.map((u) => u.id)).toEqual([bob.user.id]);

    // Unblocking lets messages through again, but brings no friendship back.
    await alice.client.rest.blocks.unblock(bob.user.id);
    await alice.client.rest.blocks.unblock(bob.user.id);
    expect(await alice.client.rest.blocks.listAll()).toEqual([]);
    const ok = await bob.rt.send(conv, 'after the unblock');
    expect(ok.kind).toBe('message');
    expect((await alice.client.rest.users.get(bob.user.id)).relationship).toBe('none');
    expect(await alice.client.rest.friends.listAll()).toEqual([]);
  });

  it('refuses direct messages from non-friends to a friends-only user', async () => {
    const conv = (await bob.client.rest.conversations.openDirect(carol.user.id)).id;
    await bob.rt.send(conv, 'hi carol');
    expect((await carol.client.rest.account.updateProfile({ dm_policy: 'friends' })).dm_policy).toBe('friends');
    const refused = await rejection(bob.rt.send(conv, 'still there?'));
    expect(refused.code).toBe('forbidden');
    console.log(`friends-only refusal over realtime: ${refused.message}`);
    expect((await rejection(alice.client.rest.conversations.openDirect(carol.user.id))).status).toBe(403);
    // Friends may.
    await befriend(bob, carol);
    expect((await bob.rt.send(conv, 'friends now')).kind).toBe('message');
    await carol.client.rest.account.updateProfile({ dm_policy: 'everyone' });
  });

  it('lists and signs out sessions, changes the password, and deletes the account', async () => {
    // A second device of Carol's.
    const { client: phone } = newClient(node);
    await phone.login({ username: carol.user.username, password: PASSWORD });
    const phoneRt = await phone.connect();
    let phoneClosed: ParleyError | undefined;
    phoneRt.on('closed', (e) => (phoneClosed = e));
    await waitFor(() => phoneRt.state === 'online', 'phone online');
    // Connections are recorded in batches (~0.2 s): the phone's transport shows up shortly.
    let sessions = await carol.client.rest.account.allSessions();
    const t0 = Date.now();
    while (sessions.some((s) => s.last_transport === null) && Date.now() - t0 < 5_000) {
      await sleep(100);
      sessions = await carol.client.rest.account.allSessions();
    }
    console.log(`last_transport of a just-connected session recorded after ${Date.now() - t0} ms`);
    expect(sessions).toHaveLength(2);
    const current = sessions.find((s) => s.current)!;
    expect(current.id).toBe(carol.client.session!.credentials.session_id);
    const other = sessions.find((s) => !s.current)!;
    expect(other.id).toBe(phone.session!.credentials.session_id);
    expect(other.last_transport).toBe('ws');
    await carol.client.rest.account.revokeSession(other.id);
    await waitFor(() => phoneRt.state === 'closed', 'phone signed out');
    expect(phoneClosed?.code).toBe('session_revoked');
    expect((await carol.client.rest.account.allSessions()).map((s) => s.id)).toEqual([current.id]);
    expect((await rejection(carol.client.rest.account.revokeSession(other.id))).status).toBe(404);
    await phone.close();

    // A password change signs out the other sessions, not this one.
    const { client: tablet } = newClient(node);
    await tablet.login({ username: carol.user.username, password: PASSWORD });
    const tabletRt = await tablet.connect();
    await waitFor(() => tabletRt.state === 'online', 'tablet online');
    const wrong = await rejection(carol.client.rest.account.changePassword('not it', 'a new password'));
    expect([wrong.status, wrong.code]).toEqual([403, 'forbidden']);
    const short = await rejection(carol.client.rest.account.changePassword(PASSWORD, 'short'));
    expect(short.code).toBe('invalid_request');
    await carol.client.rest.account.changePassword(PASSWORD, 'a new password');
    await waitFor(() => tabletRt.state === 'closed', 'tablet signed out');
    expect(carol.rt.state).toBe('online');
    // This session keeps working, refresh included.
    const fresh = await carol.client.session!.refresh(carol.client.session!.credentials.access_token);
    expect(fresh).toBeTruthy();
    expect((await carol.client.rest.users.me()).id).toBe(carol.user.id);
    await expect(carol.client.rest.auth.login({ username: carol.user.username, password: PASSWORD })).rejects.toMatchObject({ status: 401 });
    await tablet.close();

    // Deleting the account: a wrong password is refused; then the friend hears friend_removed,
    // the socket closes, and others see a deleted user.
    expect((await rejection(carol.client.rest.account.deleteAccount(PASSWORD))).status).toBe(403);
    let carolClosed: ParleyError | undefined;
    carol.rt.on('closed', (e) => (carolClosed = e));
    const dm = (await bob.client.rest.conversations.listAll()).find((c) => c.peer?.id === carol.user.id)!;
    await carol.client.rest.account.deleteAccount('a new password');
    await waitNotice(bob, 'friend_removed', (n) => n.user_id === carol.user.id);
    await waitFor(() => carol.rt.state === 'closed', "carol's socket closed");
    expect(carolClosed?.code).toBe('session_revoked');
    const gone = await bob.client.rest.users.get(carol.user.id);
    expect(gone).toMatchObject({ deleted: true, username: '', display_name: 'Deleted user', relationship: 'none' });
    const summary = (await bob.client.rest.conversations.listAll()).find((c) => c.id === dm.id)!;
    expect(summary.peer).toMatchObject({ id: carol.user.id, deleted: true, display_name: 'Deleted user' });
    expect((await rejection(bob.rt.send(dm.id, 'are you there?'))).code).toBe('forbidden');
    expect((await rejection(bob.client.rest.friends.request(carol.user.id as UserId))).status).toBeGreaterThanOrEqual(400);
    expect((await bob.client.rest.users.search(carol.user.username)).users).toEqual([]);
  });
});
