import type { ConversationSummary } from '../../sdk';
import { dayOf } from '../format';
import { useAppState } from '../hooks';
import { Avatar, Icon } from './common';

function preview(c: ConversationSummary, me: string | undefined): string {
  const e = c.last_event;
  if (!e) return 'No messages yet';
  if (e.kind === 'message') {
    if (e.recalled_at) return 'Message recalled';
    return `${e.sender_id === me ? 'You: ' : ''}${e.text ?? (e.media_ids?.length ? 'Attachment' : '')}`;
  }
  if (e.kind === 'group_created') return 'Group created';
  if (e.kind === 'member_joined') return 'Someone joined';
  if (e.kind === 'member_left') return 'Someone left';
  return '';
}

function Row({ c }: { c: ConversationSummary }) {
  const state = useAppState();
  const title = state.title(c);
  const active = state.view.name === 'chat' && state.view.id === c.id;
  const unread = c.unread_count;
  const mentions = c.mention_count;
  const muted = state.isMuted(c);
  const presence = c.peer ? state.social.presenceOf(c.peer.id) : null;
  return (
    <li>
      <button
        class={`conv ${active ? 'active' : ''}`}
        aria-current={active ? 'true' : undefined}
        aria-label={`${title}${unread ? `, ${unread} unread` : ''}${mentions ? `, ${mentions} ${mentions === 1 ? 'mention' : 'mentions'}` : ''}${c.pinned ? ', pinned' : ''}${muted ? ', muted' : ''}${presence ? (presence.online ? ', online' : ', offline') : ''}`}
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
          {muted && <span aria-hidden="true" title="Muted">🔕</span>}
          {mentions > 0 && (
            <span class="badge mention" aria-hidden="true">
              @
            </span>
          )}
          {unread > 0 && (
            <span class={`badge ${muted ? 'muted' : ''}`} aria-hidden="true">
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
  view: 'notices' | 'friends' | 'settings' | 'new' | 'new-group' | 'search';
  label: string;
  icon: 'bell' | 'people' | 'gear' | 'pencil' | 'group' | 'search';
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
        <NavButton view="search" label="Search" icon="search" />
        <NavButton view="new-group" label="New group" icon="group" />
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
