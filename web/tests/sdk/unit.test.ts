/**
 * SDK logic with fakes (no node): positions, backoff, the session's single refresh, and the
 * realtime client's ordering, de-duplication, gap filling, resends and connection codes; the
 * presence map and notice frames.
 */
import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay } from '../../src/sdk/backoff';
import { ParleyError } from '../../src/sdk/errors';
import { Http } from '../../src/sdk/http';
import { Positions } from '../../src/sdk/positions';
import { PresenceTracker, type PresenceUpdate } from '../../src/sdk/presence';
import { RealtimeClient, type WebSocketLike } from '../../src/sdk/realtime';
import { AuthApi } from '../../src/sdk/rest/auth';
import { ConversationsApi } from '../../src/sdk/rest/conversations';
import { FriendsApi } from '../../src/sdk/rest/friends';
import { MemoryCredentialStore, Session, type Credentials } from '../../src/sdk/session';
import { MemorySyncStore } from '../../src/sdk/store';
import type { AuthResponse, Event, Notice } from '../../src/sdk/types';
import { waitFor } from '../support/node';

const CONV = '019aa9f3-5c2e-7d41-9b0a-3f6e2d8c4a17';
const USER = { id: 'u1', username: 'alice', display_name: 'Alice', bio: null, created_at: '2026-11-22T10:00:00.123Z' };

function ev(seq: number, text = `m${seq}`, conv = CONV): Event {
  return {
    id: `e${seq}`,
    conversation_id: conv,
    seq,
    sender_id: 'u2',
    created_at: '2026-11-22T10:00:00.123Z',
    kind: 'message',
    client_msg_id: `c${seq}`,
    text,
    media_ids: [],
    reply_to: null,
    mentions: [],
  } as Event;
}

