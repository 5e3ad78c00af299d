/**
 * `ParleyClient`: the SDK's front door. REST modules (`client.rest.users`, ...), the session
 * (tokens, refresh) and the realtime connection, wired together.
 *
 * ```ts
 * const client = new ParleyClient({ baseUrl: location.origin });
 * await client.login({ username, password });
 * const rt = await client.connect();
 * rt.on('event', (e) => ...);
 * await rt.send(conversationId, 'hello');
 * ```
 */
import { ParleyError } from './errors';
import { RealtimeClient, type RealtimeOptions, type WebSocketFactory } from './realtime';
import { RestClient } from './rest';
import { credentialsFrom, Session, type CredentialStore, type SessionOptions } from './session';
import { MemorySyncStore, type SyncStore } from './store';
import type { LoginBody, RegisterBody, User } from './types';

export interface ParleyClientOptions {
  /** The REST API's origin, e.g. `location.origin`. */
  baseUrl: string;
  fetch?: typeof fetch;
  webSocket?: WebSocketFactory;
  /** Where credentials persist (default: memory only). */
  credentialStore?: CredentialStore;
  /** Where positions and the outbox persist, per account (default: memory). */
  syncStore?: (user: User) => SyncStore;
  /** WebSocket URLs; default: `GET /v1/config` (empty there = `/v1/ws` on the API's origin). */
  websocketUrls?: string[];
  /** Name of this device's session (login). */
  deviceName?: string;
  session?: Omit<SessionOptions, 'store'>;
  realtime?: Partial<Omit<RealtimeOptions, 'urls' | 'tokens' | 'conversations' | 'store' | 'webSocket'>>;
}

export class ParleyClient {
  readonly rest: RestClient;
  private _session: Session | null = null;
  private _realtime: RealtimeClient | null = null;

  constructor(private readonly opts: ParleyClientOptions) {
    this.rest = new RestClient({ baseUrl: opts.baseUrl, fetch: opts.fetch });
  }

  get session(): Session | null {
    return this._session;
  }

  get realtime(): RealtimeClient | null {
    return this._realtime;
  }

  /** The signed-in user. */
  get user(): User | null {
    return this._session?.user ?? null;
  }

  private adoptSession(s: Session): Session {
    this._session?.close();
    this._session = s;
    this.rest.http.tokens = s;
    return s;
  }

  async register(body: RegisterBody): Promise<Session> {
    const resp = await this.rest.auth.register({ device_name: this.opts.deviceName, ...body });
    return this.adoptSession(new Session(this.rest.auth, credentialsFrom(resp), this.sessionOpts()));
  }

  async login(body: LoginBody): Promise<Session> {
    const resp = await this.rest.auth.login({ device_name: this.opts.deviceName, ...body });
    return this.adoptSession(new Session(this.rest.auth, credentialsFrom(resp), this.sessionOpts()));
  }

  /** Picks up stored credentials (an earlier page load); null when there are none. */
  resume(): Session | null {
    const creds = this.opts.credentialStore?.load();
    if (!creds) return null;
    return this.adoptSession(new Session(this.rest.auth, creds, this.sessionOpts()));
  }

  private sessionOpts(): SessionOptions {
    return { ...this.opts.session, store: this.opts.credentialStore };
  }

  /** Opens the realtime connection (it reconnects by itself until {@link ParleyClient.disconnect}). */
  async connect(): Promise<RealtimeClient> {
    const session = this._session;
    if (!session) throw new ParleyError('unauthorized', 'sign in first', 401);
    if (this._realtime) return this._realtime;
    const urls = this.opts.websocketUrls ?? (await this.rest.config.websocketUrls());
    const rt = new RealtimeClient({
      probe: () => this.rest.users.me(),
      ...this.opts.realtime,
      urls,
      tokens: session,
      conversations: this.rest.conversations,
      messages: this.rest.messages,
      store: this.opts.syncStore?.(session.user) ?? new MemorySyncStore(),
      webSocket: this.opts.webSocket,
    });
    this._realtime = rt;
    await rt.start();
    return rt;
  }

  async disconnect(): Promise<void> {
    const rt = this._realtime;
    this._realtime = null;
    await rt?.stop();
  }

  /** Signs out everywhere this session is used and forgets the local state. */
  async logout(): Promise<void> {
    const rt = this._realtime;
    await this.disconnect();
    await rt?.store.clear().catch(() => {});
    await this._session?.logout();
    this._session = null;
    this.rest.http.tokens = null;
  }

  /** Stops timers and the connection, keeping stored credentials (page unload, tests). */
  async close(): Promise<void> {
    await this.disconnect();
    this._session?.close();
  }
}
