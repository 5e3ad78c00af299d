/**
 * The SDK against a real `parley-node dev` (its own Postgres, a temp data dir): two users DM both
 * ways over realtime, an idempotent retry is delivered once, and a node killed with SIGKILL and
 * restarted on the same data dir loses and duplicates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '../../src/sdk/errors';
import type { ConversationId, Event, MessageEvent } from '../../src/sdk/types';
import { assertExactlyOnceInOrder, newClient, PASSWORD, registerAndConnect, texts, type TestUser } from '../support/clients';
import { DevNode, sleep, waitFor } from '../support/node';

let node: DevNode;
let alice: TestUser;
let bob: TestUser;
let conv: ConversationId;

beforeAll(async () => {
  node = new DevNode();
  await node.start();
  alice = await registerAndConnect(node, 'alice');
  bob = await registerAndConnect(node, 'bob');
  await waitFor(() => alice.rt.state === 'online' && bob.rt.state === 'online', 'both online');
});

afterAll(async () => {
  await alice?.client.close();
  await bob?.client.close();
  await node?.dispose();
});

describe('SDK against a real node', () => {
  it('finds the other user and opens one direct conversation', async () => {
    const found = await alice.client.rest.users.search(bob.user.username.slice(0, 6));
    expect(found.users.map((u) => u.id)).toContain(bob.user.id);
    const a = await alice.client.rest.conversations.openDirect(bob.user.id);
    const b = await bob.client.rest.conversations.openDirect(alice.user.id);
    expect(a.id).toBe(b.id);
    expect(a.member_ids.sort()).toEqual([alice.user.id, bob.user.id].sort());
    conv = a.id;
    const me = await bob.client.rest.users.me();
    expect(me.id).toBe(bob.user.id);
  });

  it('DMs both ways over realtime, with typing and read receipts', async () => {
    const sent = await alice.rt.send(conv, 'hi bob');
    expect(sent.kind).toBe('message');
    expect(sent.seq).toBe(1);
    await waitFor(() => texts(bob.events, conv).includes('hi bob'), 'bob receives hi bob');

    bob.rt.typing(conv);
    await waitFor(() => alice.typing.some((t) => t.conversation_id === conv && t.user_id === bob.user.id), 'alice sees bob typing');

    const reply = await bob.rt.send(conv, { text: 'hello alice' });
    expect(reply.seq).toBe(2);
    await waitFor(() => texts(alice.events, conv).includes('hello alice'), 'alice receives the reply');
    await waitFor(() => texts(bob.events, conv).includes('hello alice'), 'bob receives his own reply');

    // Both sides see both messages, once each, in order (a sender's own event arrives too).
    expect(texts(alice.events, conv)).toEqual(['hi bob', 'hello alice']);
    expect(texts(bob.events, conv)).toEqual(['hi bob', 'hello alice']);

    // Sending moves the sender's own read position; a read receipt for alice's next message
    // reaches alice as a `read` frame.
    const third = await alice.rt.send(conv, 'are you there?');
    await waitFor(() => texts(bob.events, conv).includes('are you there?'), 'bob receives the third message');
    bob.rt.read(conv, third.seq);
    await waitFor(
      () => alice.reads.some((r) => r.conversation_id === conv && r.user_id === bob.user.id && r.seq === third.seq),
      "alice gets bob's read receipt",
    );
    const list = await bob.client.rest.conversations.list();
    const summary = list.conversations.find((c) => c.id === conv)!;
    expect(summary.read_seq).toBe(3);
    expect(summary.unread_count).toBe(0);
    expect(summary.peer?.id).toBe(alice.user.id);
  });

  it('delivers an idempotent retry once: same client_msg_id over realtime, again, and over REST', async () => {
    const client_msg_id = `retry-${Date.now()}`;
    const [a, b] = await Promise.all([
      alice.rt.send(conv, { client_msg_id, text: 'only once' }),
      alice.rt.send(conv, { client_msg_id, text: 'only once' }),
    ]);
    const c = await alice.rt.send(conv, { client_msg_id, text: 'only once' });
    const d = await alice.client.rest.conversations.sendMessage(conv, { client_msg_id, text: 'only once' });
    expect(new Set([a.id, b.id, c.id, d.id]).size).toBe(1);

    // A send whose reply is lost (the socket drops right after writing it) is re-sent on the
    // next connection with the same id, and still stored once.
    const lost = alice.rt.send(conv, 'reply lost');
    alice.rt.reconnectNow();
    const stored = await lost;
    const marker = await alice.rt.send(conv, 'after the retries');
    await waitFor(() => texts(bob.events, conv).includes('after the retries'), 'bob receives the marker');

    const page = await bob.client.rest.conversations.events(conv, { after_seq: 0, limit: 200 });
    const msgs = page.events.filter((e): e is MessageEvent => e.kind === 'message');
    expect(msgs.filter((m) => m.client_msg_id === client_msg_id)).toHaveLength(1);
    expect(msgs.filter((m) => m.text === 'reply lost')).toHaveLength(1);
    expect(stored.seq).toBe(marker.seq - 1);
    expect(texts(bob.events, conv).filter((t) => t === 'only once')).toHaveLength(1);
    expect(texts(bob.events, conv).filter((t) => t === 'reply lost')).toHaveLength(1);
    assertExactlyOnceInOrder(bob.events);
    assertExactlyOnceInOrder(alice.events);
  });

  it('refreshes the access token once however many callers ask at the same time', async () => {
    const session = alice.client.session!;
    const before = session.credentials;
    let closedWith: ParleyError | undefined;
    alice.rt.on('closed', (e) => (closedWith = e));
    const tokens = await Promise.all(Array.from({ length: 8 }, () => session.refresh(before.access_token)));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(before.access_token);
    expect(session.refreshCount).toBe(1);
    // The session is still alive (a reused refresh token would have revoked it).
    expect((await alice.client.rest.users.me()).id).toBe(alice.user.id);
    const again = await session.accessToken();
    expect(again).toBe(tokens[0]);
    // And a spent refresh token is refused by the server.
    await expect(alice.client.rest.auth.refresh(before.refresh_token)).rejects.toMatchObject({ status: 401 });
    // ...which, as the contract says, revokes that whole session: its socket is closed with
    // session_revoked and the SDK stops (sign in again).
    await waitFor(() => alice.rt.state === 'closed', "alice's realtime client stops");
    expect(closedWith?.code).toBe('session_revoked');
    await sleep(1000);
    const stillValid = await alice.client.rest.users.me().then(
      () => true,
      (e: ParleyError) => (expect(e.status).toBe(401), false),
    );
    console.log(`access token of the revoked session on REST after 1 s: ${stillValid ? 'still accepted' : 'refused'}`);
    await alice.client.close();
    const { client, store } = newClient(node);
    await client.login({ username: alice.user.username, password: PASSWORD });
    const rt = await client.connect();
    const events: Event[] = [];
    rt.on('event', (e) => events.push(e));
    alice = { ...alice, client, rt, store, events, reads: [], typing: [], states: [], notices: [], presence: [] };
    rt.on('read', (r) => alice.reads.push(r));
    rt.on('state', (s) => alice.states.push(s));
    await waitFor(() => rt.state === 'online' && rt.synced, 'alice back online');
  });

  it('reconnects after the node is SIGKILLed and restarted: nothing lost or duplicated', async () => {
    const before = bob.events.length;
    await alice.rt.send(conv, 'before the crash');
    await waitFor(() => texts(bob.events, conv).includes('before the crash'), 'bob receives before the crash');

    await node.kill9();
    await waitFor(() => alice.rt.state === 'reconnecting' && bob.rt.state === 'reconnecting', 'both reconnecting');

    // Sent while the node is down: queued, then re-sent with the same ids after the restart.
    const queued = ['while down 1', 'while down 2', 'while down 3'].map((t) => alice.rt.send(conv, t));
    await sleep(300);
    await node.start();
    const acked = await Promise.all(queued);
    expect(acked.map((e) => e.seq)).toEqual([acked[0]!.seq, acked[0]!.seq + 1, acked[0]!.seq + 2]);

    // Bob is back too, and more arrives live.
    await waitFor(() => bob.rt.state === 'online', 'bob online again');
    await bob.rt.send(conv, 'bob after the restart');
    await alice.rt.send(conv, 'after the restart');
    await waitFor(() => texts(bob.events, conv).includes('after the restart'), 'bob receives after the restart');
    await waitFor(() => texts(alice.events, conv).includes('after the restart'), 'alice receives after the restart');

    const seen = texts(bob.events.slice(before), conv);
    expect(seen).toEqual([
      'before the crash',
      'while down 1',
      'while down 2',
      'while down 3',
      'bob after the restart',
      'after the restart',
    ]);
    assertExactlyOnceInOrder(bob.events);
    assertExactlyOnceInOrder(alice.events);
    // What bob holds matches the server's log exactly.
    const log = await bob.client.rest.conversations.eventsAfter(conv, 0);
    const bobSeqs = bob.events.filter((e) => e.conversation_id === conv).map((e) => e.seq);
    expect(bobSeqs).toEqual(log.map((e) => e.seq));
    expect(bob.store.positions.get(conv) ?? 0).toBeLessThanOrEqual(log.at(-1)!.seq);
    await bob.rt.flushPositions();
    expect(bob.store.positions.get(conv)).toBe(log.at(-1)!.seq);
    expect(alice.rt.outbox()).toHaveLength(0);
    expect(alice.store.outbox.size).toBe(0);
  });

  it('resumes from stored positions on a new client without replaying old events', async () => {
    await bob.rt.flushPositions();
    await bob.client.close();
    const last = bob.store.positions.get(conv)!;
    await alice.rt.send(conv, 'while bob was away');
    // A new client for bob with the same store: sync replays only what came after.
    const { client } = newClient(node, bob.store);
    await client.login({ username: bob.user.username, password: PASSWORD });
    const rt = await client.connect();
    const got: Event[] = [];
    rt.on('event', (e) => got.push(e));
    await waitFor(() => got.some((e) => (e as MessageEvent).text === 'while bob was away'), 'the missed message');
    await sleep(200);
    expect(got.filter((e) => e.conversation_id === conv).map((e) => e.seq)).toEqual([last + 1]);
    await client.close();
  });
});
