/**
 * The app's state: conversations, timelines, optimistic sends, read marks, typing and the
 * connection, fed by the SDK. Framework-free; components subscribe and re-render on change.
 */
import {
  applyFollowUp,
  IndexedDbSyncStore,
  isMessage,
  targetOf,
  MemorySyncStore,
  newClientMsgId,
  ParleyClient,
  ParleyError,
  TypingTracker,
  type ConnectionState,
  type ConversationId,
  type ConversationSummary,
  type Event,
  type EventId,
  type Media,
  type MessageDraft,
  type MessageEvent,
  type RealtimeClient,
  type Seq,
  type User,
  type UserId,
  LocalStorageCredentialStore,
} from '../sdk';
import { Groups } from './groups';
import { explain, Social } from './social';

export const PAGE = 50;

/** A file being uploaded for a message not sent yet. */
export interface Attachment {
  file: File;
  loaded: number;
  /** Set once uploaded and completed. */
  media?: Media;
}

/** What the composer hands over besides the text. */
export interface SendExtras {
  replyTo?: EventId | null;
  mentions?: UserId[];
  mentionAll?: boolean;
  files?: File[];
}

export interface PendingMessage {
  client_msg_id: string;
  text: string;
  queued_at: number;
  status: 'uploading' | 'sending' | 'failed';
  error?: string;
  reply_to?: EventId | null;
  mentions?: UserId[];
  mention_all?: boolean;
  attachments: Attachment[];
}

export interface Timeline {
  /** Message events by seq, as they read now (edits, recalls, reactions applied). */
  events: Map<Seq, MessageEvent>;
  /** Seq of each loaded message, by id (follow-up events name their message by id). */
  ids: Map<EventId, Seq>;
  /**
   * Follow-ups already applied, by seq: a reaction we made arrives twice (its reply and its
   * event) and must count once.
   */
  followUps: Set<Seq>;
  /** Lowest seq loaded (history goes back from here). */
  oldest: Seq | null;
  hasMore: boolean;
  loading: boolean;
  loaded: boolean;
  pending: Map<string, PendingMessage>;
}

export type View =
  | { name: 'list' }
  | { name: 'chat'; id: ConversationId }
  | { name: 'new' }
  | { name: 'friends' }
  | { name: 'notices' }
  | { name: 'settings' }
  | { name: 'profile'; id: UserId }
  | { name: 'info'; id: ConversationId }
  | { name: 'new-group' }
  | { name: 'search' };

function emptyTimeline(): Timeline {
  return { events: new Map(), ids: new Map(), followUps: new Set(), oldest: null, hasMore: true, loading: false, loaded: false, pending: new Map() };
}

export function createClient(): ParleyClient {
  return new ParleyClient({
    baseUrl: location.origin,
    credentialStore: new LocalStorageCredentialStore(),
    syncStore: (u) => (IndexedDbSyncStore.available() ? new IndexedDbSyncStore(`parley:${u.id}`) : new MemorySyncStore()),
    deviceName: 'web',
  });
}

export class AppState {
  me: User | null = null;
  rt: RealtimeClient | null = null;
  connection: ConnectionState = 'idle';
  conversations = new Map<ConversationId, ConversationSummary>();
  timelines = new Map<ConversationId, Timeline>();
  /** Highest seq others have read, per conversation (from `read` frames and their own sends). */
  peerRead = new Map<ConversationId, Seq>();
  /** Highest seq others' devices have received, per conversation (`delivered` frames). */
  peerDelivered = new Map<ConversationId, Seq>();
  typing = new TypingTracker();
  view: View = { name: 'list' };
  users = new Map<UserId, User>();
  notice: string | null = null;
  /** An invite code from a link (`#/join/CODE`), joined once signed in. */
  pendingJoin: string | null = null;
  /** Friends, requests, blocks, notices, presence, the own profile and sessions. */
  readonly social: Social;
  /** Groups' details, members, invites. */
  readonly groups: Groups;
  version = 0;
  private listeners = new Set<() => void>();
  private scheduled = false;
  private refetchTimer: ReturnType<typeof setTimeout> | null = null;
  private offs: (() => void)[] = [];

