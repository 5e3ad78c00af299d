import type { Http } from '../http';
import type { ConversationId, SearchPage } from '../types';

/** `GET /v1/search/messages`: full-text search over the messages the caller can see. */
export class SearchApi {
  constructor(private readonly http: Http) {}

  /** Best match first; `conversationId` narrows it to one conversation. */
  messages(q: string, opts: { conversationId?: ConversationId; cursor?: string; limit?: number } = {}): Promise<SearchPage> {
    return this.http.request('GET', '/v1/search/messages', {
      query: { q, conversation_id: opts.conversationId, cursor: opts.cursor, limit: opts.limit },
    });
  }
}
