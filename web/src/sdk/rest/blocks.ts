import type { Http } from '../http';
import type { BlockedUser, BlockPage, PageQuery, UserId } from '../types';
import { allPages, MAX_PAGE } from './paging';

/**
 * `/v1/blocks*`. A block (either way) ends any friendship and pending requests between the two
 * and refuses friend requests, opening a direct conversation and direct sends (403 `forbidden`,
 * a `reply` with `forbidden` over realtime) in both directions. Only the blocked user hears of
 * it (a `friend_removed` notice, when they were friends).
 */
export class BlocksApi {
  constructor(private readonly http: Http) {}

  /** Blocks `userId` (safe to repeat). */
  block(userId: UserId): Promise<void> {
    return this.http.request('PUT', `/v1/blocks/${encodeURIComponent(userId)}`);
  }

  /** Lifts the caller's block (safe to repeat); no friendship comes back. */
  unblock(userId: UserId): Promise<void> {
    return this.http.request('DELETE', `/v1/blocks/${encodeURIComponent(userId)}`);
  }

  /** One page of the users the caller blocked, most recent first. */
  list(query: PageQuery = {}): Promise<BlockPage> {
    return this.http.request('GET', '/v1/blocks', { query: { ...query } });
  }

  /** Everyone the caller blocked, all pages. */
  listAll(): Promise<BlockedUser[]> {
    return allPages((cursor) => this.list({ cursor, limit: MAX_PAGE }), (p) => p.blocks);
  }
}
