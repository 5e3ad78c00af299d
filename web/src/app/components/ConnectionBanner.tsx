import { useAppState } from '../hooks';

/** Says so while the realtime connection is not up. */
export function ConnectionBanner() {
  const state = useAppState();
  const s = state.connection;
  const text = s === 'connecting' ? 'Connecting…' : s === 'reconnecting' ? 'Reconnecting…' : null;
  return (
    <div class={`banner ${text ? 'show' : ''}`} role="status" aria-live="polite" data-state={s}>
      {text}
    </div>
  );
}
