import type { Http } from '../http';
import type { AuthResponse, LoginBody, RegisterBody } from '../types';

/** `/v1/auth/*`. Register, login and refresh are unauthenticated; use a {@link Session} for the tokens. */
export class AuthApi {
  constructor(private readonly http: Http) {}

  register(body: RegisterBody): Promise<AuthResponse> {
    return this.http.request('POST', '/v1/auth/register', { body, auth: false });
  }

  login(body: LoginBody): Promise<AuthResponse> {
    return this.http.request('POST', '/v1/auth/login', { body, auth: false });
  }

  /** Spends `refreshToken` (single use) for a new pair. */
  refresh(refreshToken: string): Promise<AuthResponse> {
    return this.http.request('POST', '/v1/auth/refresh', { body: { refresh_token: refreshToken }, auth: false });
  }

  /** Ends the session of `accessToken`: its refresh token dies and its sockets close. */
  logout(accessToken: string): Promise<void> {
    return this.http.request('POST', '/v1/auth/logout', { bearer: accessToken });
  }
}
