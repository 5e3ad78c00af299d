import { useEffect, useState } from 'preact/hooks';
import { ParleyError, type DmPolicy, type SessionInfo } from '../../sdk';
import { ago } from '../format';
import { useAppState, useNow } from '../hooks';
import { Bar, ErrorLine } from './common';
import { useAction } from './Friends';

function ProfileForm() {
  const state = useAppState();
  const p = state.social.profile;
  const [displayName, setDisplayName] = useState(p?.display_name ?? '');
  const [bio, setBio] = useState(p?.bio ?? '');
  const [dmPolicy, setDmPolicy] = useState<DmPolicy>(p?.dm_policy ?? 'everyone');
  const [showPresence, setShowPresence] = useState(p?.show_presence ?? true);
  const [saved, setSaved] = useState(false);
  // Once the user has typed, a late-arriving profile must not overwrite the form.
  const [dirty, setDirty] = useState(false);
  const [busy, error, run] = useAction();
  // The profile arrives (or changes elsewhere) after the first render.
  useEffect(() => {
    if (!p || dirty) return;
    setDisplayName(p.display_name);
    setBio(p.bio ?? '');
    setDmPolicy(p.dm_policy);
    setShowPresence(p.show_presence);
  }, [p, dirty]);

  return (
    <form
      class="section"
      aria-labelledby="profile-h"
      onInput={() => setDirty(true)}
      onChange={() => setDirty(true)}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        void run(async () => {
          await state.social.saveProfile({
            display_name: displayName.trim(),
            bio: bio.trim(),
            dm_policy: dmPolicy,
            show_presence: showPresence,
          });
          setDirty(false);
          setSaved(true);
        });
      }}
    >
      <h3 id="profile-h">Profile and privacy</h3>
      <label>
        Display name
        <input required minLength={1} maxLength={64} value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
      </label>
      <label>
        Bio <span class="hint">(optional)</span>
        <textarea rows={3} maxLength={500} value={bio} onInput={(e) => setBio(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>Who can message me</legend>
        <label class="inline">
          <input type="radio" name="dm_policy" value="everyone" checked={dmPolicy === 'everyone'} onChange={() => setDmPolicy('everyone')} />
          Everyone
        </label>
        <label class="inline">
          <input type="radio" name="dm_policy" value="friends" checked={dmPolicy === 'friends'} onChange={() => setDmPolicy('friends')} />
          Friends only
        </label>
      </fieldset>
      <label class="inline">
        <input type="checkbox" checked={showPresence} onChange={(e) => setShowPresence(e.currentTarget.checked)} />
        Show my online status to friends
      </label>
      <ErrorLine text={error} />
      <div class="row-end">
        {saved && !busy && (
          <span class="ok" role="status">
            Saved
          </span>
        )}
        <button type="submit" disabled={busy || !p}>
          Save
        </button>
      </div>
    </form>
  );
}

function PasswordForm() {
  const state = useAppState();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [done, setDone] = useState(false);
  const [busy, error, run] = useAction();
  return (
    <form
      class="section"
      aria-labelledby="password-h"
      onSubmit={(e) => {
        e.preventDefault();
        setDone(false);
        void run(async () => {
          await state.social.changePassword(current, next).catch((e: unknown) => {
            throw e instanceof ParleyError && e.code === 'forbidden' ? new Error('The current password is wrong.') : e;
          });
          setCurrent('');
          setNext('');
          setDone(true);
        });
      }}
    >
      <h3 id="password-h">Password</h3>
      <label>
        Current password
        <input type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </label>
      <label>
        New password <span class="hint">(at least 8 characters)</span>
        <input
          type="password"
          autocomplete="new-password"
          required
          minLength={8}
          maxLength={256}
          value={next}
          onInput={(e) => setNext(e.currentTarget.value)}
        />
      </label>
      <ErrorLine text={error} />
      <div class="row-end">
        {done && (
          <span class="ok" role="status">
            Password changed. Your other devices were signed out.
          </span>
        )}
        <button type="submit" disabled={busy}>
          Change password
        </button>
      </div>
    </form>
  );
}