function authResponse(n: number, expiresIn = 900): AuthResponse {
  return { user: USER, session_id: 's1', access_token: `a${n}`, refresh_token: `r${n}`, expires_in: expiresIn };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

describe('positions and backoff', () => {
  it('emits the next seq, drops duplicates, reports gaps', () => {
    const p = new Positions({ [CONV]: 3 });
    expect(p.check(CONV, 4)).toEqual({ kind: 'emit' });
    expect(p.check(CONV, 3)).toEqual({ kind: 'duplicate' });
    expect(p.check(CONV, 7)).toEqual({ kind: 'gap', after: 3, before: 7 });
    expect(p.check('other', 9)).toEqual({ kind: 'emit' });
    expect(p.advance(CONV, 4)).toBe(true);
    expect(p.advance(CONV, 4)).toBe(false);
    p.follow(CONV, 2);
    expect(p.get(CONV)).toBe(4);
  });

  it('backs off exponentially with equal jitter', () => {
    const b = { baseMs: 100, maxMs: 5_000 };
    expect(backoffCeiling(b, 0)).toBe(100);
    expect(backoffCeiling(b, 3)).toBe(800);
    expect(backoffCeiling(b, 40)).toBe(5_000);
    for (let a = 0; a < 12; a++) {
      const d = backoffCeiling(b, a);
      expect(backoffDelay(b, a, 0)).toBe(d / 2);
      for (let i = 0; i < 20; i++) {
        const x = backoffDelay(b, a);
        expect(x).toBeGreaterThanOrEqual(d / 2);
        expect(x).toBeLessThanOrEqual(d);
      }
    }
  });
});

describe('session', () => {
  function fakeAuth(opts: { delayMs?: number; fail?: number } = {}) {
    let n = 1;
    const calls: string[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      if (url.endsWith('/v1/auth/refresh')) {
        const { refresh_token } = JSON.parse(String(init.body)) as { refresh_token: string };
        calls.push(refresh_token);
        await new Promise((r) => setTimeout(r, opts.delayMs ?? 20));
        if (opts.fail) return json({ error: { code: 'unauthorized', message: 'spent' } }, opts.fail);
        if (refresh_token !== `r${n}`) return json({ error: { code: 'unauthorized', message: 'reused' } }, 401);
        n++;
        return json(authResponse(n));
      }
      return json({ error: { code: 'not_found', message: 'no' } }, 404);
    }) as typeof fetch;
    const http = new Http({ baseUrl: 'http://x', fetch: fetchImpl });
    return { api: new AuthApi(http), calls };
  }

  const creds = (expiresInMs: number): Credentials => ({
    user: USER,
    session_id: 's1',
    access_token: 'a1',
    refresh_token: 'r1',
    access_expires_at: Date.now() + expiresInMs,
  });

  it('refreshes 90 s before expiry, once for many concurrent callers', async () => {
    const { api, calls } = fakeAuth();
    const s = new Session(api, creds(60_000), { autoRefresh: false, locks: null });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => s.accessToken()));
    expect(new Set(tokens)).toEqual(new Set(['a2']));
    expect(calls).toEqual(['r1']);
    // Far from expiry: no refresh.
    expect(await s.accessToken()).toBe('a2');
    expect(calls).toHaveLength(1);
    // A stale token reported after the refresh does not refresh again.
    expect(await s.refresh('a1')).toBe('a2');
    expect(calls).toHaveLength(1);
    s.close();
  });

  it('refreshes on its own timer ahead of expiry', async () => {
    const { api, calls } = fakeAuth();
    const s = new Session(api, creds(90_050), { locks: null });
    await waitFor(() => calls.length === 1, 'the timed refresh', 2_000);
    await waitFor(() => s.credentials.access_token === 'a2', 'new token');
    s.close();
  });

  it('adopts tokens another tab stored instead of spending the refresh token twice', async () => {
    const { api, calls } = fakeAuth();
    const store = new MemoryCredentialStore();
    const s = new Session(api, creds(60_000), { autoRefresh: false, store, locks: null });
    store.save({ ...creds(900_000), access_token: 'a9', refresh_token: 'r9' });
    expect(await s.accessToken()).toBe('a9');
    expect(calls).toHaveLength(0);
    s.close();
  });

  it('reports the end of the session when the refresh is refused', async () => {
    const { api } = fakeAuth({ fail: 401 });
    const store = new MemoryCredentialStore();
    const s = new Session(api, creds(1_000), { autoRefresh: false, store, locks: null });
    let expired: ParleyError | undefined;
    s.on('expired', (e) => (expired = e));
    await expect(s.accessToken()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(expired?.isAuth).toBe(true);
    expect(store.load()).toBeNull();
    await expect(s.accessToken()).rejects.toBeInstanceOf(ParleyError);
  });

  it('retries a REST call once with a fresh token after a 401', async () => {
    let refreshed = 0;
    const seen: string[] = [];
    const http = new Http({
      baseUrl: 'http://x',
      fetch: (async (_u: string, init: RequestInit) => {
        const auth = (init.headers as Record<string, string>).authorization!;
        seen.push(auth);
        return auth === 'Bearer fresh' ? json(USER) : json({ error: { code: 'unauthorized', message: 'expired' } }, 401);
      }) as typeof fetch,
    });
    http.tokens = {
      accessToken: async () => 'old',
      refresh: async (stale) => (expect(stale).toBe('old'), refreshed++, 'fresh'),
    };
    const me = await http.request('GET', '/v1/users/me');
    expect(me).toEqual(USER);
    expect(seen).toEqual(['Bearer old', 'Bearer fresh']);
    expect(refreshed).toBe(1);
  });
});

/** A scripted node: the test plays the server side of each socket. */
class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  // server side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push({ type: 'ready', user_id: 'u1', session_id: 's1', node_id: 'n' });
  }
  push(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  framesOf(type: string): Record<string, unknown>[] {
    return this.sent.filter((f) => f.type === type);
  }
}

function harness(history: Event[] = [], urls = ['ws://a/v1/ws', 'ws://b/v1/ws']) {
  const sockets: FakeSocket[] = [];
  const restCalls: string[] = [];
  const http = new Http({
    baseUrl: 'http://x',
    fetch: (async (url: string) => {
      restCalls.push(url);
      const u = new URL(url);
      const after = Number(u.searchParams.get('after_seq') ?? 0);
      const limit = Number(u.searchParams.get('limit') ?? 50);
      const events = history.filter((e) => e.seq > after).slice(0, limit);
      const more = history.some((e) => e.seq > (events.at(-1)?.seq ?? Infinity));
      return json({ events, next_cursor: more ? 'next' : null });
    }) as typeof fetch,
  });
  http.tokens = { accessToken: async () => 'tok', refresh: async () => 'tok' };
  const store = new MemorySyncStore();
  const rt = new RealtimeClient({
    urls,
    tokens: http.tokens,
    conversations: new ConversationsApi(http),
    store,
    webSocket: (u, p) => {
      const s = new FakeSocket(u, p);
      sockets.push(s);
      return s;
    },
    backoff: { baseMs: 10, maxMs: 40 },
    watchNetwork: false,
  });
  const events: Event[] = [];
  rt.on('event', (e) => events.push(e));
  const last = () => sockets.at(-1)!;
  return { rt, sockets, last, events, restCalls, store };
}

