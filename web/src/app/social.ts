/**
 * The social slice of the app state: the own profile and settings, friends and their presence,
 * friend requests both ways, blocks, other people's profiles (relationship), notices with the
 * unseen count, and sessions. Kept current by notices (frames while connected, `GET /v1/notices`
 * again after each reconnect since `sync` does not replay them) and by the user's own actions
 * (the actor of an unfriend or a block gets no notice).
 */
import {
  isDeleted,
  ParleyError,
  type BlockedUser,
  type ConversationId,
  type Friend,
  type FriendRequest,
  type Notice,
  type OwnProfile,
  type PresenceState,
  type Profile,
  type RealtimeClient,
  type Relationship,
  type SessionInfo,
  type UpdateProfile,
  type User,
  type UserId,
} from '../sdk';
import type { AppState } from './state';

export const NOTICE_PAGE = 50;

/** A readable sentence for a failed social action. */
export function explain(e: unknown, what: 'request' | 'message' | 'other' = 'other'): string {
  if (!(e instanceof ParleyError)) return (e as Error)?.message || 'Something went wrong';
  switch (e.code) {
    case 'forbidden':
      if (what === 'request') return 'You can’t send this person a friend request.';
      if (what === 'message') return 'You can’t message this person.';
      return e.message;
    case 'conflict':
      if (what === 'request') return 'You are already friends, or a request is already waiting.';
      return e.message;
    case 'rate_limited':
      if (what === 'request') return 'Too many friend requests are waiting for an answer. Try again later.';
      return 'Too many requests. Try again in a moment.';
    case 'network':
      return 'Could not reach the server.';
    default:
      return e.message;
  }
}

export class Social {
  profile: OwnProfile | null = null;
  /** Friends by id. */
  friends = new Map<UserId, Friend>();
  /** Pending requests to the user, oldest first. */
  incoming: FriendRequest[] = [];
  /** Pending requests from the user, oldest first. */
  outgoing: FriendRequest[] = [];
  /** Users the user blocked. */
  blocked = new Map<UserId, BlockedUser>();
  /** Profiles fetched with `GET /v1/users/{id}` (relationship: `blocked` means either way). */
  profiles = new Map<UserId, Profile>();
  /** Newest first. */
  notices: Notice[] = [];
  unseen = 0;
  noticesOpen = false;
  sessions: SessionInfo[] | null = null;
  /** Why the node refused a send in a conversation (a 403), shown in the chat. */
  refused = new Map<ConversationId, string>();
  loaded = false;
  private fetching = new Set<UserId>();
  private rt: RealtimeClient | null = null;
  private connects = 0;

  constructor(private readonly app: AppState) {}

  private get rest() {
    return this.app.client.rest;
  }

  private changed(): void {
    this.app.changed();
  }

  // ------------------------------------------------------------ loading

  /** Everything at sign-in (before the realtime connection exists). */
  async load(): Promise<void> {
    const [profile] = await Promise.all([this.rest.account.profile(), this.refresh()]);
    this.profile = profile;
    this.loaded = true;
    this.changed();
  }

  /** Friends, requests, blocks and notices again (after a reconnect: notices are not replayed). */
  async refresh(): Promise<void> {
    const since = this.rt?.presence.mark() ?? 0;
    const [friends, incoming, outgoing, blocks, notices] = await Promise.all([
      this.rest.friends.listAll(),
      this.rest.friends.allRequests('incoming'),
      this.rest.friends.allRequests('outgoing'),
      this.rest.blocks.listAll(),
      this.rest.notices.list({ limit: NOTICE_PAGE }),
    ]);
    this.friends = new Map(friends.map((f) => [f.id, f]));
    this.incoming = incoming;
    this.outgoing = outgoing;
    this.blocked = new Map(blocks.map((b) => [b.id, b]));
    for (const u of [...friends, ...blocks, ...incoming.map((r) => r.from), ...outgoing.map((r) => r.to)]) this.remember(u);
    this.rt?.presence.seed(friends, since);
    this.mergeNotices(notices.notices);
    this.unseen = notices.unseen_count;
    if (this.noticesOpen) void this.markSeen();
    this.changed();
  }

