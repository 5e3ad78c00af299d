/** {@link SyncStore} in IndexedDB: one database per account, stores `positions` and `outbox`. */
import type { OutboxItem, SyncStore } from './store';
import type { ConversationId, Seq } from './types';

const VERSION = 1;

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export class IndexedDbSyncStore implements SyncStore {
  private db: Promise<IDBDatabase>;

  /** `name`: one database per account, e.g. `parley:<user id>`. */
  constructor(
    readonly name: string,
    factory: IDBFactory = globalThis.indexedDB,
  ) {
    this.db = new Promise((resolve, reject) => {
      const open = factory.open(name, VERSION);
      open.onupgradeneeded = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains('positions')) db.createObjectStore('positions');
        if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'draft.client_msg_id' });
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }

  /** Whether this environment has IndexedDB. */
  static available(): boolean {
    return typeof globalThis.indexedDB !== 'undefined';
  }

  async loadPositions(): Promise<Record<ConversationId, Seq>> {
    const db = await this.db;
    const store = db.transaction('positions', 'readonly').objectStore('positions');
    const [keys, values] = await Promise.all([req(store.getAllKeys()), req(store.getAll())]);
    const out: Record<ConversationId, Seq> = {};
    keys.forEach((k, i) => (out[String(k)] = values[i] as Seq));
    return out;
  }

  async savePositions(p: Record<ConversationId, Seq>): Promise<void> {
    const db = await this.db;
    const tx = db.transaction('positions', 'readwrite');
    const store = tx.objectStore('positions');
    for (const [conv, seq] of Object.entries(p)) {
      const get = store.get(conv);
      get.onsuccess = () => {
        const cur = get.result as Seq | undefined;
        if (cur === undefined || seq > cur) store.put(seq, conv);
      };
    }
    await done(tx);
  }

  async loadOutbox(): Promise<OutboxItem[]> {
    const db = await this.db;
    const items = (await req(db.transaction('outbox', 'readonly').objectStore('outbox').getAll())) as OutboxItem[];
    return items.sort((a, b) => a.queued_at - b.queued_at);
  }

  async putOutbox(item: OutboxItem): Promise<void> {
    const db = await this.db;
    const tx = db.transaction('outbox', 'readwrite');
    tx.objectStore('outbox').put(item);
    await done(tx);
  }

  async deleteOutbox(id: string): Promise<void> {
    const db = await this.db;
    const tx = db.transaction('outbox', 'readwrite');
    tx.objectStore('outbox').delete(id);
    await done(tx);
  }

  async clear(): Promise<void> {
    const db = await this.db;
    const tx = db.transaction(['positions', 'outbox'], 'readwrite');
    tx.objectStore('positions').clear();
    tx.objectStore('outbox').clear();
    await done(tx);
  }
}
