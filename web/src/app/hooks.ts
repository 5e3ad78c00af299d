import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { AppState } from './state';

export const StateContext = createContext<AppState | null>(null);

/** The app state; re-renders the component whenever it changes. */
export function useAppState(): AppState {
  const state = useContext(StateContext);
  if (!state) throw new Error('no AppState');
  const [, setVersion] = useState(0);
  useEffect(() => state.subscribe(() => setVersion((n) => n + 1)), [state]);
  return state;
}

/** The time now, refreshed every `everyMs` (for "last seen 5 min ago"). */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
