/**
 * The REST client: one module per area of the contract, each a small class over {@link Http}.
 * A new area of the contract is a new module here.
 */
import { Http, type HttpOptions } from '../http';
import { AccountApi } from './account';
import { AuthApi } from './auth';
import { BlocksApi } from './blocks';
import { ConfigApi } from './config';
import { ConversationsApi } from './conversations';
import { FriendsApi } from './friends';
import { GroupsApi } from './groups';
import { MediaApi } from './media';
import { MessagesApi } from './messages';
import { SearchApi } from './search';
import { NoticesApi } from './notices';
import { UsersApi } from './users';

export {
  AccountApi,
  AuthApi,
  BlocksApi,
  ConfigApi,
  ConversationsApi,
  FriendsApi,
  GroupsApi,
  MediaApi,
  MessagesApi,
  NoticesApi,
  SearchApi,
  UsersApi,
};
export { inviteCodeOf } from './groups';
export type { UploadOptions, UploadProgress } from './media';
export type { FriendRequestResult } from './friends';
export { defaultWebSocketUrl } from './config';
export { MAX_PAGE, allPages } from './paging';

export class RestClient {
  readonly http: Http;
  readonly auth: AuthApi;
  readonly config: ConfigApi;
  readonly users: UsersApi;
  readonly account: AccountApi;
  readonly conversations: ConversationsApi;
  readonly friends: FriendsApi;
  readonly blocks: BlocksApi;
  readonly notices: NoticesApi;
  readonly messages: MessagesApi;
  readonly groups: GroupsApi;
  readonly media: MediaApi;
  readonly search: SearchApi;

  constructor(opts: HttpOptions | Http) {
    this.http = opts instanceof Http ? opts : new Http(opts);
    this.auth = new AuthApi(this.http);
    this.config = new ConfigApi(this.http);
    this.users = new UsersApi(this.http);
    this.account = new AccountApi(this.http);
    this.conversations = new ConversationsApi(this.http);
    this.friends = new FriendsApi(this.http);
    this.blocks = new BlocksApi(this.http);
    this.notices = new NoticesApi(this.http);
    this.messages = new MessagesApi(this.http);
    this.groups = new GroupsApi(this.http);
    this.media = new MediaApi(this.http);
    this.search = new SearchApi(this.http);
  }
}
