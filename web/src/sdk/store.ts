/**
 * What the realtime client persists: the last seq emitted per conversation (the `sync` frame's
 * `cursors`) and the outbox of sends not yet acknowledged. Pluggable: {@link MemorySyncStore} for
 * Node and tests, `IndexedDbSyncStore` (./store-idb) in browsers.
 */
import type { ConversationId, MessageDraft, Seq } from './types';

export interface OutboxItem {
  conversation_id: ConversationId;
  /** Its `client_msg_id` is the idempotency key (and the outbox key). */
  draft: MessageDraft;
  /** When it was first queued, ms since the epoch. */
  queued_at: number;
}

export interface SyncStore {
  loadPositions(): Promise<Record<ConversationId, Seq>>;
  /** Moves these positions forward (never back). */
  savePositions(positions: Record<ConversationId, Seq>): Promise<void>;
  loadOutbox(): Promise<OutboxItem[]>;
  putOutbox(item: OutboxItem): Promise<void>;
  deleteOutbox(clientMsgId: string): Promise<void>;
  clear(): Promise<void>;
}

export class MemorySyncStore implements SyncStore {
  positions = new Map<ConversationId, Seq>();
  outbox = new Map<string, OutboxItem>();

  async loadPositions(): Promise<Record<ConversationId, Seq>> {
    return Object.fromEntries(this.positions);
  }
  async savePositions(p: Record<ConversationId, Seq>): Promise<void> {
    for (const [c, s] of Object.entries(p)) this.positions.set(c, Math.max(s, this.positions.get(c) ?? 0));
  }
  async loadOutbox(): Promise<OutboxItem[]> {
    return [...this.outbox.values()].sort((a, b) => a.queued_at - b.queued_at);
  }
  async putOutbox(item: OutboxItem): Promise<void> {
    this.outbox.set(item.draft.client_msg_id, structuredClone(item));
  }
  async deleteOutbox(id: string): Promise<void> {
    this.outbox.delete(id);
  }
  async clear(): Promise<void> {
    this.positions.clear();
    this.outbox.clear();
  }
}
