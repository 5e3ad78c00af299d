/**
 * Credentials and the token source. Hands out a valid access token, refreshing it
 * {@link REFRESH_MARGIN_MS} before it expires, ONE refresh at a time: refresh tokens are single
 * use, and presenting a spent one revokes the whole session. Across browser tabs sharing a
 * {@link CredentialStore}, the refresh runs under a Web Lock and first adopts tokens another tab
 * may have stored meanwhile (the Rust SDK does the same with a file lock).
 */
import { Emitter } from './emitter';
import { ParleyError } from './errors';
import type { TokenSource } from './http';
import type { AuthApi } from './rest/auth';
import type { AuthResponse, SessionId, User } from './types';

/** Refresh an access token when less than this is left of its life. */
export const REFRESH_MARGIN_MS = 90_000;

export interface Credentials {
  user: User;
  session_id: SessionId;
  access_token: string;
  refresh_token: string;
  /** When `access_token` expires: local clock at receipt + `expires_in`, in ms since the epoch. */
  access_expires_at: number;
}

export function credentialsFrom(resp: AuthResponse, now = Date.now()): Credentials {
  return {
    user: resp.user,
    session_id: resp.session_id,
    access_token: resp.access_token,
    refresh_token: resp.refresh_token,
    access_expires_at: now + resp.expires_in * 1000,
  };
}

/** Where credentials persist between page loads. */
export interface CredentialStore {
  load(): Credentials | null;
  save(creds: Credentials): void;
  clear(): void;
  /** Calls `fn` when another tab saved or cleared the credentials. */
  watch?(fn: (creds: Credentials | null) => void): () => void;
}

export class MemoryCredentialStore implements CredentialStore {
  private creds: Credentials | null = null;
  load(): Credentials | null {
    return this.creds ? { ...this.creds } : null;
  }
  save(creds: Credentials): void {
    this.creds = { ...creds };
  }
  clear(): void {
    this.creds = null;
  }
}

/** `localStorage` under one key; other tabs' changes arrive through `storage` events. */
export class LocalStorageCredentialStore implements CredentialStore {
  constructor(
    private readonly key = 'parley.session',
    private readonly storage: Storage = globalThis.localStorage,
  ) {}
  load(): Credentials | null {
    try {
      const raw = this.storage.getItem(this.key);
      return raw ? (JSON.parse(raw) as Credentials) : null;
    } catch {
      return null;
    }
  }
  save(creds: Credentials): void {
    this.storage.setItem(this.key, JSON.stringify(creds));
  }
  clear(): void {
    this.storage.removeItem(this.key);
  }
  watch(fn: (creds: Credentials | null) => void): () => void {
    const onStorage = (e: StorageEvent) => {
      if (e.key === this.key) fn(e.newValue ? (JSON.parse(e.newValue) as Credentials) : null);
    };
    globalThis.addEventListener?.('storage', onStorage);
    return () => globalThis.removeEventListener?.('storage', onStorage);
  }
}

/** The part of `navigator.locks` the session uses. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface SessionOptions {
  store?: CredentialStore;
  /** Cross-tab lock (default: `navigator.locks` where it exists). */
  locks?: LockManagerLike | null;
  refreshMarginMs?: number;
  /** Refresh on a timer ahead of expiry (default true); otherwise only when a token is asked for. */
  autoRefresh?: boolean;
  now?: () => number;
}

export interface SessionEvents extends Record<string, unknown> {
  /** New tokens (after a refresh here or in another tab). */
  refreshed: Credentials;
  /** The session is over (refresh refused, revoked, logged out elsewhere): sign in again. */
  expired: ParleyError;
}

function defaultLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks && typeof nav.locks.request === 'function' ? nav.locks : null;
}

export class Session extends Emitter<SessionEvents> implements TokenSource {
  private creds: Credentials;
  private inflight: Promise<string> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private dead: ParleyError | null = null;
  private unwatch: (() => void) | null = null;
  private readonly store: CredentialStore | null;
  private readonly locks: LockManagerLike | null;
  private readonly margin: number;
  private readonly autoRefresh: boolean;
  private readonly now: () => number;
  /** How many refreshes this session made itself (tests and diagnostics). */
  refreshCount = 0;

