import type { Http } from '../http';
import type {
  Friend,
  FriendPage,
  FriendRequest,
  FriendRequestDirection,
  FriendRequestId,
  FriendRequestPage,
  PageQuery,
  UserId,
} from '../types';
import { allPages, MAX_PAGE } from './paging';

/** What {@link FriendsApi.request} did. */
export interface FriendRequestResult {
  /** The new pending request (201), or their pending request to the caller, now accepted (200). */
  request: FriendRequest;
  /** True when the other user had already asked: the two are friends now. */
  accepted: boolean;
}

/**
 * `/v1/friends*`: friends and friend requests. The other side hears about each change as a
 * notice (`friend_request`, `friend_accepted`, `friend_declined`, `friend_request_cancelled`,
 * `friend_removed`); see {@link RealtimeClient}'s `notice` event.
 */
export class FriendsApi {
  constructor(private readonly http: Http) {}

  /** One page of friends, by username, each with `since` and (when they show it) presence. */
  list(query: PageQuery = {}): Promise<FriendPage> {
    return this.http.request('GET', '/v1/friends', { query: { ...query } });
  }

  /** Every friend, all pages. */
  listAll(): Promise<Friend[]> {
    return allPages((cursor) => this.list({ cursor, limit: MAX_PAGE }), (p) => p.friends);
  }

  /** Ends the friendship (404 `not_found` when not friends). */
  remove(userId: UserId): Promise<void> {
    return this.http.request('DELETE', `/v1/friends/${encodeURIComponent(userId)}`);
  }

  /**
   * Asks `userId` to be friends, with an optional note (at most 200 characters). When they had
   * already asked the caller, this accepts their request instead (`accepted: true`). Fails with
   * 403 `forbidden` (a block between the two), 409 `conflict` (already friends, or already
   * asked), 429 `rate_limited` (too many pending requests).
   */
  async request(userId: UserId, message?: string | null): Promise<FriendRequestResult> {
    const note = message?.trim();
    const request: FriendRequest = await this.http.request('POST', '/v1/friends/requests', {
      body: note ? { user_id: userId, message: note } : { user_id: userId },
    });
    // 201 answers a pending request, 200 their request with `status: accepted`.
    return { request, accepted: request.status === 'accepted' };
  }

  /** One page of pending requests, oldest first: `incoming` (default) or `outgoing`. */
  requests(direction: FriendRequestDirection = 'incoming', query: PageQuery = {}): Promise<FriendRequestPage> {
    return this.http.request('GET', '/v1/friends/requests', { query: { ...query, direction } });
  }

  /** Every pending request of one direction, all pages. */
  allRequests(direction: FriendRequestDirection = 'incoming'): Promise<FriendRequest[]> {
    return allPages((cursor) => this.requests(direction, { cursor, limit: MAX_PAGE }), (p) => p.requests);
  }

  /** The recipient accepts (409 `conflict` when no longer pending). */
  accept(id: FriendRequestId): Promise<FriendRequest> {
    return this.http.request('POST', `/v1/friends/requests/${encodeURIComponent(id)}/accept`);
  }

  /** The recipient declines. */
  decline(id: FriendRequestId): Promise<FriendRequest> {
    return this.http.request('POST', `/v1/friends/requests/${encodeURIComponent(id)}/decline`);
  }

  /** The sender withdraws a pending request. */
  cancel(id: FriendRequestId): Promise<FriendRequest> {
    return this.http.request('DELETE', `/v1/friends/requests/${encodeURIComponent(id)}`);
  }
}
