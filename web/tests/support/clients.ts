/** SDK clients for tests: Node's fetch, npm `ws`, in-memory stores, and a recorder of what they emit. */
import WebSocket from 'ws';
import { ParleyClient } from '../../src/sdk/client';
import type { ReadReceipt, TypingIndicator } from '../../src/sdk/frames';
import type { ConnectionState, RealtimeClient, WebSocketFactory, WebSocketLike } from '../../src/sdk/realtime';
import { MemoryCredentialStore } from '../../src/sdk/session';
import { MemorySyncStore } from '../../src/sdk/store';
import type { PresenceUpdate } from '../../src/sdk/presence';
import type { Event, Notice, User } from '../../src/sdk/types';
import { uniqueName, type DevNode } from './node';

export const wsFactory: WebSocketFactory = (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike;

export const PASSWORD = 'correct horse battery';

export interface TestUser {
  client: ParleyClient;
  user: User;
  rt: RealtimeClient;
  store: MemorySyncStore;
  events: Event[];
  reads: ReadReceipt[];
  typing: TypingIndicator[];
  states: ConnectionState[];
  notices: Notice[];
  presence: PresenceUpdate[];
}

export function newClient(node: DevNode, store = new MemorySyncStore()): { client: ParleyClient; store: MemorySyncStore } {
  const client = new ParleyClient({
    baseUrl: node.baseUrl,
    webSocket: wsFactory,
    credentialStore: new MemoryCredentialStore(),
    syncStore: () => store,
    session: { locks: null },
    // Tests kill the node: reconnect quickly.
    realtime: { backoff: { baseMs: 100, maxMs: 1_000 }, watchNetwork: false },
  });
  return { client, store };
}

export async function registerAndConnect(node: DevNode, prefix: string): Promise<TestUser> {
  const { client, store } = newClient(node);
  const session = await client.register({ username: uniqueName(prefix), password: PASSWORD });
  const rt = await client.connect();
  const u: TestUser = {
    client,
    user: session.user,
    rt,
    store,
    events: [],
    reads: [],
    typing: [],
    states: [],
    notices: [],
    presence: [],
  };
  record(u, rt);
  return u;
}

/** Records what `rt` emits into `u`'s arrays. */
export function record(u: TestUser, rt: RealtimeClient): void {
  rt.on('event', (e) => u.events.push(e));
  rt.on('read', (r) => u.reads.push(r));
  rt.on('typing', (t) => u.typing.push(t));
  rt.on('state', (s) => u.states.push(s));
  rt.on('notice', (n) => u.notices.push(n));
  rt.on('presence', (p) => u.presence.push(p));
}

export function texts(events: Event[], conv?: string): string[] {
  return events
    .filter((e) => e.kind === 'message' && (!conv || e.conversation_id === conv))
    .map((e) => (e as { text?: string | null }).text ?? '');
}

/** Each (conversation, seq) once, ascending, without holes, per conversation. */
export function assertExactlyOnceInOrder(events: Event[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    const prev = last.get(e.conversation_id);
    if (prev !== undefined && e.seq !== prev + 1) {
      throw new Error(`conversation ${e.conversation_id}: seq ${e.seq} after ${prev}`);
    }
    last.set(e.conversation_id, e.seq);
  }
}
