import { isDeleted, type User, type UserId } from '../../sdk';
import { presenceText } from '../format';
import { useAppState, useNow } from '../hooks';
import { Avatar, Bar, ErrorLine } from './common';
import { useAction } from './Friends';

const RELATIONSHIP: Record<string, string> = {
  friend: 'Friends',
  request_sent: 'Friend request sent',
  request_received: 'Wants to be friends',
  blocked: 'Blocked',
  none: '',
};

/** Someone's profile: presence (friends), bio, and what one can do: message, befriend, block. */
export function ProfileView({ id }: { id: UserId }) {
  const state = useAppState();
  const social = state.social;
  const now = useNow();
  const [busy, error, run] = useAction();
  const profile = social.profiles.get(id);
  const user: User | undefined = profile ?? social.friends.get(id) ?? state.users.get(id);
  if (!user) {
    return (
      <section class="page" aria-label="Profile">
        <Bar title="Profile" />
        <p class="empty">Loading…</p>
      </section>
    );
  }
  const name = user.display_name || user.username;
  const deleted = isDeleted(user);
  const rel = social.relationshipOf(id);
  const presence = social.presenceOf(id);
  const incoming = social.incomingFrom(id);
  const outgoing = social.outgoingTo(id);
  const blockedByMe = social.blocked.has(id);
  const relText = blockedByMe ? 'You blocked them' : social.blockedBy(id) ? 'You can’t message this person' : RELATIONSHIP[rel];

  return (
    <section class="page" aria-label={`Profile of ${name}`}>
      <Bar title={name} />
      <div class="page-body profile">
        <div class="profile-head">
          <Avatar user={user} name={name} presence={presence} />
          <div>
            <p class="profile-name">{name}</p>
            {!deleted && <p class="hint">@{user.username}</p>}
            {presence && <p class="presence-line">{presenceText(presence, now)}</p>}
            {relText && <p class="tag">{relText}</p>}
          </div>
        </div>
        {user.bio && <p class="bio">{user.bio}</p>}
        {deleted && <p class="empty">This account was deleted.</p>}
        <ErrorLine text={error} />
        {!deleted && (
          <div class="actions wrap">
            {rel !== 'blocked' && (
              <button disabled={busy} onClick={() => void run(() => state.openDirectWith(user), 'message')}>
                Message
              </button>
            )}
            {rel === 'none' && (
              <button disabled={busy} onClick={() => void run(() => social.sendRequest(user), 'request')}>
                Add friend
              </button>
            )}
            {incoming && (
              <>
                <button disabled={busy} onClick={() => void run(() => social.accept(incoming))}>
                  Accept
                </button>
                <button class="secondary" disabled={busy} onClick={() => void run(() => social.decline(incoming))}>
                  Decline
                </button>
              </>
            )}
            {outgoing && (
              <button class="secondary" disabled={busy} onClick={() => void run(() => social.cancel(outgoing))}>
                Cancel request
              </button>
            )}
            {rel === 'friend' && (
              <button class="secondary" disabled={busy} onClick={() => void run(() => social.unfriend(id))}>
                Remove friend
              </button>
            )}
            {blockedByMe ? (
              <button class="secondary" disabled={busy} onClick={() => void run(() => social.unblock(id))}>
                Unblock
              </button>
            ) : (
              <button class="danger" disabled={busy} onClick={() => void run(() => social.block(user))}>
                Block
              </button>
            )}
          </div>
        )}
      </div>
    </section>
  );
}
