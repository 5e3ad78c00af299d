import type { ConversationSummary } from '../../sdk';
import { dayOf } from '../format';
import { useAppState } from '../hooks';

function preview(c: ConversationSummary, me: string | undefined): string {
  const e = c.last_event;
  if (!e) return 'No messages yet';
  if (e.kind === 'message') return `${e.sender_id === me ? 'You: ' : ''}${e.text ?? (e.media_ids?.length ? 'Attachment' : '')}`;
  return '';
}

function Row({ c }: { c: ConversationSummary }) {
  const state = useAppState();
  const title = state.title(c);
  const active = state.view.name === 'chat' && state.view.id === c.id;
  const unread = c.unread_count;
  return (
    <li>
      <button
        class={`conv ${active ? 'active' : ''}`}
        aria-current={active ? 'true' : undefined}
        aria-label={`${title}${unread ? `, ${unread} unread` : ''}${c.pinned ? ', pinned' : ''}`}
        onClick={() => state.go({ name: 'chat', id: c.id })}
      >
        <span class="avatar" aria-hidden="true">
          {title.slice(0, 1).toUpperCase()}
        </span>
        <span class="conv-main">
          <span class="conv-title">
            {c.pinned && <span aria-hidden="true">📌 </span>}
            {title}
          </span>
          <span class="conv-preview">{preview(c, state.me?.id)}</span>
        </span>
        <span class="conv-meta">
          <span class="conv-time">{c.last_event ? dayOf(c.last_event.created_at) : ''}</span>
          {unread > 0 && (
            <span class="badge" aria-hidden="true">
              {unread > 99 ? '99+' : unread}
            </span>
          )}
        </span>
      </button>
    </li>
  );
}

export function ConversationList() {
  const state = useAppState();
  const { active, archived } = state.sortedConversations();
  return (
    <nav class="list" aria-label="Conversations">
      <header class="bar">
        <h1>Chats</h1>
        <button onClick={() => state.go({ name: 'new' })}>New chat</button>
        <button class="secondary" onClick={() => void state.signOut()}>
          Sign out
        </button>
      </header>
      {active.length === 0 && archived.length === 0 && (
        <p class="empty">No conversations yet. Start one with “New chat”.</p>
      )}
      <ul aria-label="Conversation list">
        {active.map((c) => (
          <Row key={c.id} c={c} />
        ))}
      </ul>
      {archived.length > 0 && (
        <details class="archived">
          <summary>Archived ({archived.length})</summary>
          <ul aria-label="Archived conversations">
            {archived.map((c) => (
              <Row key={c.id} c={c} />
            ))}
          </ul>
        </details>
      )}
    </nav>
  );
}
