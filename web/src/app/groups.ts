/**
 * The groups slice of the app state: each open group's details, members (with roles) and
 * invite codes, loaded when its chat or details open and refreshed when its log says the
 * membership or settings changed (`member_joined`, `role_changed`, `group_updated`, ...).
 */
import { type ConversationId, type Event, type Group, type GroupInvite, type GroupMember, type Role, type UserId } from '../sdk';
import type { AppState } from './state';

export interface GroupInfo {
  group: Group | null;
  members: GroupMember[];
  invites: GroupInvite[];
  loading: boolean;
  error: string | null;
}

/** Events that change what a group's details show. */
const CHANGES = new Set([
  'member_joined',
  'member_left',
  'role_changed',
  'member_muted',
  'group_updated',
  'announcement',
  'group_dissolved',
]);

/** Roles in rising rank. */
const RANK: Record<Role, number> = { guest: 0, member: 1, admin: 2, owner: 3 };

/** The link that opens the app on the join screen. */
export function inviteLink(code: string, origin = location.origin): string {
  return `${origin}/#/join/${encodeURIComponent(code)}`;
}

export class Groups {
  info = new Map<ConversationId, GroupInfo>();
  private reloads = new Map<ConversationId, ReturnType<typeof setTimeout>>();
  /** The latest load started per group: an older one that answers later is dropped. */
  private loads = new Map<ConversationId, number>();

  constructor(private readonly app: AppState) {}

  private get rest() {
    return this.app.client.rest.groups;
  }

  reset(): void {
    for (const t of this.reloads.values()) clearTimeout(t);
    this.reloads.clear();
    this.info.clear();
  }

  of(id: ConversationId): GroupInfo | undefined {
    return this.info.get(id);
  }

  myRole(id: ConversationId): Role | null {
    return this.info.get(id)?.group?.my_role ?? null;
  }

  /** Owner and admins manage members, invites and settings. */
  canManage(id: ConversationId): boolean {
    const r = this.myRole(id);
    return r === 'owner' || r === 'admin';
  }

  /** Whether I may change `member`'s role or remove them (a higher rank than theirs). */
  outranks(id: ConversationId, member: GroupMember): boolean {
    const r = this.myRole(id);
    return !!r && member.user.id !== this.app.me?.id && RANK[r] >= RANK.admin && RANK[r] > RANK[member.role];
  }

  /** Loads (or reloads) a group's details and members; invites too for those who manage it. */
  async load(id: ConversationId): Promise<void> {
    const cur = this.info.get(id) ?? { group: null, members: [], invites: [], loading: false, error: null };
    cur.loading = true;
    this.info.set(id, cur);
    this.app.changed();
    const n = (this.loads.get(id) ?? 0) + 1;
    this.loads.set(id, n);
    try {
      const [group, members] = await Promise.all([this.rest.get(id), this.rest.membersAll(id)]);
      const invites =
        group.my_role === 'owner' || group.my_role === 'admin'
          ? (await this.rest.invites(id, { limit: 50 })).invites.filter((i) => !i.revoked_at)
          : [];
      // Changes come in quick succession (a role, then a mute): keep only the newest answer.
      if (this.loads.get(id) !== n) return;
      cur.group = group;
      cur.members = members;
      for (const m of members) this.app.users.set(m.user.id, m.user);
      cur.invites = invites;
      cur.error = null;
    } catch (e) {
      if (this.loads.get(id) === n) cur.error = (e as Error).message;
    } finally {
      if (this.loads.get(id) === n) cur.loading = false;
      this.app.changed();
    }
  }

  /** Keeps a loaded group current as its log changes. */
  onEvent(e: Event): void {
    if (!CHANGES.has(e.kind) || !this.info.has(e.conversation_id)) return;
    if (this.reloads.has(e.conversation_id)) return;
    this.reloads.set(
      e.conversation_id,
      setTimeout(() => {
        this.reloads.delete(e.conversation_id);
        void this.load(e.conversation_id);
      }, 200),
    );
  }

  /** Creates a group with friends as its first members, and opens it. */
  async create(name: string, memberIds: UserId[]): Promise<void> {
    const g = await this.rest.create({ name: name.trim(), member_ids: memberIds });
    await this.app.loadConversations();
    this.app.go({ name: 'chat', id: g.conversation_id });
  }

  async createInvite(id: ConversationId): Promise<GroupInvite> {
    const inv = await this.rest.createInvite(id, {});
    this.info.get(id)?.invites.unshift(inv);
    this.app.changed();
    return inv;
  }

  async revokeInvite(id: ConversationId, code: string): Promise<void> {
    await this.rest.revokeInvite(id, code);
    const info = this.info.get(id);
    if (info) info.invites = info.invites.filter((i) => i.code !== code);
    this.app.changed();
  }

  /** Joins by a link or code: opens the group, or says it waits for approval. */
  async join(linkOrCode: string): Promise<'joined' | 'pending'> {
    const out = await this.rest.join(linkOrCode);
    if (out.pending) return 'pending';
    await this.app.loadConversations();
    this.app.go({ name: 'chat', id: out.group_id });
    return 'joined';
  }

  async addMembers(id: ConversationId, userIds: UserId[]): Promise<void> {
    await this.rest.addMembers(id, userIds);
    await this.load(id);
  }

  async setRole(id: ConversationId, userId: UserId, role: Role): Promise<void> {
    await this.rest.updateMember(id, userId, { role });
    await this.load(id);
  }

  /** Mutes a member (they may not post) until `until`; null unmutes. */
  async muteMember(id: ConversationId, userId: UserId, until: string | null): Promise<void> {
    await this.rest.updateMember(id, userId, { muted_until: until });
    await this.load(id);
  }

  async remove(id: ConversationId, userId: UserId): Promise<void> {
    await this.rest.removeMember(id, userId);
    await this.load(id);
  }

  async leave(id: ConversationId): Promise<void> {
    await this.rest.leave(id);
    this.info.delete(id);
    this.app.conversations.delete(id);
    this.app.go({ name: 'list' });
  }
}
