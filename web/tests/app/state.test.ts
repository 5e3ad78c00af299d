/**
 * The app's state logic without a DOM: list order, unread counting, merging a refetched list; the
 * social slice applying notices and refusals.
 */
import { describe, expect, it, vi } from 'vitest';
import { AppState } from '../../src/app/state';
import type { ParleyClient } from '../../src/sdk/client';
import type { ConversationSummary, Event, Notice } from '../../src/sdk/types';

const ME = { id: 'me', username: 'me', display_name: 'Me', bio: null, created_at: '2026-11-22T10:00:00.000Z' };

function summary(id: string, over: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    id,
    kind: 'direct',
    title: null,
    peer: { id: `peer-${id}`, username: `p${id}`, display_name: `P${id}`, bio: null, created_at: ME.created_at },
    member_count: null,
    last_event: null,
    last_seq: 0,
    read_seq: 0,
    peer_read_seq: 0,
    peer_delivered_seq: 0,
    unread_count: 0,
    mention_count: 0,
    pinned: false,
    muted_until: null,
    archived: false,
    created_at: '2026-11-22T10:00:00.000Z',
    ...over,
  };
}

function msg(conv: string, seq: number, sender: string, at = `2026-11-22T10:00:${String(seq).padStart(2, '0')}.000Z`): Event {
  return {
    id: `${conv}-${seq}`,
    conversation_id: conv,
    seq,
    sender_id: sender,
    created_at: at,
    kind: 'message',
    client_msg_id: `${conv}-${seq}`,
    text: `m${seq}`,
    media_ids: [],
    reply_to: null,
    mentions: [],
  } as Event;
}

function state(list: ConversationSummary[]) {
  const client = { rest: { conversations: { listAll: async () => list } } } as unknown as ParleyClient;
  const s = new AppState(client);
  s.me = ME;
  return s;
}

describe('app state', () => {
  it('puts pinned first, then the most recent, and folds archived away', async () => {
    const s = state([
      summary('old', { last_event: msg('old', 1, 'x', '2026-11-22T09:00:00.000Z'), last_seq: 1 }),
      summary('new', { last_event: msg('new', 1, 'x', '2026-11-22T11:00:00.000Z'), last_seq: 1 }),
      summary('pin', { pinned: true, last_event: msg('pin', 1, 'x', '2026-11-22T08:00:00.000Z'), last_seq: 1 }),
      summary('arch', { archived: true }),
    ]);
    await s.loadConversations();
    const { active, archived } = s.sortedConversations();
    expect(active.map((c) => c.id)).toEqual(['pin', 'new', 'old']);
    expect(archived.map((c) => c.id)).toEqual(['arch']);
  });

  it('counts unread messages from others once, never those it already knew or its own', async () => {
    const s = state([summary('c', { last_seq: 2, read_seq: 1, unread_count: 1 })]);
    await s.loadConversations();
    s.onEvent(msg('c', 2, 'peer')); // already counted by the server
    s.onEvent(msg('c', 3, 'peer'));
    s.onEvent(msg('c', 3, 'peer')); // duplicate
    s.onEvent(msg('c', 4, ME.id)); // mine: moves my read position
    expect(s.conversations.get('c')!.unread_count).toBe(2);
    expect(s.conversations.get('c')!.read_seq).toBe(4);
    // A peer's message means they read up to it.
    expect(s.peerRead.get('c')).toBe(3);
    expect([...s.timeline('c').events.keys()]).toEqual([2, 3, 4]);
  });

  it('keeps what realtime and reading moved on when an older list answer arrives', async () => {
    const list = [summary('c', { last_seq: 3, read_seq: 1, unread_count: 2 })];
    const s = state(list);
    await s.loadConversations();
    s.onEvent(msg('c', 4, 'peer'));
    s.conversations.get('c')!.read_seq = 4;
    s.conversations.get('c')!.unread_count = 0;
    await s.loadConversations(); // still says last_seq 3, read_seq 1
    const c = s.conversations.get('c')!;
    expect([c.last_seq, c.read_seq, c.unread_count]).toEqual([4, 4, 0]);
  });
});

