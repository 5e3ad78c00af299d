/**
 * The HTTP core every REST module uses: JSON in and out, the contract's error envelope turned
 * into {@link ParleyError}, `Authorization: Bearer` from a {@link TokenSource}, and one retry
 * with a fresh token after a 401.
 */
import { ParleyError } from './errors';
import type { ErrorBody } from './types';

/** Hands out access tokens (a {@link Session} is one). */
export interface TokenSource {
  /** A valid access token (refreshed first when it is about to expire). */
  accessToken(): Promise<string>;
  /** The server refused `stale`: refresh unless that already happened, return the new token. */
  refresh(stale: string): Promise<string>;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Send the bearer token from the token source (default true). */
  auth?: boolean;
  /** Use exactly this access token (no refresh on 401). */
  bearer?: string;
  signal?: AbortSignal;
}

export interface HttpOptions {
  /** Origin (and optional path prefix) of the REST API, e.g. `https://chat.example` or `location.origin`. */
  baseUrl: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

export class Http {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  /** Set once signed in. */
  tokens: TokenSource | null = null;

  constructor(opts: HttpOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? ((...a) => globalThis.fetch(...a));
  }

  url(path: string, query?: Query): string {
    let u = this.baseUrl + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
      const s = q.toString();
      if (s) u += '?' + s;
    }
    return u;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    if (opts.bearer !== undefined) return this.once<T>(method, path, opts, opts.bearer);
    const auth = opts.auth ?? true;
    if (!auth) return this.once<T>(method, path, opts, null);
    if (!this.tokens) throw new ParleyError('unauthorized', 'not signed in', 401);
    const token = await this.tokens.accessToken();
    try {
      return await this.once<T>(method, path, opts, token);
    } catch (e) {
      if (e instanceof ParleyError && e.status === 401) {
        const fresh = await this.tokens.refresh(token);
        return this.once<T>(method, path, opts, fresh);
      }
      throw e;
    }
  }

  private async once<T>(method: string, path: string, opts: RequestOptions, token: string | null): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(this.url(path, opts.query), { method, headers, body, signal: opts.signal });
    } catch (e) {
      if ((e as { name?: string })?.name === 'AbortError') throw e;
      throw new ParleyError('network', `${method} ${path}: ${(e as Error)?.message ?? e}`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        if (res.ok) throw new ParleyError('protocol', `${method} ${path}: answer is not JSON`, res.status);
      }
    }
    if (res.ok) return json as T;
    const err = (json as { error?: ErrorBody } | undefined)?.error;
    const ra = res.headers.get('retry-after');
    throw new ParleyError(
      err?.code ?? (res.status === 401 ? 'unauthorized' : res.status >= 500 ? 'internal' : 'invalid_request'),
      err?.message ?? `${method} ${path}: HTTP ${res.status}`,
      res.status,
      ra !== null && ra !== '' && !Number.isNaN(Number(ra)) ? Number(ra) : undefined,
    );
  }
}
