/**
 * Who is typing where. The node sends a `typing` frame when someone starts (at most one per 2 s
 * per connection) and one with `active: false` when they stop, which may never come (a closed
 * tab), so an indicator lasts {@link TYPING_TTL_MS} after the last frame, or until that person
 * stops or their next message arrives.
 */
import { Emitter } from './emitter';
import type { TypingIndicator } from './frames';
import type { ConversationId, Event, UserId } from './types';

export const TYPING_TTL_MS = 6_000;

export class TypingTracker extends Emitter<{ change: ConversationId }> {
  private typing = new Map<ConversationId, Map<UserId, ReturnType<typeof setTimeout>>>();

  constructor(private readonly ttlMs = TYPING_TTL_MS) {
    super();
  }

  /** Feed it `typing` frames. */
  onTyping(t: TypingIndicator): void {
    if (t.active === false) {
      this.clear(t.conversation_id, t.user_id);
      return;
    }
    let users = this.typing.get(t.conversation_id);
    if (!users) this.typing.set(t.conversation_id, (users = new Map()));
    const had = users.has(t.user_id);
    clearTimeout(users.get(t.user_id));
    users.set(
      t.user_id,
      setTimeout(() => this.clear(t.conversation_id, t.user_id), this.ttlMs),
    );
    if (!had) this.emit('change', t.conversation_id);
  }

  /** Feed it events: a message from someone ends their indicator. */
  onEvent(e: Event): void {
    this.clear(e.conversation_id, e.sender_id);
  }

  clear(conv: ConversationId, user: UserId): void {
    const users = this.typing.get(conv);
    if (!users?.has(user)) return;
    clearTimeout(users.get(user));
    users.delete(user);
    this.emit('change', conv);
  }

  /** Who is typing in `conv` now. */
  who(conv: ConversationId): UserId[] {
    return [...(this.typing.get(conv)?.keys() ?? [])];
  }

  dispose(): void {
    for (const users of this.typing.values()) for (const t of users.values()) clearTimeout(t);
    this.typing.clear();
  }
}
