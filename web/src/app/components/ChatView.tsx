import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { ConversationId, MessageEvent } from '../../sdk';
import { isDeleted } from '../../sdk';
import { dayOf, presenceText, timeOf } from '../format';
import { useAppState, useNow } from '../hooks';
import { explain } from '../social';
import type { PendingMessage } from '../state';

type Item = { kind: 'event'; e: MessageEvent } | { kind: 'pending'; p: PendingMessage };

function Mark({ e, conv }: { e: MessageEvent; conv: ConversationId }) {
  const state = useAppState();
  const read = (state.peerRead.get(conv) ?? 0) >= e.seq;
  return (
    <span class={`mark ${read ? 'read' : 'sent'}`} title={read ? 'Read' : 'Sent'}>
      {read ? '✓✓ Read' : '✓ Sent'}
    </span>
  );
}

export function ChatView({ id }: { id: ConversationId }) {
  const state = useAppState();
  const c = state.conversations.get(id);
  const t = state.timeline(id);
  const title = state.title(c);
  const me = state.me?.id;
  const [draft, setDraft] = useState('');
  const scroller = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
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
    input.current?.focus();
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

  const submit = () => {
    if (!draft.trim()) return;
    stick.current = true;
    state.send(id, draft);
    setDraft('');
    input.current?.focus();
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
          {presence && (
            <p class="presence-line" data-presence={presence.online ? 'online' : 'offline'}>
              <span class={`dot inline ${presence.online ? 'online' : 'offline'}`} aria-hidden="true" />
              {presenceText(presence, now)}
            </p>
          )}
        </div>
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
            if (it.kind === 'pending') {
              const p = it.p;
              return (
                <li key={p.client_msg_id} class={`msg mine ${p.status}`} data-pending="true">
                  <p class="text">{p.text}</p>
                  <span class="meta">
                    {p.status === 'sending' ? (
                      <span class="mark sending">Sending…</span>
                    ) : (
                      <>
                        <span class="mark failed" role="alert">
                          Not sent{p.error ? `: ${p.error}` : ''}
                        </span>
                        <button class="link" onClick={() => state.retry(id, p.client_msg_id)}>
                          Retry
                        </button>
                      </>
                    )}
                  </span>
                </li>
              );
            }
            const e = it.e;
            const mine = e.sender_id === me;
            const day = dayOf(e.created_at).includes(':') ? 'Today' : dayOf(e.created_at);
            const sep = day !== lastDay;
            lastDay = day;
            const msg = (
              <li key={e.id} class={`msg ${mine ? 'mine' : 'theirs'}`} data-seq={e.seq}>
                {!mine && c?.kind === 'group' && <span class="who">{state.userName(e.sender_id)}</span>}
                <p class="text">{e.text}</p>
                <span class="meta">
                  <time dateTime={e.created_at}>{timeOf(e.created_at)}</time>
                  {mine && <Mark e={e} conv={id} />}
                </span>
              </li>
            );
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
      <form
        class="composer"
        aria-label="Send a message"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <label class="visually-hidden" for="composer-input">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={input}
          rows={1}
          maxLength={8000}
          placeholder="Message"
          value={draft}
          onInput={(e) => {
            setDraft(e.currentTarget.value);
            if (e.currentTarget.value) state.typingNow(id);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
        />
        <button type="submit" disabled={!draft.trim()}>
          Send
        </button>
      </form>
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
