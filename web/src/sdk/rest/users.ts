import type { Http } from '../http';
import type { OwnProfile, Profile, UserId, UserPage, UsersQuery } from '../types';

/** `/v1/users*`: finding people and their profiles (editing one's own: {@link AccountApi}). */
export class UsersApi {
  constructor(private readonly http: Http) {}

  /** The caller, with their settings. */
  me(): Promise<OwnProfile> {
    return this.http.request('GET', '/v1/users/me');
  }

  /**
   * A user's profile with `relationship` (`friend`, `request_sent`, `request_received`,
   * `blocked` — either way —, `none`) and, for a friend who shows it, `online` / `last_seen_at`.
   */
  get(id: UserId): Promise<Profile> {
    return this.http.request('GET', `/v1/users/${encodeURIComponent(id)}`);
  }

  /** Users whose username or display name starts with `q` (not deleted ones, nor those who blocked the caller). */
  search(q: string, opts: Omit<UsersQuery, 'q'> = {}): Promise<UserPage> {
    return this.http.request('GET', '/v1/users', { query: { ...opts, q } });
  }
}
