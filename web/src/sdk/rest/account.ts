import type { Http } from '../http';
import type { OwnProfile, PageQuery, SessionId, SessionInfo, SessionPage, UpdateProfile } from '../types';
import { allPages, MAX_PAGE } from './paging';

/** The caller's own account: profile and settings, password, sessions, deletion. */
export class AccountApi {
  constructor(private readonly http: Http) {}

  /** The caller's profile with their settings (`dm_policy`, `show_presence`). */
  profile(): Promise<OwnProfile> {
    return this.http.request('GET', '/v1/users/me');
  }

  /**
   * Changes the given fields (absent ones stay): `display_name` (1–64 characters), `bio` (at
   * most 500; an empty string clears it), `dm_policy` (`everyone` | `friends`), `show_presence`.
   */
  updateProfile(patch: UpdateProfile): Promise<OwnProfile> {
    return this.http.request('PATCH', '/v1/users/me', { body: patch });
  }

  /** Changes the password (403 `forbidden` when `current` is wrong); every other session is signed out. */
  changePassword(current: string, next: string): Promise<void> {
    return this.http.request('POST', '/v1/users/me/password', {
      body: { current_password: current, new_password: next },
    });
  }

  /**
   * Deletes the account for good (403 `forbidden` when the password is wrong). Every session,
   * this one included, is signed out: forget the local credentials afterwards.
   */
  deleteAccount(password: string): Promise<void> {
    return this.http.request('DELETE', '/v1/users/me', { body: { password } });
  }

  /** One page of the caller's sessions, most recently used first (`current` marks this one). */
  sessions(query: PageQuery = {}): Promise<SessionPage> {
    return this.http.request('GET', '/v1/sessions', { query: { ...query } });
  }

  /** Every session, all pages. */
  allSessions(): Promise<SessionInfo[]> {
    return allPages((cursor) => this.sessions({ cursor, limit: MAX_PAGE }), (p) => p.sessions);
  }

  /** Signs a session out (its refresh token dies, its sockets close with `session_revoked`). */
  revokeSession(id: SessionId): Promise<void> {
    return this.http.request('DELETE', `/v1/sessions/${encodeURIComponent(id)}`);
  }
}