describe('realtime client', () => {
  it('authenticates with the subprotocol, syncs from stored positions, and emits each seq once in order', async () => {
    const h = harness();
    await h.store.savePositions({ [CONV]: 2 });
    await h.rt.start();
    await waitFor(() => h.sockets.length === 1, 'a socket');
    expect(h.last().protocols).toEqual(['parley.v1', 'bearer.tok']);
    h.last().open();
    expect(h.rt.state).toBe('online');
    expect(h.last().framesOf('sync')[0]).toMatchObject({ cursors: { [CONV]: 2 } });
    for (const s of [2, 3, 3, 4, 1, 4]) h.last().push({ type: 'event', conversation_id: CONV, seq: s, event: ev(s) });
    h.last().push({ type: 'synced', id: 'sync-1', truncated: [] });
    await waitFor(() => h.rt.synced, 'synced');
    expect(h.events.map((e) => e.seq)).toEqual([3, 4]);
    expect(h.rt.stats.duplicatesDropped).toBe(4);
    await h.rt.stop();
    expect(h.store.positions.get(CONV)).toBe(4);
  });

  it('fills a gap over REST before emitting what came after it', async () => {
    const history = [1, 2, 3, 4, 5, 6].map((s) => ev(s));
    const h = harness(history);
    await h.rt.start();
    await waitFor(() => h.sockets.length === 1, 'a socket');
    h.last().open();
    h.last().push({ type: 'event', conversation_id: CONV, seq: 1, event: ev(1) });
    h.last().push({ type: 'event', conversation_id: CONV, seq: 5, event: ev(5) });
    h.last().push({ type: 'event', conversation_id: CONV, seq: 6, event: ev(6) });
    h.last().push({ type: 'event', conversation_id: CONV, seq: 4, event: ev(4) });
    await waitFor(() => h.events.length === 6, 'six events');
    expect(h.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(h.restCalls.some((u) => u.includes(`/v1/conversations/${CONV}/events`) && u.includes('after_seq=1'))).toBe(true);
    expect(h.rt.stats.gapFills).toBe(1);
    await h.rt.stop();
  });

  it('pages a truncated sync over REST', async () => {
    const history = Array.from({ length: 450 }, (_, i) => ev(i + 1));
    const h = harness(history);
    h.rt.follow(CONV, 0);
    await h.rt.start();
    await waitFor(() => h.sockets.length === 1, 'a socket');
    h.last().open();
    h.last().push({ type: 'synced', id: 'sync-1', truncated: [CONV] });
    await waitFor(() => h.rt.synced, 'synced');
    expect(h.events.map((e) => e.seq)).toEqual(history.map((e) => e.seq));
    await h.rt.stop();
  });

  it('re-sends unacknowledged sends with the same client_msg_id after a reconnect, on the next URL', async () => {
    const h = harness();
    await h.rt.start();
    await waitFor(() => h.sockets.length === 1, 'a socket');
    h.last().open();
    const p = h.rt.send(CONV, { client_msg_id: 'k1', text: 'hello' });
    const first = h.last().framesOf('send');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ conversation_id: CONV, client_msg_id: 'k1', text: 'hello' });
    expect(h.rt.outbox()).toHaveLength(1);
    expect(h.store.outbox.has('k1')).toBe(true);
    h.last().drop();
    expect(h.rt.state).toBe('reconnecting');
    await waitFor(() => h.sockets.length === 2, 'a second socket');
    expect(h.last().url).toBe('ws://b/v1/ws');
    h.last().open();
    const again = h.last().framesOf('send');
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ client_msg_id: 'k1', id: first[0]!.id });
    // The sync goes before the resends.
    expect(h.last().sent[0]!.type).toBe('sync');
    h.last().push({ type: 'reply', id: again[0]!.id, ok: true, event: ev(7, 'hello') });
    expect((await p).seq).toBe(7);
    expect(h.rt.outbox()).toHaveLength(0);
    expect(h.store.outbox.size).toBe(0);
    await h.rt.stop();
  });

  it('retries a send refused for a passing reason; fails one refused for good', async () => {
    const h = harness();
    await h.rt.start();
    await waitFor(() => h.sockets.length === 1, 'a socket');
    h.last().open();
    const ok = h.rt.send(CONV, { client_msg_id: 'k2', text: 'x' });
    const id = h.last().framesOf('send')[0]!.id;
    h.last().push({ type: 'reply', id, ok: false, error: { code: 'rate_limited', message: 'slow down' } });
    await waitFor(() => h.last().framesOf('send').length === 2, 'the resend', 3_000);
    h.last().push({ type: 'reply', id, ok: true, event: ev(1, 'x') });
    await expect(ok).resolves.toMatchObject({ seq: 1 });
    const bad = h.rt.send(CONV, { client_msg_id: 'k3', text: 'y'.repeat(10) });
    const id3 = h.last().framesOf('send').at(-1)!.id;
    h.last().push({ type: 'reply', id: id3, ok: false, error: { code: 'not_found', message: 'no such conversation' } });
    await expect(bad).rejects.toMatchObject({ code: 'not_found' });
    await h.rt.stop();
  });

  it('moves on at once after going_away, and stops for good after session_revoked', async () => {
    const h = harness();
    const states: string[] = [];
    h.rt.on('state', (s) => states.push(s));
    let closed: ParleyError | undefined;
    h.rt.on('closed', (e) => (closed = e));
    await h.rt.start();
    await waitFor(() => h.sockets.length === 1, 'a socket');
    h.last().open();
    h.last().push({ type: 'error', code: 'going_away', message: 'bye' });
    await waitFor(() => h.sockets.length === 2, 'the next node');
    expect(h.last().url).toBe('ws://b/v1/ws');
    h.last().open();
    h.rt.typing(CONV);
    h.rt.typing(CONV);
    expect(h.last().framesOf('typing')).toEqual([{ type: 'typing', conversation_id: CONV }]);
    h.rt.read(CONV, 3);
    expect(h.last().framesOf('read')).toEqual([{ type: 'read', conversation_id: CONV, seq: 3 }]);
    const pending = h.rt.send(CONV, 'never acknowledged');
    h.last().push({ type: 'error', code: 'session_revoked', message: 'logged out' });
    await expect(pending).rejects.toMatchObject({ code: 'session_revoked' });
    await waitFor(() => h.rt.state === 'closed', 'closed');
    expect(closed?.isAuth).toBe(true);
    expect(states).toEqual(['connecting', 'online', 'reconnecting', 'online', 'closed']);
  });
});

