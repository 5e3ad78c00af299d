import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConversationId, MessageEvent, User, UserId } from '../../sdk';
import { useAppState } from '../hooks';
import { explain } from '../social';
import { Icon } from './common';
import { formatSize } from './MediaView';

/** What the media route accepts (docs/protocol.md, Media). */
const ACCEPT = 'image/jpeg,image/png,image/gif,image/webp,video/mp4,video/webm,audio/*,application/pdf,text/plain';
const MAX_FILES = 10;

interface Suggestion {
  id: UserId | 'all';
  name: string;
}

/** The `@word` being typed right before the caret, if any. */
function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const m = /(^|\s)@([^\s@]{0,32})$/.exec(text.slice(0, caret));
  return m ? { start: caret - m[2]!.length - 1, query: m[2]!.toLowerCase() } : null;
}

export interface ComposerProps {
  id: ConversationId;
  group: boolean;
  replyTo: MessageEvent | null;
  editing: MessageEvent | null;
  onDone: () => void;
  onSent: () => void;
}

/**
 * The message box: text, attachments (uploaded with progress once sent), a reply or an edit in
 * progress, and in groups `@` mentions with suggestions from the member list.
 */
export function Composer({ id, group, replyTo, editing, onDone, onSent }: ComposerProps) {
  const state = useAppState();
  const [draft, setDraft] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [mentions, setMentions] = useState<Map<string, UserId>>(new Map());
  const [suggest, setSuggest] = useState<{ start: number; items: Suggestion[]; active: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (editing) setDraft(editing.text ?? '');
    input.current?.focus();
  }, [editing?.id, replyTo?.id]);

  const members = (): User[] => (state.groups.of(id)?.members ?? []).map((m) => m.user).filter((u) => u.id !== state.me?.id && !u.deleted);

  const updateSuggestions = (text: string, caret: number) => {
    if (!group) return setSuggest(null);
    const at = mentionAt(text, caret);
    if (!at) return setSuggest(null);
    const items: Suggestion[] = members()
      .filter((u) => (u.display_name || '').toLowerCase().startsWith(at.query) || u.username.toLowerCase().startsWith(at.query))
      .slice(0, 6)
      .map((u) => ({ id: u.id, name: u.display_name || u.username }));
    if (state.groups.canManage(id) && 'all'.startsWith(at.query)) items.push({ id: 'all', name: 'all' });
    setSuggest(items.length ? { start: at.start, items, active: 0 } : null);
  };

  const pick = (s: Suggestion) => {
    const el = input.current!;
    const caret = el.selectionStart ?? draft.length;
    const start = suggest?.start ?? caret;
    const insert = `@${s.name} `;
    const next = draft.slice(0, start) + insert + draft.slice(caret);
    // Write the value and caret now, not after the re-render: typing may go on at once.
    el.value = next;
    el.selectionStart = el.selectionEnd = start + insert.length;
    el.focus();
    setDraft(next);
    if (s.id !== 'all') setMentions(new Map(mentions).set(s.name, s.id));
    else setMentions(new Map(mentions).set('all', 'all'));
    setSuggest(null);
  };

  const submit = async () => {
    const text = draft.trim();
    if (editing) {
      if (!text || text === editing.text) return onDone();
      try {
        await state.edit(id, editing.id, text);
        setDraft('');
        onDone();
      } catch (e) {
        setError(explain(e));
      }
      return;
    }
    if (!text && files.length === 0) return;
    // Only the mentions still written in the text count.
    const named = [...mentions].filter(([name]) => text.includes(`@${name}`));
    state.send(id, text, {
      replyTo: replyTo?.id ?? null,
      mentions: named.filter(([, uid]) => uid !== 'all').map(([, uid]) => uid),
      mentionAll: named.some(([, uid]) => uid === 'all'),
      files,
    });
    setDraft('');
    setFiles([]);
    setMentions(new Map());
    setError(null);
    onSent();
    onDone();
    input.current?.focus();
  };

  const addFiles = (list: FileList | null) => {
    if (!list) return;
    const next = [...files, ...Array.from(list)].slice(0, MAX_FILES);
    setFiles(next);
    if (fileInput.current) fileInput.current.value = '';
  };

  const listId = `mentions-${id}`;
  return (
    <form
      class="composer-wrap"
      aria-label="Send a message"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {(replyTo || editing) && (
        <div class="composing" role="status">
          <span>
            {editing ? 'Editing message' : `Replying to ${replyTo!.sender_id === state.me?.id ? 'yourself' : state.userName(replyTo!.sender_id)}: `}
            {!editing && <em>{(replyTo!.text ?? 'attachment').slice(0, 60)}</em>}
          </span>
          <button
            type="button"
            class="link"
            onClick={() => {
              if (editing) setDraft('');
              onDone();
            }}
          >
            {editing ? 'Cancel edit' : 'Cancel reply'}
          </button>
        </div>
      )}
      {files.length > 0 && (
        <ul class="chips" aria-label="Attachments">
          {files.map((f, i) => (
            <li key={`${f.name}-${i}`}>
              {f.name} ({formatSize(f.size)})
              <button type="button" class="link" aria-label={`Remove ${f.name}`} onClick={() => setFiles(files.filter((_, j) => j !== i))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p class="error bar-error" role="alert">
          {error}
        </p>
      )}
      {suggest && (
        <ul class="suggestions" id={listId} role="listbox" aria-label="Mention suggestions">
          {suggest.items.map((s, i) => (
            <li
              key={s.id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === suggest.active}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(s);
              }}
            >
              @{s.name}
            </li>
          ))}
        </ul>
      )}
      <div class="composer">
        {!editing && (
          <>
            <input
              ref={fileInput}
              id={`attach-${id}`}
              class="visually-hidden"
              type="file"
              multiple
              accept={ACCEPT}
              aria-label="Attach files"
              onChange={(e) => addFiles(e.currentTarget.files)}
            />
            <label for={`attach-${id}`} class="icon-button attach" title="Attach files" aria-hidden="true">
              <Icon name="clip" />
            </label>
          </>
        )}
        <label class="visually-hidden" for="composer-input">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={input}
          rows={1}
          maxLength={8000}
          placeholder="Message"
          value={draft}
          aria-autocomplete={group ? 'list' : undefined}
          aria-controls={suggest ? listId : undefined}
          aria-activedescendant={suggest ? `${listId}-${suggest.active}` : undefined}
          onInput={(e) => {
            const el = e.currentTarget;
            setDraft(el.value);
            updateSuggestions(el.value, el.selectionStart ?? el.value.length);
            if (el.value && !editing) state.typingNow(id);
            else if (!el.value) state.typingStopped(id);
          }}
          onBlur={() => setTimeout(() => setSuggest(null), 150)}
          onKeyDown={(e) => {
            if (suggest) {
              if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
                e.preventDefault();
                const n = suggest.items.length;
                setSuggest({ ...suggest, active: (suggest.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n });
                return;
              }
              if (e.key === 'Enter' || e.key === 'Tab') {
                e.preventDefault();
                pick(suggest.items[suggest.active]!);
                return;
              }
              if (e.key === 'Escape') {
                setSuggest(null);
                return;
              }
            }
            if (e.key === 'Escape' && (editing || replyTo)) {
              if (editing) setDraft('');
              onDone();
              return;
            }
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <button type="submit" disabled={!draft.trim() && files.length === 0}>
          {editing ? 'Save' : 'Send'}
        </button>
      </div>
    </form>
  );
}