  constructor(
    private readonly api: AuthApi,
    creds: Credentials,
    opts: SessionOptions = {},
  ) {
    super();
    this.creds = { ...creds };
    this.store = opts.store ?? null;
    this.locks = opts.locks === undefined ? defaultLocks() : opts.locks;
    this.margin = opts.refreshMarginMs ?? REFRESH_MARGIN_MS;
    this.autoRefresh = opts.autoRefresh ?? true;
    this.now = opts.now ?? Date.now;
    this.store?.save(this.creds);
    this.unwatch =
      this.store?.watch?.((c) => {
        if (!c) {
          if (!this.dead) this.die(new ParleyError('unauthorized', 'signed out in another tab', 401));
        } else if (c.session_id === this.creds.session_id && c.refresh_token !== this.creds.refresh_token) {
          this.adopt(c);
        }
      }) ?? null;
    this.schedule();
  }

  get user(): User {
    return this.creds.user;
  }

  get credentials(): Credentials {
    return { ...this.creds };
  }

  /** Whether the session ended (then every call fails with `unauthorized`). */
  get expired(): boolean {
    return this.dead !== null;
  }

  private needsRefresh(): boolean {
    return this.creds.access_expires_at - this.now() < this.margin;
  }

  async accessToken(): Promise<string> {
    if (this.dead) throw this.dead;
    if (this.inflight) return this.inflight;
    if (this.needsRefresh()) return this.refreshNow(undefined);
    return this.creds.access_token;
  }

  async refresh(stale: string): Promise<string> {
    if (this.dead) throw this.dead;
    if (this.inflight) return this.inflight;
    if (stale !== this.creds.access_token) return this.creds.access_token;
    return this.refreshNow(stale);
  }

  /** One refresh at a time: every caller shares the one in flight. */
  private refreshNow(stale: string | undefined): Promise<string> {
    if (this.inflight) return this.inflight;
    const run = () => this.doRefresh(stale);
    const p = (this.locks ? this.locks.request(`parley-refresh-${this.creds.session_id}`, run) : run()).finally(() => {
      if (this.inflight === p) this.inflight = null;
    });
    this.inflight = p;
    return p;
  }

  private async doRefresh(stale: string | undefined): Promise<string> {
    // Another tab may have refreshed while we waited for the lock: its tokens are ours.
    const stored = this.store?.load();
    if (stored && stored.session_id === this.creds.session_id && stored.refresh_token !== this.creds.refresh_token) {
      this.adopt(stored);
      const fresh = stale === undefined ? !this.needsRefresh() : this.creds.access_token !== stale;
      if (fresh) return this.creds.access_token;
    }
    let resp: AuthResponse;
    try {
      resp = await this.api.refresh(this.creds.refresh_token);
    } catch (e) {
      if (e instanceof ParleyError && (e.status === 401 || e.code === 'unauthorized')) {
        throw this.die(new ParleyError('unauthorized', `refresh refused, sign in again: ${e.message}`, 401));
      }
      // Passing trouble: try again a little later, the access token may still be good.
      this.retryLater();
      throw e;
    }
    this.refreshCount++;
    this.creds = credentialsFrom(resp, this.now());
    this.store?.save(this.creds);
    this.schedule();
    this.emit('refreshed', this.credentials);
    return this.creds.access_token;
  }

  private adopt(c: Credentials): void {
    this.creds = { ...c };
    this.schedule();
    this.emit('refreshed', this.credentials);
  }

  private die(err: ParleyError): ParleyError {
    this.dead = err;
    this.clearTimer();
    this.store?.clear();
    this.emit('expired', err);
    return err;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private setTimer(ms: number): void {
    this.clearTimer();
    const t = setTimeout(() => {
      this.timer = null;
      this.refreshNow(undefined).catch(() => {});
    }, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    (t as { unref?: () => void }).unref?.();
    this.timer = t;
  }

  private schedule(): void {
    if (!this.autoRefresh || this.dead) return;
    this.setTimer(this.creds.access_expires_at - this.margin - this.now());
  }

  private retryLater(): void {
    if (!this.autoRefresh || this.dead) return;
    this.setTimer(5_000 + Math.random() * 5_000);
  }

  /** Signs out: the session's refresh token dies on the server and its sockets close. */
  async logout(): Promise<void> {
    const token = this.dead ? null : this.creds.access_token;
    this.close();
    this.dead = new ParleyError('unauthorized', 'signed out', 401);
    this.store?.clear();
    if (token) await this.api.logout(token).catch(() => {});
  }

  /** Stops the refresh timer and the store watch (the credentials stay stored). */
  close(): void {
    this.clearTimer();
    this.unwatch?.();
    this.unwatch = null;
  }
}
