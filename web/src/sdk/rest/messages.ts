import type { Http } from '../http';
import type { ConversationId, Event, EventId } from '../types';

const path = (conv: ConversationId, msg: EventId) =>
  `/v1/conversations/${encodeURIComponent(conv)}/messages/${encodeURIComponent(msg)}`;

/**
 * `/v1/conversations/{id}/messages/{message_id}*`: what happens to a message after it was sent.
 * The realtime client's `edit`, `recall` and `react` use these when it is offline.
 */
export class MessagesApi {
  constructor(private readonly http: Http) {}

  /** Edits one's own message: the `edit` event (the message's `text` and `edited_at` follow). */
  edit(conv: ConversationId, messageId: EventId, text: string): Promise<Event> {
    return this.http.request('PATCH', path(conv, messageId), { body: { text } });
  }

  /** Recalls one's own message within the recall window: the `recall` event (content gone for everyone). */
  recall(conv: ConversationId, messageId: EventId): Promise<Event> {
    return this.http.request('POST', `${path(conv, messageId)}/recall`);
  }

  /** Deletes a message for the caller only (their other devices get `message_hidden`). */
  hide(conv: ConversationId, messageId: EventId): Promise<void> {
    return this.http.request('DELETE', path(conv, messageId));
  }

  /** Adds (`added`) or removes a reaction: the `reaction` event, or null when nothing changed. */
  async react(conv: ConversationId, messageId: EventId, emoji: string, added = true): Promise<Event | null> {
    const e = await this.http.request<Event | undefined>(
      added ? 'PUT' : 'DELETE',
      `${path(conv, messageId)}/reactions/${encodeURIComponent(emoji)}`,
    );
    return e ?? null;
  }
}
