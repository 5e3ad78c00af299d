/**
 * The reconnecting realtime client (the browser twin of `client/src/client.rs`).
 *
 * One connection at a time. It connects to the configured WebSocket URLs in turn (jittered
 * exponential backoff between failures), sends `sync` with the last seq it has of every
 * conversation right after each (re)connect, then re-sends every unacknowledged send with its
 * original `client_msg_id` (the node is idempotent on it). Incoming events pass through
 * {@link Positions}: each `(conversation, seq)` reaches the app once, in seq order; a jump forward
 * is filled from `GET /v1/conversations/{id}/events?after_seq=` first. Positions and the outbox
 * persist in a {@link SyncStore}. `going_away` moves on to the next node at once;
 * `session_revoked`, or a refresh token the server refuses, stops the client (`closed`).
 */
import { backoffDelay, DEFAULT_BACKOFF, type Backoff } from './backoff';
import { Emitter } from './emitter';
import { ParleyError } from './errors';
import {
  parseServerFrame,
  WS_BEARER_PREFIX,
  WS_SUBPROTOCOL,
  type ClientFrame,
  type DeliveryReceipt,
  type EditFrame,
  type MessageHidden,
  type NoticeFrame,
  type ReactFrame,
  type RecallFrame,
  type ReadReceipt,
  type ReadyFrame,
  type ServerFrame,
  type TypingIndicator,
} from './frames';
import type { TokenSource } from './http';
import { newClientMsgId } from './ids';
import { Positions } from './positions';
import { PresenceTracker, type PresenceUpdate } from './presence';
import type { ConversationsApi } from './rest/conversations';
import type { MessagesApi } from './rest/messages';
import { MemorySyncStore, type OutboxItem, type SyncStore } from './store';
import type { ConversationId, Event, EventId, MessageDraft, Notice, Seq } from './types';

/** What the connection is doing, for the app to show. */
export type ConnectionState = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'closed';

/** The part of the WHATWG WebSocket the client uses (browsers' `WebSocket`, npm `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

export interface RealtimeOptions {
  /** WebSocket URLs of connection nodes, tried in turn. */
  urls: string[];
  /** Access tokens (a `Session`). */
  tokens: TokenSource;
  /** REST history, for filling gaps and truncated syncs. */
  conversations: ConversationsApi;
  /** REST for edits, recalls and reactions made while offline (default: those fail while offline). */
  messages?: MessagesApi;
  /** Positions and outbox (default: in memory). */
  store?: SyncStore;
  /** How to open a socket (default: the global `WebSocket`). In Node: `(u, p) => new WebSocket(u, p)` from `ws`. */
  webSocket?: WebSocketFactory;
  /**
   * Browsers cannot see why a handshake failed (a 401 looks like any other failure), so after one
   * the client calls this authenticated REST request: it refreshes a refused token, or fails with
   * `unauthorized` when the session is over. Default: none.
   */
  probe?: () => Promise<unknown>;
  backoff?: Backoff;
  /** Ping when nothing arrived for this long (ms). */
  pingIntervalMs?: number;
  /** Reconnect when nothing at all arrived for this long (ms). */
  silenceTimeoutMs?: number;
  /** Give up on a handshake (open + `ready`) after this long (ms). */
  connectTimeoutMs?: number;
  /** Wait this long before re-sending a send refused for a passing reason (ms). */
  resendDelayMs?: number;
  /** At most one `typing` frame per conversation this often (ms). The node allows one per 2 s. */
  typingThrottleMs?: number;
  /** Send `typing` with `active: false` when the user stops (default true). */
  sendTypingStop?: boolean;
  /** Reconnect at once on the browser's `online` event, drop the socket on `offline` (default true in browsers). */
  watchNetwork?: boolean;
  /** Conversations to follow from a known seq, on top of what the store holds. */
  positions?: Record<ConversationId, Seq>;
}

