import type { Http } from '../http';
import type { User, UserId, UserPage, UsersQuery } from '../types';

/** `/v1/users*`. (`PATCH /v1/users/me` joins when profiles land.) */
export class UsersApi {
  constructor(private readonly http: Http) {}

  me(): Promise<User> {
    return this.http.request('GET', '/v1/users/me');
  }

  get(id: UserId): Promise<User> {
    return this.http.request('GET', `/v1/users/${encodeURIComponent(id)}`);
  }

  /** Users whose username or display name starts with `q`. */
  search(q: string, opts: Omit<UsersQuery, 'q'> = {}): Promise<UserPage> {
    return this.http.request('GET', '/v1/users', { query: { ...opts, q } });
  }
}
