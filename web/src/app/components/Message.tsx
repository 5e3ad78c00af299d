import { useState } from 'preact/hooks';
import type { ConversationId, MessageEvent } from '../../sdk';
import { timeOf } from '../format';
import { useAppState } from '../hooks';
import { explain } from '../social';
import type { PendingMessage } from '../state';
import { formatSize, MediaView } from './MediaView';

/** The quick reactions offered in a message's menu. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢'];
/** The node's default recall window; the node has the last word. */
const RECALL_WINDOW_MS = 120_000;

/** Sent → Delivered → Read, for my own messages. */
function Mark({ e, conv }: { e: MessageEvent; conv: ConversationId }) {
  const state = useAppState();
  const read = (state.peerRead.get(conv) ?? 0) >= e.seq;
  const delivered = read || (state.peerDelivered.get(conv) ?? 0) >= e.seq;
  const label = read ? 'Read' : delivered ? 'Delivered' : 'Sent';
  return (
    <span class={`mark ${label.toLowerCase()}`} title={label}>
      {read || delivered ? '✓✓' : '✓'} {label}
    </span>
  );
}

/** The message another one answers, quoted above it. */
function Quote({ conv, id }: { conv: ConversationId; id: string }) {
  const state = useAppState();
  const m = state.message(conv, id);
  const who = m ? (m.sender_id === state.me?.id ? 'You' : state.userName(m.sender_id)) : '';
  const text = !m ? 'an earlier message' : m.recalled_at ? 'a recalled message' : m.hidden ? 'a deleted message' : m.text || 'an attachment';
  return (
    <blockquote class="quote" data-reply-to={id}>
      {who && <strong>{who}: </strong>}
      {text.length > 80 ? `${text.slice(0, 80)}…` : text}
    </blockquote>
  );
}

export interface MessageHandlers {
  onReply: (e: MessageEvent) => void;
  onEdit: (e: MessageEvent) => void;
  onError: (text: string) => void;
}

/** One stored message: its text, media, reply quote, reactions, marks and actions. */
export function MessageItem({ e, conv, group, h }: { e: MessageEvent; conv: ConversationId; group: boolean; h: MessageHandlers }) {
  const state = useAppState();
  const [menu, setMenu] = useState(false);
  const mine = e.sender_id === state.me?.id;
  const who = mine ? 'You' : state.userName(e.sender_id);
  const run = (fn: () => Promise<void>) => {
    setMenu(false);
    fn().catch((err) => h.onError(explain(err)));
  };
  if (e.hidden) {
    return (
      <li class="msg deleted" data-seq={e.seq}>
        <p class="text muted">You deleted this message</p>
      </li>
    );
  }
  if (e.recalled_at) {
    return (
      <li class={`msg recalled ${mine ? 'mine' : 'theirs'}`} data-seq={e.seq}>
        <p class="text muted">{mine ? 'You recalled a message' : `${who} recalled a message`}</p>
      </li>
    );
  }
  const canRecall = mine && Date.now() - Date.parse(e.created_at) < RECALL_WINDOW_MS;
  const mentioned = state.mentionsMe(e);
  const summary = e.text ? (e.text.length > 40 ? `${e.text.slice(0, 40)}…` : e.text) : 'attachment';
  return (
    <li class={`msg ${mine ? 'mine' : 'theirs'}${mentioned ? ' mentioned' : ''}`} data-seq={e.seq} data-id={e.id}>
      {!mine && group && <span class="who">{who}</span>}
      {e.reply_to && <Quote conv={conv} id={e.reply_to} />}
      {(e.media ?? []).length > 0 && (
        <div class="media-list">
          {e.media!.map((m) => (
            <MediaView key={m.id} m={m} />
          ))}
        </div>
      )}
      {e.text && <p class="text">{e.text}</p>}
      {(e.reactions ?? []).length > 0 && (
        <ul class="reactions" aria-label="Reactions">
          {e.reactions!.map((r) => (
            <li key={r.emoji}>
              <button
                class={`reaction ${r.me ? 'me' : ''}`}
                aria-pressed={r.me}
                aria-label={`${r.emoji} ${r.count}`}
                onClick={() => run(() => state.toggleReaction(conv, e.id, r.emoji))}
              >
                {r.emoji} {r.count}
              </button>
            </li>
          ))}
        </ul>
      )}
      <span class="meta">
        {e.edited_at && <span class="edited">edited</span>}
        <time dateTime={e.created_at}>{timeOf(e.created_at)}</time>
        {mine && <Mark e={e} conv={conv} />}
        <button class="more" aria-label={`Actions for “${summary}”`} aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
          ⋯
        </button>
      </span>
      {menu && (
        <div class="menu" role="menu" aria-label="Message actions">
          <div class="quick" role="group" aria-label="React">
            {QUICK_REACTIONS.map((emoji) => (
              <button key={emoji} role="menuitem" aria-label={`React ${emoji}`} onClick={() => run(() => state.toggleReaction(conv, e.id, emoji))}>
                {emoji}
              </button>
            ))}
          </div>
          <button role="menuitem" onClick={() => (setMenu(false), h.onReply(e))}>
            Reply
          </button>
          {mine && e.text !== null && (
            <button role="menuitem" onClick={() => (setMenu(false), h.onEdit(e))}>
              Edit
            </button>
          )}
          {canRecall && (
            <button role="menuitem" onClick={() => run(() => state.recall(conv, e.id))}>
              Recall
            </button>
          )}
          <button role="menuitem" onClick={() => run(() => state.deleteForMe(conv, e.id))}>
            Delete for me
          </button>
        </div>
      )}
    </li>
  );
}

/** A message not acknowledged yet: uploading (progress), sending, or failed (Retry). */
export function PendingItem({ p, conv }: { p: PendingMessage; conv: ConversationId }) {
  const state = useAppState();
  return (
    <li class={`msg mine ${p.status}`} data-pending="true">
      {p.reply_to && <Quote conv={conv} id={p.reply_to} />}
      {p.attachments.map((a) => (
        <div class="upload" key={a.file.name}>
          <span>
            {a.file.name} ({formatSize(a.file.size)})
          </span>
          <progress aria-label={`Uploading ${a.file.name}`} max={a.file.size} value={a.media ? a.file.size : a.loaded} />
        </div>
      ))}
      {p.text && <p class="text">{p.text}</p>}
      <span class="meta">
        {p.status === 'uploading' && <span class="mark sending">Uploading…</span>}
        {p.status === 'sending' && <span class="mark sending">Sending…</span>}
        {p.status === 'failed' && (
          <>
            <span class="mark failed" role="alert">
              Not sent{p.error ? `: ${p.error}` : ''}
            </span>
            <button class="link" onClick={() => state.retry(conv, p.client_msg_id)}>
              Retry
            </button>
            <button class="link" onClick={() => state.discard(conv, p.client_msg_id)}>
              Discard
            </button>
          </>
        )}
      </span>
    </li>
  );
}
