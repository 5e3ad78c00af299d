/**
 * The SDK's groups, message follow-ups, receipts, media and search against a real
 * `parley-node dev` (its own Postgres and embedded object store): a group made, joined by invite
 * code, roles changed, left; edits, recalls and reactions over the socket and, offline, over
 * REST; delivered receipts and typing stops; an image uploaded with progress, its thumbnail
 * downloaded by presigned URL; a message found by search.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFollowUp, targetOf } from '../../src/sdk/message-state';
import { ParleyError } from '../../src/sdk/errors';
import type { DeliveryReceipt } from '../../src/sdk/frames';
import type { ConversationId, Event, MessageEvent } from '../../src/sdk/types';
import { record, registerAndConnect, type TestUser } from '../support/clients';
import { DevNode, waitFor } from '../support/node';
import { png } from '../support/png';

let node: DevNode;
let ann: TestUser;
let ben: TestUser;
let cat: TestUser;
let direct: ConversationId;

beforeAll(async () => {
  node = new DevNode();
  await node.start();
  [ann, ben, cat] = await Promise.all([registerAndConnect(node, 'ann'), registerAndConnect(node, 'ben'), registerAndConnect(node, 'cat')]);
  await waitFor(() => [ann, ben, cat].every((u) => u.rt.state === 'online'), 'all online');
  const { request } = await ann.client.rest.friends.request(ben.user.id);
  await ben.client.rest.friends.accept(request.id);
  direct = (await ann.client.rest.conversations.openDirect(ben.user.id)).id;
});

afterAll(async () => {
  for (const u of [ann, ben, cat]) await u?.client.close();
  await node?.dispose();
});

/** The message as `u` reads it now: its event with every follow-up `u` received applied. */
function asSeenBy(u: TestUser, msg: MessageEvent): MessageEvent {
  let m = u.events.find((e) => e.id === msg.id) as MessageEvent | undefined;
  if (!m) return msg;
  for (const e of u.events) if (targetOf(e) === msg.id) m = applyFollowUp(m, e, u.user.id);
  return m;
}

describe('groups', () => {
  it('creates a group, invites by code, changes a role, and leaves', async () => {
    const g = await ann.client.rest.groups.create({ name: 'Climbing', member_ids: [ben.user.id] });
    expect(g.my_role).toBe('owner');
    await waitFor(() => ben.events.some((e) => e.conversation_id === g.id && e.kind === 'member_joined'), 'ben sees the group');

    const inv = await ann.client.rest.groups.createInvite(g.id, { max_uses: 5 });
    const joined = await cat.client.rest.groups.join(`https://chat.example/#/join/${inv.code}`);
    expect(joined).toMatchObject({ group_id: g.id, pending: false });
    // Cat starts receiving the group at once, from their own member_joined.
    await cat.rt.send(g.id, { text: 'hi everyone', mentions: [ann.user.id] });
    await waitFor(() => ann.events.some((e) => e.conversation_id === g.id && e.kind === 'message'), 'ann gets cat’s message');
    const msg = ann.events.find((e) => e.conversation_id === g.id && e.kind === 'message') as MessageEvent;
    expect(msg.mentions).toEqual([ann.user.id]);

    await ann.client.rest.groups.updateMember(g.id, cat.user.id, { role: 'admin' });
    const members = await ben.client.rest.groups.membersAll(g.id);
    expect(Object.fromEntries(members.map((m) => [m.user.id, m.role]))).toEqual({
      [ann.user.id]: 'owner',
      [ben.user.id]: 'member',
      [cat.user.id]: 'admin',
    });
    // A member may not change roles.
    await expect(ben.client.rest.groups.updateMember(g.id, cat.user.id, { role: 'member' })).rejects.toMatchObject({ status: 403 });

    await cat.client.rest.groups.leave(g.id);
    await waitFor(() => ann.events.some((e) => e.conversation_id === g.id && e.kind === 'member_left'), 'ann sees cat leave');
    await expect(cat.rt.send(g.id, 'still here?')).rejects.toMatchObject({ code: 'not_found' });
    expect((await ann.client.rest.groups.get(g.id)).member_count).toBe(2);
  });
});

