import { useEffect, useState } from 'preact/hooks';
import type { Friend, FriendRequest, User } from '../../sdk';
import { presenceText } from '../format';
import { useAppState, useNow } from '../hooks';
import { explain } from '../social';
import { Avatar, Bar, ErrorLine } from './common';

function nameOf(u: User): string {
  return u.display_name || u.username;
}

/** Runs an async action with a busy flag and a readable error. */
export function useAction(): [boolean, string | null, (fn: () => Promise<unknown>, what?: 'request' | 'message' | 'other') => Promise<void>, (e: string | null) => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<unknown>, what: 'request' | 'message' | 'other' = 'other') => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(explain(e, what));
    } finally {
      setBusy(false);
    }
  };
  return [busy, error, run, setError];
}

/** Find people by username and send them a friend request with an optional note. */
function AddFriend() {
  const state = useAppState();
  const social = state.social;
  const [q, setQ] = useState('');
  const [note, setNote] = useState('');
  const [results, setResults] = useState<User[] | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const [busy, error, run, setError] = useAction();

  useEffect(() => {
    const query = q.trim();
    if (!query) {
      setResults(null);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      state.client.rest.users.search(query, { limit: 20 }).then(
        (page) => live && setResults(page.users.filter((u) => u.id !== state.me?.id)),
        (e: Error) => live && setError(e.message),
      );
    }, 200);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [q]);

  return (
    <section class="section" aria-labelledby="add-friend-h">
      <h3 id="add-friend-h">Add friend</h3>
      <form role="search" aria-label="Find people" onSubmit={(e) => e.preventDefault()}>
        <label>
          Find people by username
          <input type="search" autocapitalize="none" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <label>
          Note <span class="hint">(optional, sent with the request)</span>
          <input maxLength={200} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
      </form>
      <ErrorLine text={error} />
      {sent && (
        <p class="ok" role="status">
          {sent}
        </p>
      )}
      {results && results.length === 0 && <p class="empty">Nobody found.</p>}
      {results && results.length > 0 && (
        <ul class="people" aria-label="People found">
          {results.map((u) => {
            const rel = social.relationshipOf(u.id);
            const incoming = social.incomingFrom(u.id);
            return (
              <li key={u.id} class="person">
                <Avatar user={u} name={nameOf(u)} />
                <span class="conv-main">
                  <span class="conv-title">{nameOf(u)}</span>
                  <span class="conv-preview">@{u.username}</span>
                </span>
                {rel === 'friend' && <span class="tag">Friends</span>}
                {rel === 'request_sent' && <span class="tag">Requested</span>}
                {rel === 'blocked' && <span class="tag">Blocked</span>}
                {rel === 'request_received' && incoming && (
                  <button disabled={busy} aria-label={`Accept ${nameOf(u)}`} onClick={() => void run(() => social.accept(incoming))}>
                    Accept
                  </button>
                )}
                {rel === 'none' && (
                  <button
                    disabled={busy}
                    aria-label={`Add friend ${nameOf(u)}`}
                    onClick={() =>
                      void run(async () => {
                        setSent(null);
                        const r = await social.sendRequest(u, note);
                        setSent(r === 'friends' ? `You and ${nameOf(u)} are friends now.` : `Friend request sent to ${nameOf(u)}.`);
                        setNote('');
                      }, 'request')
                    }
                  >
                    Add friend
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

export function RequestRow({ r, incoming }: { r: FriendRequest; incoming: boolean }) {
  const state = useAppState();
  const [busy, error, run] = useAction();
  const u = incoming ? r.from : r.to;
  const name = nameOf(u);
  return (
    <li class="person request" data-request={r.id}>
      <Avatar user={u} name={name} />
      <span class="conv-main">
        <span class="conv-title">{name}</span>
        <span class="conv-preview">
          {incoming ? (r.message ? `“${r.message}”` : 'wants to be friends') : 'Waiting for an answer'}
        </span>
        <ErrorLine text={error} />
      </span>
      {incoming ? (
        <span class="actions">
          <button disabled={busy} aria-label={`Accept ${name}`} onClick={() => void run(() => state.social.accept(r))}>
            Accept
          </button>
          <button class="secondary" disabled={busy} aria-label={`Decline ${name}`} onClick={() => void run(() => state.social.decline(r))}>
            Decline
          </button>
        </span>
      ) : (
        <button class="secondary" disabled={busy} aria-label={`Cancel request to ${name}`} onClick={() => void run(() => state.social.cancel(r))}>
          Cancel
        </button>
      )}
    </li>
  );
}

function FriendRow({ f, now }: { f: Friend; now: number }) {
  const state = useAppState();
  const [busy, error, run] = useAction();
  const p = state.social.presenceOf(f.id);
  const name = nameOf(f);
  return (
    <li class="person" data-friend={f.id}>
      <button class="person-main" aria-label={`${name}, ${presenceText(p, now).toLowerCase()}, profile`} onClick={() => state.go({ name: 'profile', id: f.id })}>
        <Avatar user={f} name={name} presence={p} />
        <span class="conv-main">
          <span class="conv-title">{name}</span>
          <span class="conv-preview" data-presence={p?.online ? 'online' : 'offline'}>
            {presenceText(p, now)}
          </span>
        </span>
      </button>
      <ErrorLine text={error} />
      <button disabled={busy} aria-label={`Message ${name}`} onClick={() => void run(() => state.openDirectWith(f), 'message')}>
        Message
      </button>
    </li>
  );
}

/** Friends with presence, requests both ways, and adding friends. */
export function FriendsView() {
  const state = useAppState();
  const social = state.social;
  const now = useNow();
  const friends = [...social.friends.values()].sort(
    (a, b) => Number(social.presenceOf(b.id)?.online ?? 0) - Number(social.presenceOf(a.id)?.online ?? 0) || nameOf(a).localeCompare(nameOf(b)),
  );
  return (
    <section class="page" aria-label="Friends">
      <Bar title="Friends" />
      <div class="page-body">
        {(social.incoming.length > 0 || social.outgoing.length > 0) && (
          <section class="section" aria-labelledby="requests-h">
            <h3 id="requests-h">Friend requests</h3>
            {social.incoming.length > 0 && (
              <ul class="people" aria-label="Requests to you">
                {social.incoming.map((r) => (
                  <RequestRow key={r.id} r={r} incoming />
                ))}
              </ul>
            )}
            {social.outgoing.length > 0 && (
              <>
                <h4>Sent</h4>
                <ul class="people" aria-label="Requests you sent">
                  {social.outgoing.map((r) => (
                    <RequestRow key={r.id} r={r} incoming={false} />
                  ))}
                </ul>
              </>
            )}
          </section>
        )}
        <AddFriend />
        <section class="section" aria-labelledby="friends-h">
          <h3 id="friends-h">Friends ({friends.length})</h3>
          {friends.length === 0 && <p class="empty">No friends yet. Find people below.</p>}
          <ul class="people" aria-label="Your friends">
            {friends.map((f) => (
              <FriendRow key={f.id} f={f} now={now} />
            ))}
          </ul>
        </section>
      </div>
    </section>
  );
}
