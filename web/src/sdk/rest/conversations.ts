import type { Http } from '../http';
import type {
  ConversationId,
  ConversationPage,
  ConversationSummary,
  ConversationsQuery,
  DirectConversation,
  Event,
  EventPage,
  EventsQuery,
  MessageDraft,
  ReadState,
  ConversationSettings,
  UpdateSettingsBody,
  Seq,
  UserId,
} from '../types';

import { MAX_PAGE } from './paging';

export { MAX_PAGE };

/** `/v1/conversations*`: the list, direct conversations, history, read receipts, sending. */
export class ConversationsApi {
  constructor(private readonly http: Http) {}

  /** One page, most recent activity first (archived ones included, flagged `archived`). */
  list(query: ConversationsQuery = {}): Promise<ConversationPage> {
    return this.http.request('GET', '/v1/conversations', { query });
  }

  /** Every conversation, all pages. */
  async listAll(): Promise<ConversationSummary[]> {
    const out: ConversationSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.list({ limit: MAX_PAGE, cursor });
      out.push(...page.conversations);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** The one direct conversation with `userId` (created on first call). */
  openDirect(userId: UserId): Promise<DirectConversation> {
    return this.http.request('POST', '/v1/conversations/direct', { body: { user_id: userId } });
  }

  /** One page of the log, ascending seq. Give `after_seq` or `before_seq`, or a `cursor`. */
  events(id: ConversationId, query: EventsQuery = {}): Promise<EventPage> {
    return this.http.request('GET', `/v1/conversations/${encodeURIComponent(id)}/events`, { query });
  }

  /** Every event after `after` (up to and including `upTo` when given), paging as needed. */
  async eventsAfter(id: ConversationId, after: Seq, upTo?: Seq): Promise<Event[]> {
    const out: Event[] = [];
    let from = after;
    for (;;) {
      const page = await this.events(id, { after_seq: from, limit: MAX_PAGE });
      for (const e of page.events) {
        if (upTo !== undefined && e.seq > upTo) return out;
        out.push(e);
        from = Math.max(from, e.seq);
      }
      if (!page.next_cursor || page.events.length === 0) return out;
      if (upTo !== undefined && from >= upTo) return out;
    }
  }

  /** Sends a message over REST (idempotent on `client_msg_id`). The realtime client's `send` is the usual path. */
  sendMessage(id: ConversationId, draft: MessageDraft): Promise<Event> {
    return this.http.request('POST', `/v1/conversations/${encodeURIComponent(id)}/messages`, { body: draft });
  }

  /** The caller's own settings of a conversation: pinned, muted until, archived (absent: unchanged). */
  updateSettings(id: ConversationId, changes: UpdateSettingsBody): Promise<ConversationSettings> {
    return this.http.request('PATCH', `/v1/conversations/${encodeURIComponent(id)}/settings`, { body: changes });
  }

  /** Read receipt over REST (the realtime client's `read` is the usual path). */
  markRead(id: ConversationId, seq: Seq): Promise<ReadState> {
    return this.http.request('POST', `/v1/conversations/${encodeURIComponent(id)}/read`, { body: { seq } });
  }
}