  constructor(readonly client: ParleyClient) {
    this.social = new Social(this);
    this.groups = new Groups(this);
    this.typing.on('change', () => this.changed());
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Batches notifications into one per microtask. */
  changed(): void {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of [...this.listeners]) fn();
    });
  }

  // ------------------------------------------------------------ session

  /** Signed in from an earlier visit? */
  async resume(): Promise<boolean> {
    const s = this.client.resume();
    if (!s) return false;
    try {
      await this.start();
      return true;
    } catch (e) {
      if (e instanceof ParleyError && e.isAuth) {
        await this.signOutLocally('Your session ended. Sign in again.');
        return false;
      }
      throw e;
    }
  }

  async signIn(username: string, password: string): Promise<void> {
    await this.client.login({ username, password });
    await this.start();
  }

  async register(username: string, password: string, displayName?: string): Promise<void> {
    await this.client.register({ username, password, display_name: displayName || undefined });
    await this.start();
  }

  async signOut(): Promise<void> {
    await this.client.logout().catch(() => {});
    this.reset();
  }

  /** Forgets the session here without asking the server (it already ended it). */
  async signOutLocally(notice: string): Promise<void> {
    await this.client.close().catch(() => {});
    new LocalStorageCredentialStore().clear();
    this.reset();
    this.notice = notice;
    this.changed();
  }

  private reset(): void {
    for (const off of this.offs) off();
    this.offs = [];
    this.me = null;
    this.rt = null;
    this.connection = 'idle';
    this.conversations.clear();
    this.timelines.clear();
    this.peerRead.clear();
    this.peerDelivered.clear();
    this.typing.dispose();
    this.social.reset();
    this.groups.reset();
    this.view = { name: 'list' };
    this.changed();
  }

  private async start(): Promise<void> {
    const session = this.client.session!;
    this.me = session.user;
    this.users.set(session.user.id, session.user);
    this.offs.push(session.on('expired', () => void this.signOutLocally('Your session ended. Sign in again.')));
    await Promise.all([this.loadConversations(), this.social.load()]);
    const rt = await this.client.connect();
    this.rt = rt;
    this.connection = rt.state;
    this.offs.push(
      rt.on('state', (s) => {
        this.connection = s;
        this.changed();
      }),
      rt.on('event', (e) => this.onEvent(e)),
      rt.on('read', (r) => {
        if (r.user_id !== this.me?.id) this.bumpPeerRead(r.conversation_id, r.seq);
      }),
      rt.on('delivered', (r) => {
        if (r.user_id !== this.me?.id) this.bump(this.peerDelivered, r.conversation_id, r.seq);
      }),
      rt.on('hidden', (h) => this.hideLocally(h.conversation_id, h.seq)),
      rt.on('typing', (t) => {
        if (t.user_id !== this.me?.id) this.typing.onTyping(t);
      }),
      rt.on('synced', () => this.scheduleRefetch(0)),
      rt.on('closed', (e) => {
        if (e.isAuth) void this.signOutLocally('Your session ended. Sign in again.');
      }),
      rt.on('sendFailed', ({ item, error }) => this.sendFailed(item.conversation_id, item.draft.client_msg_id, error)),
      ...this.social.attach(rt),
    );
    void this.joinPending();
    // Sends left over from an earlier visit (the SDK re-sends them): show them as pending.
    for (const item of rt.outbox()) {
      this.timeline(item.conversation_id).pending.set(item.draft.client_msg_id, {
        client_msg_id: item.draft.client_msg_id,
        text: item.draft.text ?? '',
        queued_at: item.queued_at,
        status: 'sending',
        reply_to: item.draft.reply_to,
        attachments: [],
      });
    }
    this.changed();
  }

  /** Opens an invite link: joins now when signed in, else right after signing in. */
  openInvite(code: string): void {
    this.pendingJoin = code;
    if (this.me) void this.joinPending();
  }

  private async joinPending(): Promise<void> {
    const code = this.pendingJoin;
    if (!code) return;
    this.pendingJoin = null;
    try {
      if ((await this.groups.join(code)) === 'pending') this.notice = 'Asked to join: an admin of the group will let you in.';
    } catch (e) {
      this.notice = `Could not join the group: ${explain(e)}`;
    }
    this.changed();
  }

  // ------------------------------------------------------------ conversations

  async loadConversations(): Promise<void> {
    const list = await this.client.rest.conversations.listAll();
    for (const c of list) {
      const known = this.conversations.get(c.id);
      // Never let an older answer move what realtime (or our own reading) already moved on.
      const merged = { ...c };
      if (known && known.last_seq > c.last_seq) {
        merged.last_seq = known.last_seq;
        merged.last_event = known.last_event;
        merged.unread_count = Math.max(known.unread_count, c.unread_count);
      }
      if (known && known.read_seq > c.read_seq) {
        merged.read_seq = known.read_seq;
        if (merged.read_seq >= merged.last_seq) merged.unread_count = 0;
        else merged.unread_count = Math.min(merged.unread_count, known.unread_count);
      }
      this.conversations.set(c.id, merged);
      if (c.peer) this.users.set(c.peer.id, c.peer);
      if (c.peer_read_seq) this.bump(this.peerRead, c.id, c.peer_read_seq);
      if (c.peer_delivered_seq) this.bump(this.peerDelivered, c.id, c.peer_delivered_seq);
    }
    if (this.view.name === 'chat') this.markRead(this.view.id);
    this.changed();
  }

  private scheduleRefetch(ms = 300): void {
    if (this.refetchTimer) return;
    this.refetchTimer = setTimeout(() => {
      this.refetchTimer = null;
      this.loadConversations().catch(() => {});
    }, ms);
  }

  /** Pinned first, then by latest activity. */
  sortedConversations(): { active: ConversationSummary[]; archived: ConversationSummary[] } {
    const all = [...this.conversations.values()];
    const key = (c: ConversationSummary) => c.last_event?.created_at ?? c.created_at;
    all.sort((a, b) => Number(b.pinned) - Number(a.pinned) || key(b).localeCompare(key(a)));
    return { active: all.filter((c) => !c.archived), archived: all.filter((c) => c.archived) };
  }

  title(c: ConversationSummary | undefined): string {
    if (!c) return 'Conversation';
    return c.title ?? c.peer?.display_name ?? c.peer?.username ?? 'Conversation';
  }

  userName(id: UserId): string {
    const u = this.users.get(id);
    return u?.display_name || u?.username || 'Someone';
  }

  timeline(id: ConversationId): Timeline {
    let t = this.timelines.get(id);
    if (!t) this.timelines.set(id, (t = emptyTimeline()));
    return t;
  }

  // ------------------------------------------------------------ navigation

  go(view: View): void {
    this.view = view;
    this.social.setNoticesOpen(view.name === 'notices');
    this.changed();
    if (view.name === 'chat') {
      const t = this.timeline(view.id);
      if (!t.loaded && !t.loading) void this.loadOlder(view.id);
      this.markRead(view.id);
      const peer = this.conversations.get(view.id)?.peer;
      if (peer) void this.social.fetchProfile(peer.id);
    }
    if (view.name === 'profile') void this.social.fetchProfile(view.id);
  }

  /** The direct conversation with `userId`, if one is loaded. */
  directWith(userId: UserId): ConversationSummary | undefined {
    for (const c of this.conversations.values()) if (c.kind === 'direct' && c.peer?.id === userId) return c;
    return undefined;
  }

  async openDirectWith(user: User): Promise<void> {
    this.users.set(user.id, user);
    const known = this.directWith(user.id);
    if (known) {
      this.go({ name: 'chat', id: known.id });
      return;
    }
    let d;
    try {
      d = await this.client.rest.conversations.openDirect(user.id);
    } catch (e) {
      if (e instanceof ParleyError && e.code === 'forbidden') throw new Error(`You can’t message ${user.display_name || user.username}: ${e.message}.`);
      throw e;
    }
    if (!this.conversations.has(d.id)) {
      this.conversations.set(d.id, {
        id: d.id,
        kind: d.kind,
        title: null,
        peer: user,
        member_count: null,
        last_event: null,
        last_seq: d.last_seq,
        read_seq: d.last_seq,
        peer_read_seq: 0,
        peer_delivered_seq: 0,
        unread_count: 0,
        mention_count: 0,
        pinned: false,
        muted_until: null,
        archived: false,
        created_at: d.created_at,
      });
    }
    this.go({ name: 'chat', id: d.id });
  }

  // ------------------------------------------------------------ history

  /** Loads the page before the oldest loaded message (the latest page first). */
  async loadOlder(id: ConversationId): Promise<void> {
    const t = this.timeline(id);
    if (t.loading || (t.loaded && !t.hasMore)) return;
    t.loading = true;
    this.changed();
    try {
      const c = this.conversations.get(id);
      const before = t.oldest ?? Math.max(c?.last_seq ?? 0, ...t.events.keys(), 0) + 1;
      if (before <= 1) {
        t.hasMore = false;
      } else {
        const page = await this.client.rest.conversations.events(id, { before_seq: before, limit: PAGE });
        for (const e of page.events) {
          // History holds messages as they are now: its follow-ups are already in them.
          if (targetOf(e)) t.followUps.add(e.seq);
          else this.addToTimeline(e);
          t.oldest = t.oldest === null ? e.seq : Math.min(t.oldest, e.seq);
        }
        if (page.events.length === 0) t.hasMore = false;
        else t.hasMore = (t.oldest ?? 1) > 1;
        if (t.oldest === null) t.oldest = before;
      }
      t.loaded = true;
    } catch (e) {
      this.notice = `Could not load messages: ${(e as Error).message}`;
    } finally {
      t.loading = false;
      this.changed();
    }
  }

  private addToTimeline(e: Event): void {
    const t = this.timeline(e.conversation_id);
    const target = targetOf(e);
    if (target) {
      if (t.followUps.has(e.seq)) return;
      t.followUps.add(e.seq);
      // A follow-up: change the message it names, if loaded (history loads it as it is now).
      const seq = t.ids.get(target);
      const msg = seq !== undefined ? t.events.get(seq) : undefined;
      if (msg && seq !== undefined) t.events.set(seq, applyFollowUp(msg, e, this.me?.id ?? null));
      const c = this.conversations.get(e.conversation_id);
      if (c?.last_event && c.last_event.id === target && isMessage(c.last_event)) {
        c.last_event = applyFollowUp(c.last_event, e, this.me?.id ?? null);
      }
      return;
    }
    if (!isMessage(e)) return;
    t.events.set(e.seq, e);
    t.ids.set(e.id, e.seq);
    if (e.sender_id === this.me?.id) t.pending.delete(e.client_msg_id);
    else this.bumpPeerRead(e.conversation_id, e.seq);
  }

  /** The loaded message with this id. */
  message(conv: ConversationId, id: EventId): MessageEvent | undefined {
    const t = this.timelines.get(conv);
    const seq = t?.ids.get(id);
    return seq === undefined ? undefined : t!.events.get(seq);
  }

  /** Deleted for me (here or on another device): its seq stays, its content goes. */
  private hideLocally(conv: ConversationId, seq: Seq): void {
    const t = this.timeline(conv);
    const m = t.events.get(seq);
    if (m) t.events.set(seq, { ...m, hidden: true, text: null, media: [], media_ids: [] });
    this.changed();
  }

  // ------------------------------------------------------------ realtime

  /** Applies one event (from the SDK, or a send's acknowledgement). */
  onEvent(e: Event): void {
    const c = this.conversations.get(e.conversation_id);
    this.typing.onEvent(e);
    this.addToTimeline(e);
    this.groups.onEvent(e);
    if (!c) {
      this.scheduleRefetch();
      this.changed();
      return;
    }
    if (e.seq > c.last_seq) {
      c.last_seq = e.seq;
      c.last_event = e;
      if (e.sender_id === this.me?.id) {
        c.read_seq = Math.max(c.read_seq, e.seq);
      } else if (e.seq > c.read_seq && isMessage(e)) {
        c.unread_count += 1;
        if (this.mentionsMe(e)) c.mention_count += 1;
      }
    }
    if (this.view.name === 'chat' && this.view.id === e.conversation_id) this.markRead(e.conversation_id);
    this.changed();
  }

  /** Whether a message names the user (or everyone). */
  mentionsMe(e: MessageEvent): boolean {
    return e.sender_id !== this.me?.id && (e.mention_all === true || (!!this.me && (e.mentions ?? []).includes(this.me.id)));
  }

  private bumpPeerRead(id: ConversationId, seq: Seq): void {
    this.bump(this.peerRead, id, seq);
    // Read implies delivered.
    this.bump(this.peerDelivered, id, seq);
  }

  private bump(map: Map<ConversationId, Seq>, id: ConversationId, seq: Seq): void {
    if (seq > (map.get(id) ?? 0)) {
      map.set(id, seq);
      this.changed();
    }
  }

  /** Read receipt for everything loaded in the open conversation (when the page is visible). */
  markRead(id: ConversationId): void {
    const c = this.conversations.get(id);
    if (!c || !this.rt) return;
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
    if (c.last_seq > c.read_seq || c.unread_count > 0) {
      c.read_seq = Math.max(c.read_seq, c.last_seq);
      c.unread_count = 0;
      c.mention_count = 0;
      this.rt.read(id, c.read_seq);
      this.changed();
    }
  }

  // ------------------------------------------------------------ sending

  /**
   * Shows the message at once (optimistic), uploads its files (progress on the pending message),
   * then sends it; acknowledged, it becomes the stored event.
   */
  send(id: ConversationId, text: string, extras: SendExtras = {}): void {
    const body = text.trim();
    const files = extras.files ?? [];
    if ((!body && files.length === 0) || !this.rt) return;
    const p: PendingMessage = {
      client_msg_id: newClientMsgId(),
      text: body,
      queued_at: Date.now(),
      status: files.length ? 'uploading' : 'sending',
      reply_to: extras.replyTo ?? null,
      mentions: extras.mentions?.length ? extras.mentions : undefined,
      mention_all: extras.mentionAll || undefined,
      attachments: files.map((file) => ({ file, loaded: 0 })),
    };
    this.timeline(id).pending.set(p.client_msg_id, p);
    this.rt.typing(id, false);
    this.changed();
    void this.uploadThenDispatch(id, p);
  }

  /** Sends a failed message again with the same client_msg_id: never stored twice. */
  retry(id: ConversationId, clientMsgId: string): void {
    const p = this.timeline(id).pending.get(clientMsgId);
    if (!p) return;
    p.status = p.attachments.some((a) => !a.media) ? 'uploading' : 'sending';
    p.error = undefined;
    this.changed();
    void this.uploadThenDispatch(id, p);
  }

  /** Drops a message that was never sent. */
  discard(id: ConversationId, clientMsgId: string): void {
    if (this.timeline(id).pending.delete(clientMsgId)) this.changed();
  }

  private async uploadThenDispatch(id: ConversationId, p: PendingMessage): Promise<void> {
    try {
      // One at a time: a phone's uplink is the limit, and progress reads better.
      for (const a of p.attachments) {
        if (a.media) continue;
        a.media = await this.client.rest.media.upload(a.file, {
          onProgress: ({ loaded }) => {
            a.loaded = loaded;
            this.changed();
          },
        });
        this.changed();
      }
    } catch (e) {
      p.status = 'failed';
      p.error = `Upload failed: ${explain(e)}`;
      this.changed();
      return;
    }
    p.status = 'sending';
    this.changed();
    this.dispatch(id, p);
  }

  private dispatch(id: ConversationId, p: PendingMessage): void {
    const draft: MessageDraft = { client_msg_id: p.client_msg_id, text: p.text || null };
    if (p.reply_to) draft.reply_to = p.reply_to;
    if (p.mentions?.length) draft.mentions = p.mentions;
    if (p.mention_all) draft.mention_all = true;
    if (p.attachments.length) draft.media_ids = p.attachments.map((a) => a.media!.id);
    this.rt!.send(id, draft).then(
      (e) => this.onEvent(e),
      (err: ParleyError) => {
        if (err.code !== 'closed') this.sendFailed(id, p.client_msg_id, err);
      },
    );
  }

  /** A send refused for good: marked "Not sent" with the reason (a 403 also in the chat). */
  private sendFailed(id: ConversationId, clientMsgId: string, err: ParleyError): void {
    const cur = this.timeline(id).pending.get(clientMsgId);
    if (err.code === 'forbidden') this.social.onRefused(id, err.message);
    if (!cur) return;
    cur.status = 'failed';
    cur.error = err.code === 'forbidden' ? explain(err, 'message') : err.message;
    this.changed();
  }

  typingNow(id: ConversationId): void {
    this.rt?.typing(id);
  }

  typingStopped(id: ConversationId): void {
    this.rt?.typing(id, false);
  }

  // ------------------------------------------------------------ what happens to messages

  /** Applies a follow-up (edit, recall, reaction) we made, without waiting for its event. */
  private applied(e: Event | null): void {
    if (e) this.onEvent(e);
  }

  async edit(conv: ConversationId, messageId: EventId, text: string): Promise<void> {
    this.applied(await this.rt!.edit(conv, messageId, text.trim()));
  }

  async recall(conv: ConversationId, messageId: EventId): Promise<void> {
    this.applied(await this.rt!.recall(conv, messageId));
  }

  /** Adds my reaction, or removes it when I already reacted with that emoji. */
  async toggleReaction(conv: ConversationId, messageId: EventId, emoji: string): Promise<void> {
    const mine = this.message(conv, messageId)?.reactions?.some((r) => r.emoji === emoji && r.me) ?? false;
    this.applied(await this.rt!.react(conv, messageId, emoji, !mine));
  }

  async deleteForMe(conv: ConversationId, messageId: EventId): Promise<void> {
    await this.client.rest.messages.hide(conv, messageId);
    const seq = this.timeline(conv).ids.get(messageId);
    if (seq !== undefined) this.hideLocally(conv, seq);
  }

  // ------------------------------------------------------------ conversation settings

  /** Shows the change at once (a checkbox must not spring back while the request runs), then the server's answer; undone if refused. */
  async updateSettings(id: ConversationId, changes: { pinned?: boolean; archived?: boolean; muted_until?: string | null }): Promise<void> {
    const c = this.conversations.get(id);
    const before = c && { pinned: c.pinned, archived: c.archived, muted_until: c.muted_until };
    if (c) Object.assign(c, changes);
    this.changed();
    try {
      const s = await this.client.rest.conversations.updateSettings(id, changes);
      if (c) Object.assign(c, { pinned: s.pinned, archived: s.archived, muted_until: s.muted_until });
    } catch (e) {
      if (c && before) Object.assign(c, before);
      throw e;
    } finally {
      this.changed();
    }
  }

  /** Whether a conversation is muted now. */
  isMuted(c: ConversationSummary | undefined): boolean {
    return !!c?.muted_until && Date.parse(c.muted_until) > Date.now();
  }
}
