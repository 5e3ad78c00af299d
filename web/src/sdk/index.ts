/** Parley browser SDK: REST + realtime, framework-free. */
export { ParleyClient, type ParleyClientOptions } from './client';
export {
  RestClient,
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
  inviteCodeOf,
  type UploadOptions,
  type UploadProgress,
  defaultWebSocketUrl,
  allPages,
  MAX_PAGE,
  type FriendRequestResult,
} from './rest';
export { Http, type TokenSource, type HttpOptions, type RequestOptions } from './http';
export {
  Session,
  credentialsFrom,
  MemoryCredentialStore,
  LocalStorageCredentialStore,
  REFRESH_MARGIN_MS,
  type Credentials,
  type CredentialStore,
  type SessionOptions,
  type LockManagerLike,
} from './session';
export {
  RealtimeClient,
  type ConnectionState,
  type RealtimeOptions,
  type RealtimeEvents,
  type WebSocketFactory,
  type WebSocketLike,
} from './realtime';
export { MemorySyncStore, type SyncStore, type OutboxItem } from './store';
export { IndexedDbSyncStore } from './store-idb';
export { Positions, type Verdict } from './positions';
export { TypingTracker, TYPING_TTL_MS } from './typing';
export { PresenceTracker, type PresenceState, type PresenceUpdate } from './presence';
export { backoffDelay, backoffCeiling, DEFAULT_BACKOFF, type Backoff } from './backoff';
export { ParleyError, type SdkErrorCode } from './errors';
export { newClientMsgId } from './ids';
export { applyFollowUp, targetOf, type FollowUp } from './message-state';
export { Emitter } from './emitter';
export * from './frames';
export * from './types';