export interface RealtimeEvents extends Record<string, unknown> {
  state: ConnectionState;
  /** Connected and authenticated; a `sync` follows. */
  connected: ReadyFrame & { url: string };
  /** The `sync` after a connect finished: every missed event was emitted. */
  synced: { truncated: ConversationId[] };
  disconnected: { url: string; reason: string };
  /** A conversation event: exactly once per `(conversation_id, seq)`, in seq order. */
  event: Event;
  read: ReadReceipt;
  /** How far a member's devices have received the log. */
  delivered: DeliveryReceipt;
  /** Someone is typing (`active` true or absent) or stopped. */
  typing: TypingIndicator;
  /** The user deleted a message for themselves on another device. */
  hidden: MessageHidden;
  /**
   * A notice (friend request, acceptance, ...), as it happens. Not replayed after a reconnect:
   * list `GET /v1/notices` again on `connected`.
   */
  notice: Notice;
  /**
   * A friend's presence changed in {@link RealtimeClient.presence} (a `presence_snapshot` after
   * each connect, a `presence` frame, a seed from REST, or a friendship that ended).
   */
  presence: PresenceUpdate;
  /** The outbox changed (a send queued, acknowledged or failed). */
  outbox: OutboxItem[];
  /** A send failed for good (not retried). */
  sendFailed: { item: OutboxItem; error: ParleyError };
  /** A frame this SDK has no handler for. */
  frame: { type: string; [k: string]: unknown };
  /** Stopped for good (`unauthorized`: sign in again). */
  closed: ParleyError;
}

interface Pending {
  item: OutboxItem;
  resolve: (e: Event) => void;
  reject: (e: ParleyError) => void;
  /** The connection generation it was last written on. */
  sentOn: number;
  notBefore: number;
}

/** An edit, recall or reaction waiting for its `reply`. */
interface InFlight {
  resolve: (e: Event | null) => void;
  reject: (e: ParleyError) => void;
  /** The same request over REST, should the connection end first. */
  rest: () => Promise<Event | null>;
  timer: ReturnType<typeof setTimeout>;
}

type RequestFrame = Omit<EditFrame, 'id'> | Omit<RecallFrame, 'id'> | Omit<ReactFrame, 'id'>;

/** How long a request waits for its `reply` before it is tried over REST. */
const REQUEST_TIMEOUT_MS = 10_000;

type Outcome =
  | { kind: 'stop' }
  | { kind: 'fatal'; error: ParleyError }
  | { kind: 'retry'; reason: string; immediate?: boolean; handshake?: boolean };

/** A connection that lived at least this long resets the backoff. */
const STABLE_AFTER_MS = 2_000;
const TICK_MS = 250;
const RETRIABLE = new Set(['rate_limited', 'unavailable', 'internal', 'network']);

function defaultFactory(): WebSocketFactory {
  const WS = (globalThis as { WebSocket?: new (u: string, p: string[]) => WebSocketLike }).WebSocket;
  if (!WS) throw new ParleyError('protocol', 'no WebSocket in this environment: pass `webSocket`');
  return (u, p) => new WS(u, p);
}

export class RealtimeClient extends Emitter<RealtimeEvents> {
  private readonly opts: Required<
    Omit<RealtimeOptions, 'probe' | 'webSocket' | 'store' | 'positions' | 'watchNetwork' | 'messages'>
  > & { probe?: () => Promise<unknown>; watchNetwork: boolean; messages?: MessagesApi };
  private readonly factory: WebSocketFactory;
  readonly store: SyncStore;
  private positions = new Positions();
  private pending = new Map<number, Pending>();
  private requests = new Map<string, InFlight>();
  private nextId = 1;
  private nextRequest = 1;
  private syncCount = 0;
  private urlIdx = 0;
  private attempt = 0;
  private generation = 0;
  private _state: ConnectionState = 'idle';
  private everOnline = false;
  private stopped = false;
  private started: Promise<void> | null = null;
  private ws: WebSocketLike | null = null;
  /** Authenticated socket of this generation (set on `ready`). */
  private live = false;
  private endConnection: ((o: Outcome) => void) | null = null;
  private wake: (() => void) | null = null;
  private chain: Promise<void> = Promise.resolve();
  private reads = new Map<ConversationId, Seq>();
  private lastTyping = new Map<ConversationId, number>();
  private dirty = new Set<ConversationId>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private unwatchNetwork: (() => void) | null = null;
  private readyFrame: ReadyFrame | null = null;
  private _synced = false;
  /** Friends' presence: the latest snapshot plus the changes since. */
  readonly presence = new PresenceTracker();
  /** Counters for tests and diagnostics. */
  readonly stats = { connects: 0, gapFills: 0, duplicatesDropped: 0, resends: 0 };

