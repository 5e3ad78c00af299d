/**
 * The REST client: one module per area of the contract. New areas (friends, blocks, groups,
 * media, search) are new modules here, each a small class over {@link Http}.
 */
import { Http, type HttpOptions } from '../http';
import { AuthApi } from './auth';
import { ConfigApi } from './config';
import { ConversationsApi } from './conversations';
import { UsersApi } from './users';

export { AuthApi, ConfigApi, ConversationsApi, UsersApi };
export { defaultWebSocketUrl } from './config';
export { MAX_PAGE } from './conversations';

export class RestClient {
  readonly http: Http;
  readonly auth: AuthApi;
  readonly config: ConfigApi;
  readonly users: UsersApi;
  readonly conversations: ConversationsApi;

  constructor(opts: HttpOptions | Http) {
    this.http = opts instanceof Http ? opts : new Http(opts);
    this.auth = new AuthApi(this.http);
    this.config = new ConfigApi(this.http);
    this.users = new UsersApi(this.http);
    this.conversations = new ConversationsApi(this.http);
  }
}