  /** Follows the realtime client's notices and presence. */
  attach(rt: RealtimeClient): (() => void)[] {
    this.rt = rt;
    // REST answers from before the connection existed only fill gaps in what realtime says.
    rt.presence.seed([...this.friends.values()], 0);
    return [
      rt.on('notice', (n) => this.onNotice(n)),
      rt.on('presence', () => this.changed()),
      rt.on('connected', () => {
        if (this.connects++ > 0) this.refresh().catch(() => {});
      }),
    ];
  }

  reset(): void {
    this.profile = null;
    this.friends.clear();
    this.incoming = [];
    this.outgoing = [];
    this.blocked.clear();
    this.profiles.clear();
    this.notices = [];
    this.unseen = 0;
    this.noticesOpen = false;
    this.sessions = null;
    this.refused.clear();
    this.loaded = false;
    this.rt = null;
    this.connects = 0;
  }

  private remember(u: User): void {
    this.app.users.set(u.id, { ...this.app.users.get(u.id), ...u });
  }

  // ------------------------------------------------------------ reading

  isFriend(id: UserId): boolean {
    return this.friends.has(id);
  }

  /** A friend's presence (null for anyone else). Friends who hide it look offline. */
  presenceOf(id: UserId): PresenceState | null {
    const f = this.friends.get(id);
    if (!f) return null;
    return this.rt?.presence.get(id) ?? { online: f.online === true, last_seen_at: f.last_seen_at ?? null };
  }

  /** How the user stands with `id`, from what is loaded. */
  relationshipOf(id: UserId): Relationship {
    if (this.blocked.has(id)) return 'blocked';
    if (this.friends.has(id)) return 'friend';
    if (this.outgoing.some((r) => r.to.id === id)) return 'request_sent';
    if (this.incoming.some((r) => r.from.id === id)) return 'request_received';
    const p = this.profiles.get(id);
    // `blocked` from the server but not in our blocks: they blocked us.
    if (p?.relationship === 'blocked') return 'blocked';
    return 'none';
  }

  /** Whether they blocked the user (known from their profile). */
  blockedBy(id: UserId): boolean {
    return !this.blocked.has(id) && this.profiles.get(id)?.relationship === 'blocked';
  }

  incomingFrom(id: UserId): FriendRequest | undefined {
    return this.incoming.find((r) => r.from.id === id);
  }

  outgoingTo(id: UserId): FriendRequest | undefined {
    return this.outgoing.find((r) => r.to.id === id);
  }

  /**
   * Why the user cannot message `peer` in `conv`, or null: a deleted account, a block (either
   * way), or a refusal the node gave to a send.
   */
  cannotMessage(conv: ConversationId, peer: User | null | undefined): { text: string; detail?: string; unblock?: boolean } | null {
    if (!peer) return null;
    if (isDeleted(peer) || isDeleted(this.profiles.get(peer.id))) return { text: 'This account was deleted. You can’t message it.' };
    if (this.blocked.has(peer.id)) return { text: `You blocked ${this.app.userName(peer.id)}. Unblock them to message each other.`, unblock: true };
    if (this.blockedBy(peer.id)) return { text: 'You can’t message this person.' };
    const why = this.refused.get(conv);
    if (why) return { text: 'You can’t message this person.', detail: why };
    return null;
  }

  /** Fetches a profile (relationship, presence), at most one request per user at a time. */
  async fetchProfile(id: UserId): Promise<Profile | undefined> {
    if (this.fetching.has(id)) return this.profiles.get(id);
    this.fetching.add(id);
    const since = this.rt?.presence.mark() ?? 0;
    try {
      const p = await this.rest.users.get(id);
      this.profiles.set(id, p);
      this.remember(p);
      if (p.relationship === 'friend') this.rt?.presence.seed([p], since);
      this.changed();
      return p;
    } catch {
      return undefined;
    } finally {
      this.fetching.delete(id);
    }
  }

