import { useEffect, useRef, useState } from 'preact/hooks';
import type { User } from '../../sdk';
import { useAppState } from '../hooks';

/** Find someone by username (prefix) and open the direct chat with them. */
export function NewChat() {
  const state = useAppState();
  const [q, setQ] = useState('');
  const [results, setResults] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

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
    <section class="newchat" aria-label="New chat">
      <header class="bar">
        <button class="back" aria-label="Back" onClick={() => state.go({ name: 'list' })}>
          ‹
        </button>
        <h2>New chat</h2>
      </header>
      <form role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search users
          <input ref={input} type="search" autocapitalize="none" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {results && results.length === 0 && <p class="empty">Nobody found.</p>}
      <ul aria-label="Search results">
        {results?.map((u) => (
          <li key={u.id}>
            <button
              class="conv"
              aria-label={`Chat with ${u.display_name || u.username}`}
              onClick={() => state.openDirectWith(u).catch((e: Error) => setError(e.message))}
            >
              <span class="avatar" aria-hidden="true">
                {(u.display_name || u.username).slice(0, 1).toUpperCase()}
              </span>
              <span class="conv-main">
                <span class="conv-title">{u.display_name || u.username}</span>
                <span class="conv-preview">@{u.username}</span>
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
