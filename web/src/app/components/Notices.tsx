import { useEffect } from 'preact/hooks';
import type { Notice } from '../../sdk';
import { ago } from '../format';
import { useAppState, useNow } from '../hooks';
import { Bar, ErrorLine } from './common';
import { useAction } from './Friends';

function NoticeRow({ n, now }: { n: Notice; now: number }) {
  const state = useAppState();
  const social = state.social;
  const [busy, error, run] = useAction();
  let text: string;
  let who: string | null = null;
  let actions = null;
  switch (n.kind) {
    case 'friend_request': {
      const from = n.request.from;
      who = from.id;
      const name = from.display_name || from.username;
      text = `${name} wants to be friends${n.request.message ? `: “${n.request.message}”` : '.'}`;
      // Still pending? Then it can be answered here.
      const pending = social.incoming.find((r) => r.id === n.request.id);
      if (pending) {
        actions = (
          <span class="actions">
            <button disabled={busy} aria-label={`Accept ${name}`} onClick={() => void run(() => social.accept(pending))}>
              Accept
            </button>
            <button class="secondary" disabled={busy} aria-label={`Decline ${name}`} onClick={() => void run(() => social.decline(pending))}>
              Decline
            </button>
          </span>
        );
      }
      break;
    }
    case 'friend_accepted':
      who = n.user.id;
      text = `You and ${n.user.display_name || n.user.username} are now friends.`;
      break;
    case 'friend_declined':
      who = n.user_id;
      text = `${social.nameOf(n.user_id)} declined your friend request.`;
      break;
    case 'friend_request_cancelled':
      who = n.user_id;
      text = `${social.nameOf(n.user_id)} withdrew their friend request.`;
      break;
    case 'friend_removed':
      who = n.user_id;
      text = `${social.nameOf(n.user_id)} is no longer your friend.`;
      break;
    default:
      text = 'Something happened.';
  }
  return (
    <li class={`notice ${n.seen ? 'seen' : 'unseen'}`} data-kind={n.kind}>
      <span class="conv-main">
        <span class="notice-text">
          {who ? (
            <button class="link" onClick={() => state.go({ name: 'profile', id: who! })}>
              {text}
            </button>
          ) : (
            text
          )}
        </span>
        <time class="conv-preview" dateTime={n.created_at}>
          {ago(n.created_at, now)}
        </time>
        <ErrorLine text={error} />
      </span>
      {actions}
    </li>
  );
}

/** What happened outside the conversations; opening it marks everything seen. */
export function NoticesView() {
  const state = useAppState();
  const now = useNow();
  const notices = state.social.notices;
  useEffect(() => {
    state.social.setNoticesOpen(true);
    return () => state.social.setNoticesOpen(false);
  }, []);
  return (
    <section class="page" aria-label="Notifications">
      <Bar title="Notifications" />
      <div class="page-body">
        {notices.length === 0 && <p class="empty">Nothing yet.</p>}
        <ul class="notices" aria-label="Notification list">
          {notices.map((n) => (
            <NoticeRow key={n.id} n={n} now={now} />
          ))}
        </ul>
      </div>
    </section>
  );
}
