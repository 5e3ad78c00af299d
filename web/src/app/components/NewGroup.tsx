import { useState } from 'preact/hooks';
import { useAppState } from '../hooks';
import { explain } from '../social';
import { Bar, ErrorLine, FriendPicker } from './common';

/** Create a group (name, friends as first members), or join one with an invite link. */
export function NewGroup() {
  const state = useAppState();
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [link, setLink] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const friends = [...state.social.friends.values()];
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="page" aria-label="New group">
      <Bar title="New group" />
      <div class="page-body">
        <ErrorLine text={error} />
        <form
          class="section"
          onSubmit={(e) => {
            e.preventDefault();
            if (name.trim()) void run(() => state.groups.create(name, [...picked]));
          }}
        >
          <label>
            Group name
            <input value={name} maxLength={64} required onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <fieldset>
            <legend>Members</legend>
            {friends.length === 0 && <p class="hint">Add friends first to invite them here, or share an invite link later.</p>}
            <FriendPicker friends={friends} picked={picked} onChange={setPicked} />
          </fieldset>
          <button type="submit" disabled={busy || !name.trim()}>
            Create group
          </button>
        </form>
        <form
          class="section"
          onSubmit={(e) => {
            e.preventDefault();
            if (link.trim())
              void run(async () => {
                const r = await state.groups.join(link);
                if (r === 'pending') setStatus('Asked to join: an admin of the group will let you in.');
              });
          }}
        >
          <h3>Join a group</h3>
          <label>
            Invite link or code
            <input value={link} onInput={(e) => setLink(e.currentTarget.value)} />
          </label>
          <button type="submit" class="secondary" disabled={busy || !link.trim()}>
            Join group
          </button>
          {status && (
            <p class="ok" role="status">
              {status}
            </p>
          )}
        </form>
      </div>
    </section>
  );
}
