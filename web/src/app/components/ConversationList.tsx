import type { ConversationSummary } from '../../sdk';
import { dayOf } from '../format';
import { useAppState } from '../hooks';
import { Avatar, Icon } from './common';

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
  const presence = c.peer ? state.social.presenceOf(c.peer.id) : null;
  return (
    <li>
      <button
        class={`conv ${active ? 'active' : ''}`}
        aria-current={active ? 'true' : undefined}
        aria-label={`${title}${unread ? `, ${unread} unread` : ''}${c.pinned ? ', pinned' : ''}${presence ? (presence.online ? ', online' : ', offline') : ''}`}
        onClick={() => state.go({ name: 'chat', id: c.id })}
      >
        <Avatar user={c.peer} name={title} presence={presence} />
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

function NavButton({
  view,
  label,
  icon,
  count = 0,
  countLabel,
}: {
  view: 'notices' | 'friends' | 'settings' | 'new';
  label: string;
  icon: 'bell' | 'people' | 'gear' | 'pencil';
  count?: number;
  countLabel?: (n: number) => string;
}) {
  const state = useAppState();
  const active = state.view.name === view;
  return (
    <button
      class={`icon-button ${active ? 'active' : ''}`}
      aria-label={count > 0 && countLabel ? `${label}, ${count} ${countLabel(count)}` : label}
      aria-current={active ? 'page' : undefined}
      title={label}
      onClick={() => state.go({ name: view })}
    >
      <Icon name={icon} />
      {count > 0 && (
        <span class="badge small" aria-hidden="true" data-count={count}>
          {count > 99 ? '99+' : count}
        </span>
      )}
    </button>
  );
}

export function ConversationList() {
  const state = useAppState();
  const { active, archived } = state.sortedConversations();
  return (
    <nav class="list" aria-label="Conversations">
      <header class="bar">
        <h1>Chats</h1>
        <NavButton view="notices" label="Notifications" icon="bell" count={state.social.unseen} countLabel={() => 'unseen'} />
        <NavButton view="friends" label="Friends" icon="people" count={state.social.incoming.length} countLabel={(n) => (n === 1 ? 'request' : 'requests')} />
        <NavButton view="settings" label="Settings" icon="gear" />
        <NavButton view="new" label="New chat" icon="pencil" />
      </header>
      {active.length === 0 && archived.length === 0 && (
        <p class="empty">No conversations yet. Start one with New chat (the pencil) or from Friends.</p>
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