describe('presence and notices', () => {
  const A = 'friend-a';
  const B = 'friend-b';

  it('keeps a presence map from snapshots and changes; REST seeds never undo newer realtime news', () => {
    const p = new PresenceTracker();
    const changes: PresenceUpdate[] = [];
    p.on('change', (u) => changes.push(u));
    p.snapshot([A]);
    expect(p.online()).toEqual([A]);
    p.update({ user_id: B, online: true });
    p.update({ user_id: A, online: false, last_seen_at: '2026-11-22T10:00:00.000Z' });
    expect(p.get(A)).toEqual({ online: false, last_seen_at: '2026-11-22T10:00:00.000Z' });
    expect(p.isOnline(B)).toBe(true);
    // The same news twice is one change.
    p.update({ user_id: B, online: true });
    expect(changes.map((c) => `${c.user_id}:${c.online}`)).toEqual([`${A}:true`, `${B}:true`, `${A}:false`]);

    // A REST answer requested before the last realtime update keeps what realtime said.
    const before = p.mark();
    p.update({ user_id: B, online: false, last_seen_at: '2026-11-22T11:00:00.000Z' });
    p.seed([{ id: B, online: true }, { id: 'friend-c', online: false, last_seen_at: '2026-11-01T00:00:00.000Z' }], before);
    expect(p.isOnline(B)).toBe(false);
    expect(p.get('friend-c')).toEqual({ online: false, last_seen_at: '2026-11-01T00:00:00.000Z' });
    // A newer one applies.
    p.seed([{ id: B, online: true }]);
    expect(p.isOnline(B)).toBe(true);

    // A new snapshot (after a reconnect) is the truth: those not in it are offline, last seen kept.
    p.snapshot([]);
    expect(p.online()).toEqual([]);
    expect(p.get(A)?.last_seen_at).toBe('2026-11-22T10:00:00.000Z');
    p.forget(A);
    expect(p.get(A)).toBeUndefined();
    expect(changes.at(-1)).toEqual({ user_id: A, online: false, last_seen_at: null, known: false });
  });

  it('feeds presence frames into rt.presence and emits notices; friend_removed forgets the presence', async () => {
    const h = harness();
    const notices: Notice[] = [];
    const presence: PresenceUpdate[] = [];
    h.rt.on('notice', (n) => notices.push(n));
    h.rt.on('presence', (u) => presence.push(u));
    const frames: unknown[] = [];
    h.rt.on('frame', (f) => frames.push(f));
    await h.rt.start();
    await waitFor(() => h.sockets.length === 1, 'a socket');
    h.last().open();
    h.last().push({ type: 'presence_snapshot', online: [A, B] });
    h.last().push({ type: 'presence', user_id: B, online: false, last_seen_at: '2026-11-22T10:00:00.000Z' });
    const notice = {
      id: 'n1',
      created_at: '2026-11-22T10:00:01.000Z',
      seen: false,
      kind: 'friend_removed',
      user_id: A,
    };
    h.last().push({ type: 'notice', ...notice });
    await waitFor(() => notices.length === 1, 'the notice');
    expect(notices[0]).toEqual(notice);
    expect(h.rt.presence.get(A)).toBeUndefined();
    expect(h.rt.presence.get(B)).toEqual({ online: false, last_seen_at: '2026-11-22T10:00:00.000Z' });
    expect(presence.map((u) => `${u.user_id}:${u.online}:${u.known}`)).toEqual([
      `${A}:true:true`,
      `${B}:true:true`,
      `${B}:false:true`,
      `${A}:false:false`,
    ]);
    // Reconnected: the new snapshot replaces the old state.
    h.last().drop();
    await waitFor(() => h.sockets.length === 2, 'a second socket');
    h.last().open();
    h.last().push({ type: 'presence_snapshot', online: [B] });
    await waitFor(() => h.rt.presence.isOnline(B), 'B online again');
    expect(frames).toEqual([]);
    await h.rt.stop();
  });

  it('tells a friend request that accepted theirs (200) from a new one (201)', async () => {
    const req = (status: string) => ({
      id: 'r1',
      from: USER,
      to: { ...USER, id: 'u2' },
      message: null,
      status,
      created_at: USER.created_at,
      decided_at: null,
    });
    const bodies: unknown[] = [];
    let answer = json(req('pending'), 201);
    const http = new Http({
      baseUrl: 'http://x',
      fetch: (async (_u: string, init: RequestInit) => (bodies.push(JSON.parse(String(init.body))), answer)) as typeof fetch,
    });
    http.tokens = { accessToken: async () => 'tok', refresh: async () => 'tok' };
    const friends = new FriendsApi(http);
    expect((await friends.request('u2', '  ')).accepted).toBe(false);
    answer = json(req('accepted'), 200);
    expect((await friends.request('u2', ' hi ')).accepted).toBe(true);
    // A blank note is left out, a note is trimmed.
    expect(bodies).toEqual([{ user_id: 'u2' }, { user_id: 'u2', message: 'hi' }]);
  });
});

describe('invite links', () => {
  it('takes the code from a link or a bare code', async () => {
    const { inviteCodeOf } = await import('../../src/sdk/rest/groups');
    expect(inviteCodeOf('https://chat.example/#/join/AbC-12_x')).toBe('AbC-12_x');
    expect(inviteCodeOf('  AbC-12_x ')).toBe('AbC-12_x');
    expect(inviteCodeOf('http://127.0.0.1:8080/#/join/a%2Fb')).toBe('a/b');
  });
});