describe('what happens to messages', () => {
  it('edits, reacts and recalls over the socket; every member applies the follow-ups', async () => {
    const m = (await ann.rt.send(direct, 'helo')) as MessageEvent;
    const edit = await ann.rt.edit(direct, m.id, 'hello');
    expect(edit).toMatchObject({ kind: 'edit', message_id: m.id, text: 'hello' });
    const r1 = await ben.rt.react(direct, m.id, '👍');
    expect(r1).toMatchObject({ kind: 'reaction', emoji: '👍', added: true });
    // Nothing changed: no event.
    expect(await ben.rt.react(direct, m.id, '👍')).toBeNull();
    await ann.rt.react(direct, m.id, '👍');
    await waitFor(() => ben.events.filter((e) => e.kind === 'reaction').length >= 2, 'ben sees both reactions');
    expect(asSeenBy(ben, m)).toMatchObject({ text: 'hello', reactions: [{ emoji: '👍', count: 2, me: true }] });
    expect(asSeenBy(ann, m).edited_at).not.toBeNull();

    // History agrees with what realtime built.
    const page = await ben.client.rest.conversations.events(direct, { after_seq: m.seq - 1, limit: 1 });
    expect(page.events[0]).toMatchObject({ text: 'hello', reactions: [{ emoji: '👍', count: 2, me: true }] });

    await ann.rt.recall(direct, m.id);
    await waitFor(() => ben.events.some((e) => e.kind === 'recall' && (e as { message_id: string }).message_id === m.id), 'ben sees the recall');
    expect(asSeenBy(ben, m)).toMatchObject({ text: null, recalled_at: expect.any(String), reactions: [] });
    // Someone else's message cannot be edited.
    await expect(ben.rt.edit(direct, m.id, 'mine now')).rejects.toBeInstanceOf(ParleyError);
  });

  it('falls back to REST while offline, and deletes for one reader only', async () => {
    const m = (await ben.rt.send(direct, 'offline edits')) as MessageEvent;
    await waitFor(() => ann.events.some((e) => e.id === m.id), 'ann has it');
    await ben.client.disconnect();
    // The realtime client is gone: REST directly, as the SDK does when offline.
    const offline = await ben.client.rest.messages.edit(direct, m.id, 'offline edit');
    expect(offline.kind).toBe('edit');
    await waitFor(() => ann.events.some((e) => e.id === offline.id), 'ann gets the REST edit live');
    expect(asSeenBy(ann, m).text).toBe('offline edit');
    ben.rt = await ben.client.connect();
    record(ben, ben.rt);
    await waitFor(() => ben.rt.state === 'online', 'ben online again');

    await ann.client.rest.messages.hide(direct, m.id);
    const annView = await ann.client.rest.conversations.events(direct, { after_seq: m.seq - 1, limit: 1 });
    const benView = await ben.client.rest.conversations.events(direct, { after_seq: m.seq - 1, limit: 1 });
    expect(annView.events[0]).toMatchObject({ hidden: true, text: null });
    expect(benView.events[0]).toMatchObject({ text: 'offline edit' });
    expect((benView.events[0] as MessageEvent).hidden ?? false).toBe(false);
  });

  it('reports delivered receipts and typing stops', async () => {
    const delivered: DeliveryReceipt[] = [];
    const stops: boolean[] = [];
    ann.rt.on('delivered', (d) => delivered.push(d));
    ann.rt.on('typing', (t) => stops.push(t.active === false));
    ben.rt.typing(direct);
    ben.rt.typing(direct, false);
    await waitFor(() => stops.includes(true), 'ann sees ben stop typing');
    const m = await ann.rt.send(direct, 'did it arrive?');
    await waitFor(() => delivered.some((d) => d.user_id === ben.user.id && d.seq >= m.seq), 'delivered to ben');
    const list = await ann.client.rest.conversations.listAll();
    expect(list.find((c) => c.id === direct)!.peer_delivered_seq).toBeGreaterThanOrEqual(m.seq);
  });
});

describe('media and search', () => {
  it('uploads an image with progress, attaches it, and serves its thumbnail by presigned URL', async () => {
    const bytes = png(1200, 900);
    const progress: number[] = [];
    const file = new File([new Uint8Array(bytes)], 'gradient.png', { type: 'image/png' });
    const media = await ann.client.rest.media.upload(file, { onProgress: (p) => progress.push(p.loaded) });
    expect(media).toMatchObject({ content_type: 'image/png', size: bytes.length, width: 1200, height: 900 });
    expect(progress.at(0)).toBe(0);
    expect(progress.at(-1)).toBe(bytes.length);

    const sent = (await ann.rt.send(direct, { text: 'a gradient', media_ids: [media.id] })) as MessageEvent;
    expect(sent.media?.map((x) => x.id)).toEqual([media.id]);
    await waitFor(() => ben.events.some((e) => e.id === sent.id), 'ben gets the message');

    // Ben, a member who can see the message, gets a URL; the thumbnail arrives shortly after.
    let thumb: string | null = null;
    for (let i = 0; i < 100 && !thumb; i++) {
      thumb = await ben.client.rest.media.url(media.id, 'thumb').catch(() => null);
      if (!thumb) await new Promise((r) => setTimeout(r, 100));
    }
    expect(thumb).toContain('thumbs');
    const res = await fetch(thumb!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\//);
    const original = await fetch(await ben.client.rest.media.url(media.id));
    expect(Buffer.from(await original.arrayBuffer()).equals(bytes)).toBe(true);
    // Cat (not in this conversation) cannot.
    await expect(cat.client.rest.media.url(media.id)).rejects.toMatchObject({ status: 404 });
  });

  it('finds messages by full-text search, only in the caller’s conversations', async () => {
    await ann.rt.send(direct, 'the quick brown fox jumps');
    let hits: Event[] = [];
    for (let i = 0; i < 50 && hits.length === 0; i++) {
      hits = (await ben.client.rest.search.messages('brown fox')).hits.map((h) => h.event);
      if (!hits.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(hits.map((e) => (e as MessageEvent).text)).toContain('the quick brown fox jumps');
    expect((await cat.client.rest.search.messages('brown fox')).hits).toEqual([]);
  });
});
