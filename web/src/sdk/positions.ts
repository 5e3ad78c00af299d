/**
 * The last seq handled per conversation: what makes the realtime stream exactly-once and in
 * order (a port of `shared/src/positions.rs`). IO-free: it decides, its caller fetches and emits.
 */
import type { ConversationId, Seq } from './types';

export type Verdict =
  | { kind: 'emit' }
  | { kind: 'duplicate' }
  /** Events `after + 1 ..= before - 1` are missing: fetch and emit those first. */
  | { kind: 'gap'; after: Seq; before: Seq };

export class Positions {
  private seqs = new Map<ConversationId, Seq>();

  constructor(initial?: Record<ConversationId, Seq> | Map<ConversationId, Seq>) {
    if (initial) for (const [c, s] of initial instanceof Map ? initial : Object.entries(initial)) this.seqs.set(c, s);
  }

  get(conv: ConversationId): Seq | undefined {
    return this.seqs.get(conv);
  }

  has(conv: ConversationId): boolean {
    return this.seqs.has(conv);
  }

  /** Follows `conv` from `seq` (events after it are next). Never moves a position back. */
  follow(conv: ConversationId, seq: Seq): void {
    const cur = this.seqs.get(conv);
    this.seqs.set(conv, cur === undefined ? seq : Math.max(cur, seq));
  }

  /** What to do with event `seq` of `conv` (changes nothing). */
  check(conv: ConversationId, seq: Seq): Verdict {
    const last = this.seqs.get(conv);
    if (last === undefined) return { kind: 'emit' };
    if (seq <= last) return { kind: 'duplicate' };
    if (seq === last + 1) return { kind: 'emit' };
    return { kind: 'gap', after: last, before: seq };
  }

  /** Records that `seq` of `conv` was handled; false (and no change) if it would not move forward. */
  advance(conv: ConversationId, seq: Seq): boolean {
    const last = this.seqs.get(conv);
    if (last !== undefined && seq <= last) return false;
    this.seqs.set(conv, seq);
    return true;
  }

  /** A copy, as the `sync` frame's `cursors`. */
  snapshot(): Record<ConversationId, Seq> {
    return Object.fromEntries(this.seqs);
  }
}
