import type { Http } from '../http';
import type { NoticeId, NoticePage, PageQuery } from '../types';

/**
 * `/v1/notices*`: what happened to the caller outside their conversations, newest first. The
 * same notices reach connected devices as `notice` frames, but are not replayed by `sync`:
 * list them again after a reconnect.
 */
export class NoticesApi {
  constructor(private readonly http: Http) {}

  /** One page, newest first, with `unseen_count`; `next_cursor` pages to older ones. */
  list(query: PageQuery = {}): Promise<NoticePage> {
    return this.http.request('GET', '/v1/notices', { query: { ...query } });
  }

  /** Marks `upTo` and every older notice seen (the marker never moves back). */
  markSeen(upTo: NoticeId): Promise<void> {
    return this.http.request('POST', '/v1/notices/seen', { body: { up_to: upTo } });
  }
}