  constructor(opts: RealtimeOptions) {
    super();
    if (opts.urls.length === 0) throw new ParleyError('protocol', 'no realtime URL');
    this.opts = {
      urls: opts.urls,
      tokens: opts.tokens,
      conversations: opts.conversations,
      messages: opts.messages,
      probe: opts.probe,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      pingIntervalMs: opts.pingIntervalMs ?? 15_000,
      silenceTimeoutMs: opts.silenceTimeoutMs ?? 40_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      resendDelayMs: opts.resendDelayMs ?? 500,
      typingThrottleMs: opts.typingThrottleMs ?? 2_000,
      sendTypingStop: opts.sendTypingStop ?? true,
      watchNetwork: opts.watchNetwork ?? typeof (globalThis as { window?: unknown }).window !== 'undefined',
    };
    this.factory = opts.webSocket ?? defaultFactory();
    this.store = opts.store ?? new MemorySyncStore();
    this.presence.on('change', (u) => this.emit('presence', u));
    if (opts.positions) for (const [c, s] of Object.entries(opts.positions)) this.positions.follow(c, s);
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Whether the last `sync` of the current connection finished. */
  get synced(): boolean {
    return this._synced;
  }

  /** The current connection's `ready` frame, if connected. */
  get ready(): ReadyFrame | null {
    return this.live ? this.readyFrame : null;
  }

  /** Loads positions and the outbox from the store, then connects (and keeps reconnecting). */
  start(): Promise<void> {
    if (this.started) return this.started;
    this.started = (async () => {
      const [stored, outbox] = await Promise.all([this.store.loadPositions(), this.store.loadOutbox()]);
      for (const [c, s] of Object.entries(stored)) this.positions.follow(c, s);
      for (const item of outbox) {
        // Restored from an earlier page load: nobody awaits them, but they still go out once.
        this.enqueueSend(item, () => {}, () => {});
      }
      if (outbox.length) this.emitOutbox();
      this.watchNetwork();
      void this.run();
    })();
    return this.started;
  }

  /** Closes the connection and stops; unacknowledged sends stay in the store's outbox. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unwatchNetwork?.();
    this.endConnection?.({ kind: 'stop' });
    this.wake?.();
    for (const p of this.pending.values()) p.reject(new ParleyError('closed', 'client stopped'));
    this.pending.clear();
    for (const r of this.requests.values()) {
      clearTimeout(r.timer);
      r.reject(new ParleyError('closed', 'client stopped'));
    }
    this.requests.clear();
    await this.flushPositions();
    this.setState('closed');
  }

  /** The last seq emitted per conversation. */
  positionsSnapshot(): Record<ConversationId, Seq> {
    return this.positions.snapshot();
  }

  /** Follows a conversation from `seq` (events after it are next; never moves back). */
  follow(conversationId: ConversationId, seq: Seq): void {
    this.positions.follow(conversationId, seq);
    this.markDirty(conversationId);
  }

  /** Sends not yet acknowledged, oldest first. */
  outbox(): OutboxItem[] {
    return [...this.pending.values()].map((p) => p.item);
  }

  /**
   * Sends a message; resolves with the stored event once the node acknowledged it, retrying
   * with the same `client_msg_id` across reconnects until then. Keep the `client_msg_id` (a
   * fresh one is made when absent) to retry the same message later: it is never stored twice.
   */
  send(conversationId: ConversationId, message: string | Omit<MessageDraft, 'client_msg_id'> | MessageDraft): Promise<Event> {
    const draft: MessageDraft =
      typeof message === 'string'
        ? { client_msg_id: newClientMsgId(), text: message }
        : { ...message, client_msg_id: (message as MessageDraft).client_msg_id || newClientMsgId() };
    if (this.stopped) return Promise.reject(new ParleyError('closed', 'client stopped'));
    const item: OutboxItem = { conversation_id: conversationId, draft, queued_at: Date.now() };
    return new Promise<Event>((resolve, reject) => {
      // The same client_msg_id already waiting (a user's manual retry): join it.
      for (const p of this.pending.values()) {
        if (p.item.draft.client_msg_id === draft.client_msg_id) {
          const prev = { resolve: p.resolve, reject: p.reject };
          p.resolve = (e) => (prev.resolve(e), resolve(e));
          p.reject = (e) => (prev.reject(e), reject(e));
          p.notBefore = 0;
          return;
        }
      }
      void this.store.putOutbox(item).catch(() => {});
      this.enqueueSend(item, resolve, reject);
      this.emitOutbox();
    });
  }

  /** Read receipt up to `seq` (kept and sent after reconnecting when offline). */
  read(conversationId: ConversationId, seq: Seq): void {
    const prev = this.reads.get(conversationId) ?? 0;
    if (seq <= prev) return;
    this.reads.set(conversationId, seq);
    if (this.live) this.flushReads();
  }

  /** The user is typing (`active` true) or stopped; throttled, dropped while offline. */
  typing(conversationId: ConversationId, active = true): void {
    if (!active) {
      this.lastTyping.delete(conversationId);
      if (this.opts.sendTypingStop) this.write({ type: 'typing', conversation_id: conversationId, active: false });
      return;
    }
    const now = Date.now();
    const last = this.lastTyping.get(conversationId);
    if (last !== undefined && now - last < this.opts.typingThrottleMs) return;
    if (this.write({ type: 'typing', conversation_id: conversationId })) this.lastTyping.set(conversationId, now);
  }

  /** Edits one's own message: resolves with the `edit` event (over the socket, or REST while offline). */
  async edit(conversationId: ConversationId, messageId: EventId, text: string): Promise<Event> {
    const e = await this.request({ type: 'edit', conversation_id: conversationId, message_id: messageId, text }, () =>
      this.restMessages().edit(conversationId, messageId, text),
    );
    return e!;
  }

  /** Recalls one's own message (within the recall window): resolves with the `recall` event. */
  async recall(conversationId: ConversationId, messageId: EventId): Promise<Event> {
    const e = await this.request({ type: 'recall', conversation_id: conversationId, message_id: messageId }, () =>
      this.restMessages().recall(conversationId, messageId),
    );
    return e!;
  }

  /** Adds or removes a reaction: the `reaction` event, or null when nothing changed. */
  react(conversationId: ConversationId, messageId: EventId, emoji: string, added = true): Promise<Event | null> {
    return this.request(
      { type: 'react', conversation_id: conversationId, message_id: messageId, emoji, ...(added ? {} : { added: false }) },
      () => this.restMessages().react(conversationId, messageId, emoji, added),
    );
  }

  private restMessages(): MessagesApi {
    if (!this.opts.messages) throw new ParleyError('network', 'offline, and no REST client to fall back on');
    return this.opts.messages;
  }

  /**
   * One request frame and its reply. Offline, or if the connection ends before the reply, the
   * same change goes over REST (edits and reactions are idempotent; a recall already made
   * answers `conflict`).
   */
  private request(frame: RequestFrame, rest: () => Promise<Event | null>): Promise<Event | null> {
    if (this.stopped) return Promise.reject(new ParleyError('closed', 'client stopped'));
    if (!this.live) return Promise.resolve().then(rest);
    const id = `q-${this.nextRequest++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.requestOverRest(id), REQUEST_TIMEOUT_MS);
      this.requests.set(id, { resolve, reject, rest, timer });
      if (!this.write({ ...frame, id } as ClientFrame)) this.requestOverRest(id);
    });
  }

  private requestOverRest(id: string): void {
    const r = this.requests.get(id);
    if (!r) return;
    this.requests.delete(id);
    clearTimeout(r.timer);
    Promise.resolve().then(r.rest).then(r.resolve, r.reject);
  }

  /** Drops the current connection and reconnects right away (e.g. after the network came back). */
  reconnectNow(): void {
    this.attempt = 0;
    if (this.endConnection) this.endConnection({ kind: 'retry', reason: 'reconnect requested', immediate: true });
    this.wake?.();
  }

  // ---------------------------------------------------------------- internals

  private setState(s: ConnectionState): void {
    if (this._state === s) return;
    this._state = s;
    this.emit('state', s);
  }

  private emitOutbox(): void {
    this.emit('outbox', this.outbox());
  }

  private enqueueSend(item: OutboxItem, resolve: (e: Event) => void, reject: (e: ParleyError) => void): void {
    const id = this.nextId++;
    const p: Pending = { item, resolve, reject, sentOn: 0, notBefore: 0 };
    this.pending.set(id, p);
    if (this.live) this.writeSend(id, p);
  }

  private writeSend(id: number, p: Pending): void {
    const frame = { type: 'send', id, conversation_id: p.item.conversation_id, ...p.item.draft } as ClientFrame;
    if (p.sentOn !== 0) this.stats.resends++;
    if (this.write(frame)) p.sentOn = this.generation;
  }

  private write(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || !this.live || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private flushReads(): void {
    for (const [conv, seq] of this.reads) {
      if (this.write({ type: 'read', conversation_id: conv, seq })) this.reads.delete(conv);
    }
  }

  /** Every pending send that is due and not yet written on this connection, in order. */
  private flushPending(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.sentOn !== this.generation && p.notBefore <= now) this.writeSend(id, p);
    }
  }

  private watchNetwork(): void {
    const w = globalThis as unknown as {
      addEventListener?: (t: string, f: () => void) => void;
      removeEventListener?: (t: string, f: () => void) => void;
    };
    if (!this.opts.watchNetwork || !w.addEventListener) return;
    const online = () => this.reconnectNow();
    const offline = () => this.endConnection?.({ kind: 'retry', reason: 'the browser went offline' });
    w.addEventListener('online', online);
    w.addEventListener('offline', offline);
    this.unwatchNetwork = () => {
      w.removeEventListener?.('online', online);
      w.removeEventListener?.('offline', offline);
    };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const urls = this.opts.urls;
    while (!this.stopped) {
      const url = urls[this.urlIdx % urls.length]!;
      this.setState(this.everOnline ? 'reconnecting' : 'connecting');
      let outcome: Outcome;
      try {
        const token = await this.opts.tokens.accessToken();
        outcome = this.stopped ? { kind: 'stop' } : await this.connectOnce(url, token);
      } catch (e) {
        outcome =
          e instanceof ParleyError && e.isAuth
            ? { kind: 'fatal', error: e }
            : { kind: 'retry', reason: `getting an access token: ${(e as Error)?.message ?? e}` };
      }
      if (outcome.kind === 'retry' && outcome.handshake && this.opts.probe && !this.stopped) {
        // Was it the token? An authenticated REST call refreshes it, or says the session is over.
        try {
          await this.opts.probe();
        } catch (e) {
          if (e instanceof ParleyError && e.isAuth) outcome = { kind: 'fatal', error: e };
        }
      }
      if (this.stopped || outcome.kind === 'stop') break;
      if (outcome.kind === 'fatal') {
        this.stopped = true;
        this.unwatchNetwork?.();
        for (const p of this.pending.values()) p.reject(outcome.error);
        this.pending.clear();
        await this.flushPositions();
        this.setState('closed');
        this.emit('closed', outcome.error);
        return;
      }
      this.urlIdx++;
      const delay = outcome.immediate
        ? backoffDelay(this.opts.backoff, 0) / 2
        : backoffDelay(this.opts.backoff, this.attempt++);
      this.setState(this.everOnline ? 'reconnecting' : 'connecting');
      await this.sleep(delay);
    }
  }

  /** One connection, from opening to its end. */
  private connectOnce(url: string, token: string): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const gen = ++this.generation;
      let ws: WebSocketLike;
      try {
        ws = this.factory(url, [WS_SUBPROTOCOL, WS_BEARER_PREFIX + token]);
      } catch (e) {
        resolve({ kind: 'retry', reason: `opening ${url}: ${(e as Error)?.message ?? e}` });
        return;
      }
      this.ws = ws;
      this.stats.connects++;
      let opened = false;
      let readyAt = 0;
      let lastRx = Date.now();
      let lastPing = Date.now();
      let pings = 0;
      let finished = false;

      const finish = (o: Outcome) => {
        if (finished) return;
        finished = true;
        clearTimeout(connectTimer);
        clearInterval(tick);
        if (this.endConnection === finish) this.endConnection = null;
        const wasLive = this.live && this.ws === ws;
        for (const id of [...this.requests.keys()]) this.requestOverRest(id);
        if (this.ws === ws) {
          this.ws = null;
          this.live = false;
          this._synced = false;
        }
        ws.onopen = ws.onmessage = ws.onerror = null;
        ws.onclose = null;
        if (ws.readyState === 0 || ws.readyState === 1) {
          try {
            ws.close(1000);
          } catch {
            /* already closing */
          }
        }
        if (readyAt && Date.now() - readyAt >= STABLE_AFTER_MS) this.attempt = 0;
        if (wasLive && o.kind === 'retry') {
          this.setState('reconnecting');
          this.emit('disconnected', { url, reason: o.reason });
        }
        resolve(o);
      };
      this.endConnection = finish;

      const connectTimer = setTimeout(
        () => finish({ kind: 'retry', reason: `no ready from ${url} within ${this.opts.connectTimeoutMs} ms` }),
        this.opts.connectTimeoutMs,
      );

      const tick = setInterval(() => {
        if (!this.live || this.ws !== ws) return;
        const now = Date.now();
        if (now - lastRx >= this.opts.silenceTimeoutMs) {
          finish({ kind: 'retry', reason: `nothing from the node for ${this.opts.silenceTimeoutMs} ms` });
          return;
        }
        if (now - lastPing >= this.opts.pingIntervalMs && now - lastRx >= this.opts.pingIntervalMs) {
          lastPing = now;
          this.write({ type: 'ping', id: `ping-${++pings}` });
        }
        this.flushPending();
      }, TICK_MS);

      ws.onopen = () => {
        opened = true;
      };
      ws.onerror = () => {
        /* a close follows */
      };
      ws.onclose = (ev) => {
        const code = ev?.code ?? 1006;
        finish({
          kind: 'retry',
          reason: `closed (${code}${ev?.reason ? ` ${ev.reason}` : ''})`,
          handshake: !opened,
        });
      };
      ws.onmessage = (ev) => {
        lastRx = Date.now();
        const text = typeof ev.data === 'string' ? ev.data : String(ev.data);
        const frame = parseServerFrame(text);
        if (!frame) return;
        if (frame.type === 'ready') {
          if (finished) return;
          clearTimeout(connectTimer);
          readyAt = Date.now();
          this.onReady(url, frame as ReadyFrame);
          return;
        }
        this.enqueue(gen, frame as ServerFrame, finish);
      };
    });
  }

  private onReady(url: string, ready: ReadyFrame): void {
    this.live = true;
    this.everOnline = true;
    this.readyFrame = ready;
    this._synced = false;
    this.setState('online');
    this.emit('connected', { ...ready, url });
    // The node holds live events until the first sync, so replayed and live ones never interleave.
    this.write({ type: 'sync', id: `sync-${++this.syncCount}`, cursors: this.positions.snapshot() });
    // Everything not yet acknowledged goes again, in the order it was sent, same ids.
    for (const p of this.pending.values()) p.notBefore = 0;
    this.flushPending();
    this.flushReads();
  }

  /** Frames are handled one at a time, in arrival order (a gap fill holds the ones after it). */
  private enqueue(gen: number, frame: ServerFrame, finish: (o: Outcome) => void): void {
    this.chain = this.chain
      .then(() => this.handle(gen, frame))
      .then((o) => {
        if (o) finish(o);
      })
      .catch((e: unknown) => {
        if (e instanceof ParleyError && e.isAuth) finish({ kind: 'fatal', error: e });
        else finish({ kind: 'retry', reason: `handling a ${frame.type} frame: ${(e as Error)?.message ?? e}` });
      });
  }

  private async handle(gen: number, frame: ServerFrame): Promise<Outcome | void> {
    const current = gen === this.generation;
    switch (frame.type) {
      case 'event':
        await this.deliver(frame.conversation_id, frame.seq, frame.event);
        return;
      case 'synced':
        for (const conv of frame.truncated ?? []) await this.fill(conv, this.positions.get(conv) ?? 0);
        if (current) this._synced = true;
        this.emit('synced', { truncated: frame.truncated ?? [] });
        return;
      case 'reply':
        this.onReply(frame.id, frame.ok, frame.event, frame.error);
        return;
      case 'read':
        this.emit('read', { conversation_id: frame.conversation_id, user_id: frame.user_id, seq: frame.seq });
        return;
      case 'delivered':
        this.emit('delivered', { conversation_id: frame.conversation_id, user_id: frame.user_id, seq: frame.seq });
        return;
      case 'typing':
        this.emit('typing', { conversation_id: frame.conversation_id, user_id: frame.user_id, active: frame.active !== false });
        return;
      case 'message_hidden':
        this.emit('hidden', { conversation_id: frame.conversation_id, message_id: frame.message_id, seq: frame.seq });
        return;
      case 'presence_snapshot':
        if (current) this.presence.snapshot(Array.isArray(frame.online) ? frame.online : []);
        return;
      case 'presence':
        this.presence.update({ user_id: frame.user_id, online: frame.online === true, last_seen_at: frame.last_seen_at ?? null });
        return;
      case 'notice':
        this.onNotice(frame);
        return;
      case 'pong':
      case 'ready':
        return;
      case 'error':
        if (!current) return;
        switch (frame.code) {
          case 'going_away':
            return { kind: 'retry', reason: `going_away: ${frame.message}`, immediate: true };
          case 'session_revoked':
            return { kind: 'fatal', error: new ParleyError('session_revoked', `session revoked: ${frame.message}`, 401) };
          case 'too_slow':
          case 'unauthorized':
            return { kind: 'retry', reason: `${frame.code}: ${frame.message}` };
          default:
            console.warn(`parley: error frame from the node: ${frame.code}: ${frame.message}`);
            return;
        }
      default:
        this.emit('frame', frame as unknown as { type: string });
        return;
    }
  }

  private onNotice(frame: NoticeFrame): void {
    const { type: _type, ...notice } = frame;
    // A friendship that ends stops presence frames without a last one.
    if (notice.kind === 'friend_removed') this.presence.forget(notice.user_id);
    this.emit('notice', notice as Notice);
  }

  private onReply(id: unknown, ok: boolean, event: Event | undefined, error: { code: string; message: string } | undefined): void {
    if (typeof id === 'string') {
      const r = this.requests.get(id);
      if (!r) return;
      this.requests.delete(id);
      clearTimeout(r.timer);
      if (ok) r.resolve(event ?? null);
      else r.reject(new ParleyError((error?.code as ParleyError['code']) ?? 'protocol', error?.message ?? 'request failed'));
      return;
    }
    if (typeof id !== 'number') return;
    const p = this.pending.get(id);
    if (!p) return;
    if (ok && event) {
      this.pending.delete(id);
      void this.store.deleteOutbox(p.item.draft.client_msg_id).catch(() => {});
      p.resolve(event);
      this.emitOutbox();
      return;
    }
    const err = new ParleyError(
      (error?.code as ParleyError['code']) ?? 'protocol',
      error?.message ?? 'send failed without a reason',
    );
    if (RETRIABLE.has(err.code)) {
      p.sentOn = 0;
      p.notBefore = Date.now() + this.opts.resendDelayMs;
      return;
    }
    this.pending.delete(id);
    void this.store.deleteOutbox(p.item.draft.client_msg_id).catch(() => {});
    p.reject(err);
    this.emit('sendFailed', { item: p.item, error: err });
    this.emitOutbox();
  }

  /** Emits an event if it is the next of its conversation, after filling any gap. */
  private async deliver(conv: ConversationId, seq: Seq, event: Event): Promise<void> {
    const v = this.positions.check(conv, seq);
    if (v.kind === 'duplicate') {
      this.stats.duplicatesDropped++;
      return;
    }
    if (v.kind === 'gap') {
      this.stats.gapFills++;
      await this.fill(conv, v.after, v.before - 1);
      if (this.positions.check(conv, seq).kind === 'duplicate') return;
    }
    this.positions.advance(conv, seq);
    this.markDirty(conv);
    this.emit('event', event);
  }

  /** Emits the events after `after` (up to `upTo`) from REST history. */
  private async fill(conv: ConversationId, after: Seq, upTo?: Seq): Promise<void> {
    const events = await this.opts.conversations.eventsAfter(conv, after, upTo);
    for (const e of events) {
      if (this.positions.check(conv, e.seq).kind === 'duplicate') continue;
      this.positions.advance(conv, e.seq);
      this.markDirty(conv);
      this.emit('event', e);
    }
  }

  private markDirty(conv: ConversationId): void {
    this.dirty.add(conv);
    if (this.flushTimer === null) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        void this.flushPositions();
      }, 100);
    }
  }

  /** Writes the moved positions to the store now. */
  flushPositions(): Promise<void> {
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    const convs = [...this.dirty];
    this.dirty.clear();
    if (convs.length === 0) return this.flushing;
    const snap: Record<ConversationId, Seq> = {};
    for (const c of convs) snap[c] = this.positions.get(c)!;
    this.flushing = this.flushing.then(() => this.store.savePositions(snap)).catch(() => {});
    return this.flushing;
  }
}
