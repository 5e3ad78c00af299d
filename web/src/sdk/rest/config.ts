import type { Http } from '../http';
import type { ClientConfig } from '../types';

/** `GET /v1/config`: where to open realtime connections. */
export class ConfigApi {
  constructor(private readonly http: Http) {}

  get(): Promise<ClientConfig> {
    return this.http.request('GET', '/v1/config', { auth: false });
  }

  /**
   * The WebSocket URLs to try, in order: the configured ones, or `/v1/ws` on the API's own origin
   * when the list is empty (the server answering is itself a node).
   */
  async websocketUrls(): Promise<string[]> {
    const cfg = await this.get();
    if (cfg.websocket_urls.length > 0) return cfg.websocket_urls;
    return [defaultWebSocketUrl(this.http.baseUrl)];
  }
}

/** `ws(s)://<origin of baseUrl>/v1/ws`. */
export function defaultWebSocketUrl(baseUrl: string): string {
  const u = new URL(baseUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/+$/, '') + '/v1/ws';
  u.search = '';
  u.hash = '';
  return u.toString();
}