  /** A user's name for notices: known, or fetched once. */
  nameOf(id: UserId): string {
    if (!this.app.users.has(id) && !this.fetching.has(id) && !this.profiles.has(id)) void this.fetchProfile(id);
    return this.app.userName(id);
  }

  // ------------------------------------------------------------ notices

  private mergeNotices(list: Notice[]): void {
    const byId = new Map(this.notices.map((n) => [n.id, n]));
    for (const n of list) byId.set(n.id, n);
    this.notices = [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    for (const n of list) {
      if (n.kind === 'friend_request') this.remember(n.request.from);
      if (n.kind === 'friend_accepted') this.remember(n.user);
    }
  }

  onNotice(n: Notice): void {
    if (this.notices.some((x) => x.id === n.id)) return;
    this.mergeNotices([n]);
    if (!n.seen) this.unseen++;
    switch (n.kind) {
      case 'friend_request':
        if (!this.incoming.some((r) => r.id === n.request.id)) this.incoming = [...this.incoming, n.request];
        break;
      case 'friend_accepted':
        this.addFriend(n.user, n.created_at);
        break;
      case 'friend_declined':
        this.outgoing = this.outgoing.filter((r) => r.id !== n.request_id);
        break;
      case 'friend_request_cancelled':
        this.incoming = this.incoming.filter((r) => r.id !== n.request_id);
        break;
      case 'friend_removed':
        // An unfriend, a block or a deleted account: the profile tells which.
        this.friends.delete(n.user_id);
        this.incoming = this.incoming.filter((r) => r.from.id !== n.user_id);
        this.outgoing = this.outgoing.filter((r) => r.to.id !== n.user_id);
        void this.fetchProfile(n.user_id);
        break;
    }
    if (this.noticesOpen) void this.markSeen();
    this.changed();
  }

  /** The notices screen opened (or closed): while open, everything shown is seen. */
  setNoticesOpen(open: boolean): void {
    this.noticesOpen = open;
    if (open) void this.markSeen();
  }

  async markSeen(): Promise<void> {
    const newest = this.notices[0];
    if (!newest || (this.unseen === 0 && newest.seen)) return;
    this.unseen = 0;
    this.notices = this.notices.map((n) => (n.seen ? n : { ...n, seen: true }));
    this.changed();
    try {
      await this.rest.notices.markSeen(newest.id);
    } catch {
      /* seen again next time */
    }
  }

  // ------------------------------------------------------------ friends

  private addFriend(u: User, since: string): void {
    this.remember(u);
    if (!this.friends.has(u.id)) this.friends.set(u.id, { ...u, since });
    this.incoming = this.incoming.filter((r) => r.from.id !== u.id);
    this.outgoing = this.outgoing.filter((r) => r.to.id !== u.id);
    const p = this.profiles.get(u.id);
    if (p) this.profiles.set(u.id, { ...p, relationship: 'friend' });
    // Messages may go through now.
    for (const c of this.app.conversations.values()) if (c.peer?.id === u.id) this.refused.delete(c.id);
  }

  /** Sends a friend request (or accepts theirs, when they already asked). */
  async sendRequest(user: User, note?: string): Promise<'sent' | 'friends'> {
    const { request, accepted } = await this.rest.friends.request(user.id, note);
    if (accepted) this.addFriend(user, request.decided_at ?? new Date().toISOString());
    else if (!this.outgoing.some((r) => r.id === request.id)) this.outgoing = [...this.outgoing, request];
    this.changed();
    return accepted ? 'friends' : 'sent';
  }

  async accept(r: FriendRequest): Promise<void> {
    try {
      const done = await this.rest.friends.accept(r.id);
      this.addFriend(r.from, done.decided_at ?? new Date().toISOString());
    } catch (e) {
      // No longer pending (cancelled meanwhile): drop it.
      if (e instanceof ParleyError && (e.status === 404 || e.status === 409)) this.incoming = this.incoming.filter((x) => x.id !== r.id);
      throw e;
    } finally {
      this.changed();
    }
  }

  async decline(r: FriendRequest): Promise<void> {
    try {
      await this.rest.friends.decline(r.id);
    } catch (e) {
      if (!(e instanceof ParleyError && (e.status === 404 || e.status === 409))) throw e;
    }
    this.incoming = this.incoming.filter((x) => x.id !== r.id);
    this.changed();
  }

  async cancel(r: FriendRequest): Promise<void> {
    try {
      await this.rest.friends.cancel(r.id);
    } catch (e) {
      if (!(e instanceof ParleyError && (e.status === 404 || e.status === 409))) throw e;
    }
    this.outgoing = this.outgoing.filter((x) => x.id !== r.id);
    this.changed();
  }

  async unfriend(id: UserId): Promise<void> {
    try {
      await this.rest.friends.remove(id);
    } catch (e) {
      if (!(e instanceof ParleyError && e.status === 404)) throw e;
    }
    this.friends.delete(id);
    // The actor gets no notice, and presence frames just stop.
    this.rt?.presence.forget(id);
    const p = this.profiles.get(id);
    if (p) this.profiles.set(id, { ...p, relationship: 'none', online: null, last_seen_at: null });
    this.changed();
  }

  // ------------------------------------------------------------ blocks

  async block(user: User): Promise<void> {
    await this.rest.blocks.block(user.id);
    this.blocked.set(user.id, { ...user, blocked_at: new Date().toISOString() });
    this.friends.delete(user.id);
    this.incoming = this.incoming.filter((r) => r.from.id !== user.id);
    this.outgoing = this.outgoing.filter((r) => r.to.id !== user.id);
    this.rt?.presence.forget(user.id);
    const p = this.profiles.get(user.id);
    if (p) this.profiles.set(user.id, { ...p, relationship: 'blocked', online: null, last_seen_at: null });
    this.changed();
  }

  async unblock(id: UserId): Promise<void> {
    await this.rest.blocks.unblock(id);
    this.blocked.delete(id);
    for (const c of this.app.conversations.values()) if (c.peer?.id === id) this.refused.delete(c.id);
    this.changed();
    await this.fetchProfile(id);
  }

  /** A send in `conv` came back 403: say so in the chat, and learn why from the profile. */
  onRefused(conv: ConversationId, message: string): void {
    this.refused.set(conv, message);
    this.changed();
    const peer = this.app.conversations.get(conv)?.peer;
    if (!peer) return;
    void this.fetchProfile(peer.id).then((p) => {
      // A block shows from the profile (fetched again whenever the chat opens), so it lifts with
      // the block; other refusals (friends only) stay until "Try again" or a friendship.
      if (p?.relationship === 'blocked' || isDeleted(p)) {
        this.refused.delete(conv);
        this.changed();
      }
    });
  }

  // ------------------------------------------------------------ account

  async saveProfile(patch: UpdateProfile): Promise<void> {
    const p = await this.rest.account.updateProfile(patch);
    this.profile = p;
    if (this.app.me) this.app.me = { ...this.app.me, display_name: p.display_name, bio: p.bio };
    this.remember(p);
    this.changed();
  }

  async loadSessions(): Promise<void> {
    this.sessions = await this.rest.account.allSessions();
    this.changed();
  }

  async revokeSession(s: SessionInfo): Promise<void> {
    if (s.current) {
      await this.app.signOut();
      return;
    }
    try {
      await this.rest.account.revokeSession(s.id);
    } catch (e) {
      if (!(e instanceof ParleyError && e.status === 404)) throw e;
    }
    this.sessions = (this.sessions ?? []).filter((x) => x.id !== s.id);
    this.changed();
  }

  async changePassword(current: string, next: string): Promise<void> {
    await this.rest.account.changePassword(current, next);
    // Every other session was signed out.
    await this.loadSessions().catch(() => {});
  }

  async deleteAccount(password: string): Promise<void> {
    await this.rest.account.deleteAccount(password);
    await this.app.signOutLocally('Your account was deleted.');
  }
}
