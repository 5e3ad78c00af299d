import { useEffect, useRef, useState } from 'preact/hooks';
import type { SearchHit } from '../../sdk';
import { dayOf } from '../format';
import { useAppState } from '../hooks';
import { explain } from '../social';
import { Bar, ErrorLine } from './common';

/** A snippet with its matches in <mark>. */
function Snippet({ hit }: { hit: SearchHit }) {
  const chars = [...hit.snippet];
  const out: (string | preact.JSX.Element)[] = [];
  let at = 0;
  hit.highlights.forEach(([a, b], i) => {
    if (a! > at) out.push(chars.slice(at, a).join(''));
    out.push(<mark key={i}>{chars.slice(a, b).join('')}</mark>);
    at = b!;
  });
  if (at < chars.length) out.push(chars.slice(at).join(''));
  return <span class="conv-preview snippet">{out}</span>;
}

/** Full-text search over every message the user can see. */
export function SearchView() {
  const state = useAppState();
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const query = q.trim();
    if (!query) return setHits(null);
    let live = true;
    const t = setTimeout(() => {
      state.client.rest.search.messages(query, { limit: 30 }).then(
        (p) => live && (setHits(p.hits), setError(null)),
        (e) => live && setError(explain(e)),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [q]);
  return (
    <section class="page" aria-label="Search">
      <Bar title="Search" />
      <form role="search" class="section" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search messages
          <input ref={input} type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
      </form>
      <div class="page-body">
        <ErrorLine text={error} />
        {hits && hits.length === 0 && <p class="empty">No messages found.</p>}
        <ul aria-label="Search results">
          {hits?.map((h) => {
            const c = state.conversations.get(h.event.conversation_id);
            const title = state.title(c);
            return (
              <li key={h.event.id}>
                <button class="conv" aria-label={`${title}: ${h.snippet}`} onClick={() => state.go({ name: 'chat', id: h.event.conversation_id })}>
                  <span class="conv-main">
                    <span class="conv-title">
                      {title} · {state.userName(h.event.sender_id)}
                    </span>
                    <Snippet hit={h} />
                  </span>
                  <span class="conv-time">{dayOf(h.event.created_at)}</span>
                </button>
              </li>
            );
          })}
        </ul>
      </div>
    </section>
  );
}