function SessionRow({ s, now }: { s: SessionInfo; now: number }) {
  const state = useAppState();
  const [busy, error, run] = useAction();
  const device = s.device_name || 'Unnamed device';
  return (
    <li class="person session" data-session={s.id}>
      <span class="conv-main">
        <span class="conv-title">
          {device}
          {s.current && <span class="tag"> This device</span>}
        </span>
        <span class="conv-preview">
          Signed in {ago(s.created_at, now)} · last used {ago(s.last_used_at, now)}
          {s.last_transport ? ` · ${s.last_transport === 'quic' ? 'QUIC' : 'WebSocket'}` : ''}
        </span>
        <ErrorLine text={error} />
      </span>
      <button
        class="secondary"
        disabled={busy}
        aria-label={`Sign out ${device}${s.current ? ' (this device)' : `, last used ${ago(s.last_used_at, now)}`}`}
        onClick={() => void run(() => state.social.revokeSession(s))}
      >
        Sign out
      </button>
    </li>
  );
}

function Sessions() {
  const state = useAppState();
  const now = useNow();
  const [, error, run] = useAction();
  useEffect(() => void run(() => state.social.loadSessions()), []);
  const sessions = state.social.sessions;
  return (
    <section class="section" aria-labelledby="sessions-h">
      <h3 id="sessions-h">Where you’re signed in</h3>
      <ErrorLine text={error} />
      {!sessions && !error && <p class="empty">Loading…</p>}
      <ul class="people" aria-label="Sessions">
        {sessions?.map((s) => (
          <SessionRow key={s.id} s={s} now={now} />
        ))}
      </ul>
    </section>
  );
}

function Blocked() {
  const state = useAppState();
  const [busy, error, run] = useAction();
  const blocked = [...state.social.blocked.values()];
  return (
    <section class="section" aria-labelledby="blocked-h">
      <h3 id="blocked-h">Blocked people</h3>
      <ErrorLine text={error} />
      {blocked.length === 0 && <p class="hint">Nobody.</p>}
      <ul class="people" aria-label="Blocked people">
        {blocked.map((u) => {
          const name = u.display_name || u.username;
          return (
            <li key={u.id} class="person">
              <span class="conv-main">
                <span class="conv-title">{name}</span>
                <span class="conv-preview">@{u.username}</span>
              </span>
              <button class="secondary" disabled={busy} aria-label={`Unblock ${name}`} onClick={() => void run(() => state.social.unblock(u.id))}>
                Unblock
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function DeleteAccount() {
  const state = useAppState();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [busy, error, run] = useAction();
  return (
    <section class="section danger-zone" aria-labelledby="delete-h">
      <h3 id="delete-h">Delete account</h3>
      <p class="hint">
        Your profile and username go away for good and your friends are removed. Messages you sent stay in others’ chats, from
        “Deleted user”.
      </p>
      {!open ? (
        <button class="danger" onClick={() => setOpen(true)}>
          Delete account…
        </button>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void run(() =>
              state.social.deleteAccount(password).catch((e: unknown) => {
                throw e instanceof ParleyError && e.code === 'forbidden' ? new Error('The password is wrong.') : e;
              }),
            );
          }}
        >
          <label>
            Confirm with your password
            <input type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <ErrorLine text={error} />
          <div class="row-end">
            <button type="button" class="secondary" onClick={() => (setOpen(false), setPassword(''))}>
              Cancel
            </button>
            <button type="submit" class="danger" disabled={busy || !password}>
              Delete my account
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

/** Profile, privacy, password, sessions, blocked people, account deletion. */
export function SettingsView() {
  const state = useAppState();
  return (
    <section class="page" aria-label="Settings">
      <Bar title="Settings">
        <button class="secondary" onClick={() => void state.signOut()}>
          Sign out
        </button>
      </Bar>
      <div class="page-body">
        <p class="hint signed-in">
          Signed in as <strong>@{state.me?.username}</strong>
        </p>
        <ProfileForm />
        <PasswordForm />
        <Sessions />
        <Blocked />
        <DeleteAccount />
      </div>
    </section>
  );
}
