/**
 * What later events do to a message: `edit`, `recall` and `reaction` events name a message
 * (`message_id`) and change how it reads now. REST history and `sync` return messages as they
 * are now (reactions counted); over realtime a client applies each follow-up itself, once (the
 * realtime client emits each event once).
 */
import type { Event, EventId, EventOf, MessageEvent, UserId } from './types';

/** An event that changes an earlier message. */
export type FollowUp = EventOf<'edit'> | EventOf<'recall'> | EventOf<'reaction'>;

/** The message a follow-up changes, or null for any other event. */
export function targetOf(e: Event): EventId | null {
  return e.kind === 'edit' || e.kind === 'recall' || e.kind === 'reaction' ? (e as FollowUp).message_id : null;
}

/**
 * `msg` as it reads after `e` (a new object; `msg` itself is left alone). `me` is the reader,
 * for a reaction's `me` flag.
 */
export function applyFollowUp(msg: MessageEvent, e: Event, me: UserId | null): MessageEvent {
  switch (e.kind) {
    case 'edit': {
      const edit = e as EventOf<'edit'>;
      if (msg.recalled_at) return msg;
      return { ...msg, text: edit.text ?? null, edited_at: e.created_at };
    }
    case 'recall':
      return { ...msg, text: null, media_ids: [], media: [], mentions: [], mention_all: false, recalled_at: e.created_at, reactions: [] };
    case 'reaction': {
      const r = e as EventOf<'reaction'>;
      const mine = r.sender_id === me;
      const list = [...(msg.reactions ?? [])];
      const i = list.findIndex((x) => x.emoji === r.emoji);
      if (r.added) {
        if (i < 0) list.push({ emoji: r.emoji, count: 1, me: mine });
        else if (!(mine && list[i]!.me)) list[i] = { ...list[i]!, count: list[i]!.count + 1, me: list[i]!.me || mine };
      } else if (i >= 0 && !(mine && !list[i]!.me)) {
        const count = list[i]!.count - 1;
        if (count <= 0) list.splice(i, 1);
        else list[i] = { ...list[i]!, count, me: mine ? false : list[i]!.me };
      }
      return { ...msg, reactions: list };
    }
    default:
      return msg;
  }
}
