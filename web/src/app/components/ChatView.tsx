import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { ConversationId, MessageEvent } from '../../sdk';
import { isDeleted } from '../../sdk';
import { dayOf, presenceText } from '../format';
import { useAppState, useNow } from '../hooks';
import { explain } from '../social';
import type { PendingMessage } from '../state';
import { Icon } from './common';
import { Composer } from './Composer';
import { MessageItem, PendingItem, type MessageHandlers } from './Message';

type Item = { kind: 'event'; e: MessageEvent } | { kind: 'pending'; p: PendingMessage };

export function ChatView({ id }: { id: ConversationId }) {
  const state = useAppState();
  const c = state.conversations.get(id);
  const t = state.timeline(id);
  const title = state.title(c);
  const me = state.me?.id;
  const [replyTo, setReplyTo] = useState<MessageEvent | null>(null);
  const [editing, setEditing] = useState<MessageEvent | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const prevHeight = useRef(0);
  const prevOldest = useRef<number | null>(null);
  const stick = useRef(true);
  const now = useNow();
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const peer = c?.kind === 'direct' ? c.peer : null;
  const presence = peer ? state.social.presenceOf(peer.id) : null;
  const blockedByMe = peer ? state.social.blocked.has(peer.id) : false;
  const cannot = c ? state.social.cannotMessage(id, peer) : null;
  const group = c?.kind === 'group';
  const groupInfo = group ? state.groups.of(id) : undefined;
  const handlers: MessageHandlers = {
    onReply: (e) => (setEditing(null), setReplyTo(e)),
    onEdit: (e) => (setReplyTo(null), setEditing(e)),
    onError: (text) => setActionError(text),
  };

  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    setActionError(null);
    try {
      await fn();
    } catch (e) {
      setActionError(explain(e));
    } finally {
      setBusy(false);
    }
  };

  const items: Item[] = [...t.events.values()]
    .sort((a, b) => a.seq - b.seq)
    .map((e) => ({ kind: 'event' as const, e }));
  for (const p of [...t.pending.values()].sort((a, b) => a.queued_at - b.queued_at)) items.push({ kind: 'pending', p });
  const lastKey = items.length ? (items.at(-1)!.kind === 'event' ? (items.at(-1) as { e: MessageEvent }).e.id : 'p') : '';

  // Keep the view where it was when older messages are prepended; follow new ones at the bottom.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (prevOldest.current !== null && t.oldest !== prevOldest.current && !stick.current) {
      el.scrollTop += el.scrollHeight - prevHeight.current;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
    prevHeight.current = el.scrollHeight;
    prevOldest.current = t.oldest;
  }, [items.length, lastKey, t.oldest]);

  useEffect(() => {
    stick.current = true;
    if (group && !state.groups.of(id)) void state.groups.load(id);
    const onVisible = () => state.markRead(id);
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('focus', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('focus', onVisible);
    };
  }, [id]);

  const onScroll = () => {
    const el = scroller.current!;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 80 && t.hasMore && !t.loading) {
      prevHeight.current = el.scrollHeight;
      void state.loadOlder(id);
    }
  };

  const typists = state.typing.who(id).filter((u) => u !== me);
  let lastDay = '';

  return (
    <section class="chat" aria-label={`Chat with ${title}`}>
      <header class="bar">
        <button class="back" aria-label="Back to conversations" onClick={() => state.go({ name: 'list' })}>
          ‹
        </button>
        <div class="bar-title">
          <h2>
            {peer && !isDeleted(peer) ? (
              <button class="title-link" aria-label={`${title}, profile`} onClick={() => state.go({ name: 'profile', id: peer.id })}>
                {title}
              </button>
            ) : (
              title
            )}
          </h2>
          {group && groupInfo?.group && (
            <p class="presence-line">
              {groupInfo.group.member_count} members{state.isMuted(c) ? ' · muted' : ''}
            </p>
          )}
          {presence && (
            <p class="presence-line" data-presence={presence.online ? 'online' : 'offline'}>
              <span class={`dot inline ${presence.online ? 'online' : 'offline'}`} aria-hidden="true" />
              {presenceText(presence, now)}
            </p>
          )}
        </div>
        <button class="icon-button" aria-label="Conversation details" title="Details" onClick={() => state.go({ name: 'info', id })}>
          <Icon name="info" />
        </button>
        {peer && !isDeleted(peer) && (
          <button
            class="secondary"
            disabled={busy}
            onClick={() => void act(() => (blockedByMe ? state.social.unblock(peer.id) : state.social.block(peer)))}
          >
            {blockedByMe ? 'Unblock' : 'Block'}
          </button>
        )}
      </header>
      <ErrorLineInline text={actionError} />
      {groupInfo?.group?.announcement && (
        <p class="announcement" role="note">
          📣 {groupInfo.group.announcement}
        </p>
      )}
      <div class="messages" ref={scroller} onScroll={onScroll}>
        {t.hasMore && t.loaded && (
          <button class="secondary older" disabled={t.loading} onClick={() => void state.loadOlder(id)}>
            {t.loading ? 'Loading…' : 'Load older messages'}
          </button>
        )}
        {!t.loaded && t.loading && <p class="empty">Loading…</p>}
        {t.loaded && items.length === 0 && <p class="empty">Say hello 👋</p>}
        <div role="log" aria-label="Messages" aria-live="polite">
        <ol>
          {items.map((it) => {
            if (it.kind === 'pending') return <PendingItem key={it.p.client_msg_id} p={it.p} conv={id} />;
            const e = it.e;
            const day = dayOf(e.created_at).includes(':') ? 'Today' : dayOf(e.created_at);
            const sep = day !== lastDay;
            lastDay = day;
            const msg = <MessageItem key={e.id} e={e} conv={id} group={group} h={handlers} />;
            return sep ? [
              <li key={`day-${day}`} class="day" aria-hidden="true">
                {day}
              </li>,
              msg,
            ] : msg;
          })}
        </ol>
        </div>
      </div>
      <p class="typing" role="status" aria-live="polite">
        {typists.length > 0 ? `${typists.map((u) => state.userName(u)).join(', ')} ${typists.length > 1 ? 'are' : 'is'} typing…` : ''}
      </p>
      {cannot ? (
        <div class="cannot" role="status" data-cannot="true">
          <p>
            <strong>{cannot.text}</strong>
            {cannot.detail && <span class="hint"> ({cannot.detail})</span>}
          </p>
          {cannot.detail && (
            <button class="secondary" onClick={() => (state.social.refused.delete(id), state.changed())}>
              Try again
            </button>
          )}
        </div>
      ) : (
      <Composer
        id={id}
        group={group}
        replyTo={replyTo}
        editing={editing}
        onDone={() => (setReplyTo(null), setEditing(null))}
        onSent={() => (stick.current = true)}
      />
      )}
    </section>
  );
}

function ErrorLineInline({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p class="error bar-error" role="alert">
      {text}
    </p>
  );
}
