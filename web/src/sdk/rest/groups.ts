import type { Http } from '../http';
import type {
  AddOutcome,
  ConversationId,
  CreateGroupBody,
  CreateInviteBody,
  Group,
  GroupInvite,
  GroupMember,
  InvitePage,
  JoinOutcome,
  JoinRequestPage,
  MemberPage,
  PageQuery,
  UpdateGroupBody,
  UpdateMemberBody,
  UserId,
} from '../types';
import { allPages, MAX_PAGE } from './paging';

const g = (id: ConversationId) => `/v1/groups/${encodeURIComponent(id)}`;

/**
 * `/v1/groups*`: groups, their members and roles, invite codes and join requests. A group's id is
 * its conversation's id; membership changes are events in its log (`member_joined`, ...).
 */
export class GroupsApi {
  constructor(private readonly http: Http) {}

  /** Creates a group with the caller as owner and `member_ids` as its first members. */
  create(body: CreateGroupBody): Promise<Group> {
    return this.http.request('POST', '/v1/groups', { body });
  }

  get(id: ConversationId): Promise<Group> {
    return this.http.request('GET', g(id));
  }

  /** Owner and admins: name, description, broadcast-only, history visibility, join approval, avatar. */
  update(id: ConversationId, changes: UpdateGroupBody): Promise<Group> {
    return this.http.request('PATCH', g(id), { body: changes });
  }

  /** Owner only: the group ends (its log stays readable). */
  dissolve(id: ConversationId): Promise<void> {
    return this.http.request('DELETE', g(id));
  }

  members(id: ConversationId, query: PageQuery = {}): Promise<MemberPage> {
    return this.http.request('GET', `${g(id)}/members`, { query: { ...query } });
  }

  /** Every member, all pages, in the order they joined. */
  membersAll(id: ConversationId): Promise<GroupMember[]> {
    return allPages((cursor) => this.members(id, { cursor, limit: MAX_PAGE }), (p) => p.members);
  }

  addMembers(id: ConversationId, userIds: UserId[]): Promise<AddOutcome> {
    return this.http.request('POST', `${g(id)}/members`, { body: { user_ids: userIds } });
  }

  removeMember(id: ConversationId, userId: UserId): Promise<void> {
    return this.http.request('DELETE', `${g(id)}/members/${encodeURIComponent(userId)}`);
  }

  /** A member's role, or a mute (`muted_until`; null unmutes). */
  updateMember(id: ConversationId, userId: UserId, changes: UpdateMemberBody): Promise<GroupMember> {
    return this.http.request('PATCH', `${g(id)}/members/${encodeURIComponent(userId)}`, { body: changes });
  }

  leave(id: ConversationId): Promise<void> {
    return this.http.request('POST', `${g(id)}/leave`);
  }

  /** Owner only: `userId` becomes the owner, the caller an admin. */
  transfer(id: ConversationId, userId: UserId): Promise<Group> {
    return this.http.request('POST', `${g(id)}/transfer`, { body: { user_id: userId } });
  }

  /** Sets the pinned announcement (an empty string clears it). */
  announce(id: ConversationId, text: string): Promise<Group> {
    return this.http.request('PUT', `${g(id)}/announcement`, { body: { text } });
  }

  invites(id: ConversationId, query: PageQuery = {}): Promise<InvitePage> {
    return this.http.request('GET', `${g(id)}/invites`, { query: { ...query } });
  }

  /** A new invite code (default: 7 days, any number of uses). */
  createInvite(id: ConversationId, body: CreateInviteBody = {}): Promise<GroupInvite> {
    return this.http.request('POST', `${g(id)}/invites`, { body });
  }

  revokeInvite(id: ConversationId, code: string): Promise<void> {
    return this.http.request('DELETE', `${g(id)}/invites/${encodeURIComponent(code)}`);
  }

  /** Joins by invite link or code: a member now, or `pending` until an owner or admin approves. */
  join(linkOrCode: string): Promise<JoinOutcome> {
    return this.http.request('POST', '/v1/groups/join', { body: { code: inviteCodeOf(linkOrCode) } });
  }

  joinRequests(id: ConversationId, query: PageQuery = {}): Promise<JoinRequestPage> {
    return this.http.request('GET', `${g(id)}/join-requests`, { query: { ...query } });
  }

  approve(id: ConversationId, userId: UserId): Promise<void> {
    return this.http.request('POST', `${g(id)}/join-requests/${encodeURIComponent(userId)}/approve`);
  }

  decline(id: ConversationId, userId: UserId): Promise<void> {
    return this.http.request('POST', `${g(id)}/join-requests/${encodeURIComponent(userId)}/decline`);
  }
}

/** The part of an invite link after `#/join/`, or the code itself. */
export function inviteCodeOf(linkOrCode: string): string {
  const s = linkOrCode.trim();
  const m = /[#/]join\/([^/?#\s]+)/.exec(s);
  return m ? decodeURIComponent(m[1]!) : s;
}