describe('social state', () => {
  const CAROL = { id: 'carol', username: 'carol', display_name: 'Carol', bio: null, created_at: ME.created_at };
  const req = { id: 'r1', from: CAROL, to: ME, message: 'hi', status: 'pending' as const, created_at: ME.created_at, decided_at: null };
  const notice = (id: string, body: Record<string, unknown>) =>
    ({ id, created_at: `2026-11-22T10:00:0${id.slice(-1)}.000Z`, seen: false, ...body }) as unknown as Notice;

  function socialState() {
    const profiles: Record<string, unknown> = { carol: { ...CAROL, relationship: 'blocked' } };
    const seen: string[] = [];
    const client = {
      rest: {
        conversations: { listAll: async () => [summary('c1', { peer: CAROL })] },
        users: { get: async (id: string) => profiles[id] },
        notices: { markSeen: async (id: string) => void seen.push(id) },
      },
    } as unknown as ParleyClient;
    const s = new AppState(client);
    s.me = ME;
    return { s, seen };
  }

  it('applies notices: a request arrives, is accepted, the friendship ends; duplicates count once', async () => {
    const { s, seen } = socialState();
    await s.loadConversations();
    s.social.onNotice(notice('n1', { kind: 'friend_request', request: req }));
    s.social.onNotice(notice('n1', { kind: 'friend_request', request: req }));
    expect(s.social.unseen).toBe(1);
    expect(s.social.incoming.map((r) => r.id)).toEqual(['r1']);
    expect(s.social.relationshipOf('carol')).toBe('request_received');
    expect(s.userName('carol')).toBe('Carol');

    s.social.onNotice(notice('n2', { kind: 'friend_accepted', user: CAROL }));
    expect(s.social.isFriend('carol')).toBe(true);
    expect(s.social.incoming).toEqual([]);
    expect(s.social.presenceOf('carol')).toEqual({ online: false, last_seen_at: null });
    expect(s.social.notices.map((n) => n.id)).toEqual(['n2', 'n1']);

    // Opening the notifications marks everything seen up to the newest.
    s.go({ name: 'notices' });
    await Promise.resolve();
    expect(s.social.unseen).toBe(0);
    expect(seen).toEqual(['n2']);
    s.go({ name: 'list' });

    // The friendship ends; the profile (fetched for it) says they blocked us: no messaging.
    s.social.onNotice(notice('n3', { kind: 'friend_removed', user_id: 'carol' }));
    expect(s.social.isFriend('carol')).toBe(false);
    expect(s.social.presenceOf('carol')).toBeNull();
    await vi.waitFor(() => expect(s.social.blockedBy('carol')).toBe(true));
    expect(s.social.cannotMessage('c1', CAROL)?.text).toBe('You can’t message this person.');
    expect(s.social.unseen).toBe(1);
  });

  it('shows a refused send as such: the pending message fails, the chat explains', async () => {
    const { s } = socialState();
    await s.loadConversations();
    s.social.onRefused('c1', 'this user accepts direct messages from friends only');
    expect(s.social.cannotMessage('c1', { ...CAROL, id: 'someone-else' })).toEqual({
      text: 'You can’t message this person.',
      detail: 'this user accepts direct messages from friends only',
    });
    // A deleted account needs no refusal to say so.
    expect(s.social.cannotMessage('c2', { ...CAROL, id: 'x', deleted: true, display_name: 'Deleted user' })?.text).toMatch(/deleted/);
  });

  it('applies edits, reactions and recalls once each, and never re-applies those history already holds', async () => {
    const s = state([summary('c', { last_seq: 1, read_seq: 1 })]);
    await s.loadConversations();
    s.onEvent(msg('c', 1, 'peer'));
    const follow = (seq: number, sender: string, body: Record<string, unknown>) =>
      ({ id: `f${seq}`, conversation_id: 'c', seq, sender_id: sender, created_at: `2026-11-22T10:01:${String(seq).padStart(2, '0')}.000Z`, message_id: 'c-1', ...body }) as Event;
    const react = follow(2, ME.id, { kind: 'reaction', emoji: '👍', added: true });
    s.onEvent(react); // the reply to my react frame...
    s.onEvent(react); // ...and its event
    s.onEvent(follow(3, 'peer', { kind: 'reaction', emoji: '👍', added: true }));
    s.onEvent(follow(4, 'peer', { kind: 'edit', text: 'edited' }));
    expect(s.message('c', 'c-1')).toMatchObject({ text: 'edited', reactions: [{ emoji: '👍', count: 2, me: true }] });
    s.onEvent(follow(5, ME.id, { kind: 'reaction', emoji: '👍', added: false }));
    expect(s.message('c', 'c-1')!.reactions).toEqual([{ emoji: '👍', count: 1, me: false }]);
    // Follow-ups are not messages: nothing unread.
    expect(s.conversations.get('c')!.unread_count).toBe(0);
    s.onEvent(follow(6, 'peer', { kind: 'recall' }));
    expect(s.message('c', 'c-1')).toMatchObject({ text: null, recalled_at: expect.any(String), reactions: [] });
  });

  it('counts mentions of me and of everyone, not my own', async () => {
    const s = state([summary('g', { kind: 'group', peer: null, title: 'G' })]);
    await s.loadConversations();
    s.onEvent({ ...msg('g', 1, 'peer'), mentions: [ME.id] } as Event);
    s.onEvent({ ...msg('g', 2, 'peer'), mention_all: true } as Event);
    s.onEvent({ ...msg('g', 3, 'peer'), mentions: ['someone-else'] } as Event);
    s.onEvent({ ...msg('g', 4, ME.id), mention_all: true } as Event);
    const c = s.conversations.get('g')!;
    expect(c.mention_count).toBe(2);
    expect(c.unread_count).toBe(3);
  });
});
