/**
 * Realtime frames, mirroring `docs/protocol.md` (the serde types in `shared/src/protocol/`).
 * One JSON object per WebSocket text message.
 */
import type {
  ConversationId,
  ErrorBody,
  ErrorCode,
  Event,
  EventId,
  MessageDraft,
  Notice,
  Seq,
  SessionId,
  Timestamp,
  UserId,
} from './types';

/** A request id chosen by the client, echoed in `reply`, `synced` and `pong`. */
export type RequestId = number | string;

/** The WebSocket subprotocol the node selects. */
export const WS_SUBPROTOCOL = 'parley.v1';
/** Prefix of the subprotocol value that carries the access token. */
export const WS_BEARER_PREFIX = 'bearer.';
/** Largest frame either side may send, in bytes. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Most events one `sync` replays per conversation before listing it under `truncated`. */
export const SYNC_REPLAY_LIMIT = 1000;

// ---- client → node ----

export interface AuthFrame {
  type: 'auth';
  token: string;
}
/** Append a message; the draft's fields sit at the frame's top level. */
export type SendFrame = { type: 'send'; id: RequestId; conversation_id: ConversationId } & MessageDraft;
/** Replay what the client missed: the last seq it has, per conversation. */
export interface SyncFrame {
  type: 'sync';
  id: RequestId;
  cursors: Record<ConversationId, Seq>;
}
export interface ReadFrame {
  type: 'read';
  conversation_id: ConversationId;
  seq: Seq;
}
/** The user is typing (`active` absent or true) or stopped (`false`). */
export interface TypingFrame {
  type: 'typing';
  conversation_id: ConversationId;
  active?: boolean;
}
export interface PingFrame {
  type: 'ping';
  id: RequestId;
}
/** Edit one's own message (as `PATCH .../messages/{message_id}`); `reply` carries the `edit` event. */
export interface EditFrame {
  type: 'edit';
  id: RequestId;
  conversation_id: ConversationId;
  message_id: EventId;
  text: string;
}
/** Recall one's own message; `reply` carries the `recall` event. */
export interface RecallFrame {
  type: 'recall';
  id: RequestId;
  conversation_id: ConversationId;
  message_id: EventId;
}
/** Add (`added` absent or true) or remove a reaction; `reply` carries the `reaction` event, or none when nothing changed. */
export interface ReactFrame {
  type: 'react';
  id: RequestId;
  conversation_id: ConversationId;
  message_id: EventId;
  emoji: string;
  added?: boolean;
}
export type ClientFrame =
  | AuthFrame
  | SendFrame
  | SyncFrame
  | ReadFrame
  | TypingFrame
  | PingFrame
  | EditFrame
  | RecallFrame
  | ReactFrame;

// ---- node → client ----

export interface ReadyFrame {
  type: 'ready';
  user_id: UserId;
  session_id: SessionId;
  node_id: string;
}
export interface ReplyFrame {
  type: 'reply';
  id: RequestId;
  ok: boolean;
  /** A successful send's stored event. */
  event?: Event;
  error?: ErrorBody;
}
export interface EventFrame {
  type: 'event';
  conversation_id: ConversationId;
  seq: Seq;
  event: Event;
}
export interface SyncedFrame {
  type: 'synced';
  id: RequestId;
  /** Conversations with more missed events than the replay limit: page them over REST. */
  truncated: ConversationId[];
}
/** Someone's read position moved. */
export interface ReadReceiptFrame {
  type: 'read';
  conversation_id: ConversationId;
  user_id: UserId;
  seq: Seq;
}
/** How far a member's devices have received the log (delivered receipts). */
export interface DeliveredFrame {
  type: 'delivered';
  conversation_id: ConversationId;
  user_id: UserId;
  seq: Seq;
}
/**
 * Someone is typing (`active` true) or stopped (false). Show it as stopped after 6 s without a
 * refresh: a stop may never come.
 */
export interface TypingIndicatorFrame {
  type: 'typing';
  conversation_id: ConversationId;
  user_id: UserId;
  active?: boolean;
}
/** The user deleted a message for themselves on another device. */
export interface MessageHiddenFrame {
  type: 'message_hidden';
  conversation_id: ConversationId;
  message_id: EventId;
  seq: Seq;
}
export interface PongFrame {
  type: 'pong';
  id: RequestId;
}
/** Connection-level codes, each followed by a close. */
export type ConnectionCode = 'going_away' | 'session_revoked' | 'too_slow';
export interface ErrorFrame {
  type: 'error';
  code: ConnectionCode | ErrorCode;
  message: string;
}
/**
 * A friend's presence changed (friends only; users who hide their presence never appear
 * online). Online ~0.2 s after their first connection opens; offline ~5–6 s after their last one
 * closed (the grace period), with `last_seen_at`.
 */
export interface PresenceFrame {
  type: 'presence';
  user_id: UserId;
  online: boolean;
  /** When they were last online (offline frames; absent when they just hid their presence). */
  last_seen_at?: Timestamp | null;
}
/** Right after `ready` (and after the node lost its LISTEN connection): the friends online now. */
export interface PresenceSnapshotFrame {
  type: 'presence_snapshot';
  online: UserId[];
}
/** A notice (the same object `GET /v1/notices` lists). Not replayed by `sync`. */
export type NoticeFrame = { type: 'notice' } & Notice;
export type ServerFrame =
  | ReadyFrame
  | ReplyFrame
  | EventFrame
  | SyncedFrame
  | ReadReceiptFrame
  | DeliveredFrame
  | TypingIndicatorFrame
  | MessageHiddenFrame
  | PongFrame
  | ErrorFrame
  | PresenceFrame
  | PresenceSnapshotFrame
  | NoticeFrame;

export type ReadReceipt = Omit<ReadReceiptFrame, 'type'>;
export type DeliveryReceipt = Omit<DeliveredFrame, 'type'>;
export type MessageHidden = Omit<MessageHiddenFrame, 'type'>;
export type TypingIndicator = Omit<TypingIndicatorFrame, 'type'>;
export type PresenceChange = Omit<PresenceFrame, 'type'>;

/** WebSocket close codes the node uses. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocol: 1002,
  policy: 1008,
  tooLarge: 1009,
  tryAgainLater: 1013,
} as const;

const SERVER_TYPES = new Set([
  'ready',
  'reply',
  'event',
  'synced',
  'read',
  'delivered',
  'typing',
  'message_hidden',
  'pong',
  'error',
  'presence',
  'presence_snapshot',
  'notice',
]);

/** Parses one server frame; `null` for anything that is not a JSON object with a `type`. */
export function parseServerFrame(text: string): ServerFrame | { type: string; [k: string]: unknown } | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || typeof (v as { type?: unknown }).type !== 'string') return null;
  return v as ServerFrame;
}

/** Whether a frame type is one this SDK knows. */
export function isKnownServerFrame(f: { type: string }): f is ServerFrame {
  return SERVER_TYPES.has(f.type);
}
