import type { ComponentChildren } from 'preact';
import type { Friend, PresenceState, User, UserId } from '../../sdk';
import { isDeleted } from '../../sdk';
import { useAppState } from '../hooks';

/** Initial in a circle, with a presence dot for friends. */
export function Avatar({ user, name, presence }: { user?: User | null; name: string; presence?: PresenceState | null }) {
  const deleted = isDeleted(user);
  return (
    <span class={`avatar ${deleted ? 'deleted' : ''}`} aria-hidden="true">
      {deleted ? '?' : name.slice(0, 1).toUpperCase()}
      {presence && <span class={`dot ${presence.online ? 'online' : 'offline'}`} data-presence={presence.online ? 'online' : 'offline'} />}
    </span>
  );
}

/** A screen's top bar: a back button (phones), the title, actions. */
export function Bar({ title, back = 'Back', children }: { title: string; back?: string; children?: ComponentChildren }) {
  const state = useAppState();
  return (
    <header class="bar">
      <button class="back" aria-label={back} onClick={() => state.go({ name: 'list' })}>
        ‹
      </button>
      <h2>{title}</h2>
      {children}
    </header>
  );
}

const PATHS = {
  bell: 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z',
  people:
    'M16 11a3.5 3.5 0 1 0-3.5-3.5A3.5 3.5 0 0 0 16 11Zm-8 0a3 3 0 1 0-3-3 3 3 0 0 0 3 3Zm0 2c-2.7 0-6 1.3-6 3.5V19h7v-2.5A4.3 4.3 0 0 1 10.4 13 10 10 0 0 0 8 13Zm8 0c-3 0-7 1.5-7 4v2h14v-2c0-2.5-4-4-7-4Z',
  gear: 'M19.4 13a7.6 7.6 0 0 0 0-2l2.1-1.6-2-3.4-2.5 1a7.3 7.3 0 0 0-1.7-1L15 3.4h-4l-.4 2.6a7.3 7.3 0 0 0-1.7 1l-2.5-1-2 3.4L6.6 11a7.6 7.6 0 0 0 0 2l-2.1 1.6 2 3.4 2.5-1a7.3 7.3 0 0 0 1.7 1l.3 2.6h4l.4-2.6a7.3 7.3 0 0 0 1.7-1l2.5 1 2-3.4ZM12 15.5a3.5 3.5 0 1 1 3.5-3.5 3.5 3.5 0 0 1-3.5 3.5Z',
  group: 'M12 12a3 3 0 1 0-3-3 3 3 0 0 0 3 3Zm-6 1a2.5 2.5 0 1 0-2.5-2.5A2.5 2.5 0 0 0 6 13Zm12 0a2.5 2.5 0 1 0-2.5-2.5A2.5 2.5 0 0 0 18 13Zm-6 1c-2.5 0-5 1.2-5 3v2h10v-2c0-1.8-2.5-3-5-3Zm-6 .5c-2 0-4 .9-4 2.3V19h3v-2c0-.9.4-1.7 1-2.3Zm12 0a3.2 3.2 0 0 1 1 2.3v2.2h3v-2.2c0-1.4-2-2.3-4-2.3Z',
  search: 'M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3Zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10Z',
  info: 'M12 2a10 10 0 1 0 10 10A10 10 0 0 0 12 2Zm1 15h-2v-6h2Zm0-8h-2V7h2Z',
  clip: 'M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10Z',
  pencil: 'M3 17.25V21h3.75L17.8 9.94l-3.75-3.75ZM20.7 7.04a1 1 0 0 0 0-1.41l-2.33-2.33a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75Z',
} as const;

export function Icon({ name }: { name: keyof typeof PATHS }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
      <path d={PATHS[name]} fill="currentColor" />
    </svg>
  );
}

/** An error line (role alert) when `text` is set. */
export function ErrorLine({ text }: { text: string | null | undefined }) {
  if (!text) return null;
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

/** Checkboxes of friends, for picking members (new group, add to group). */
export function FriendPicker({ friends, picked, onChange }: { friends: Friend[]; picked: Set<UserId>; onChange: (next: Set<UserId>) => void }) {
  return (
    <>
      {friends.map((f) => (
        <label key={f.id} class="inline">
          <input
            type="checkbox"
            checked={picked.has(f.id)}
            onChange={(e) => {
              const next = new Set(picked);
              if (e.currentTarget.checked) next.add(f.id);
              else next.delete(f.id);
              onChange(next);
            }}
          />
          {f.display_name || f.username}
        </label>
      ))}
    </>
  );
}
