import { render } from 'preact';
import { App } from './components/App';
import { StateContext } from './hooks';
import { AppState, createClient } from './state';
import './styles.css';

const state = new AppState(createClient());

/** Invite links open the app at `#/join/CODE`. */
function followHash(): void {
  const m = /^#\/join\/(.+)$/.exec(location.hash);
  if (!m) return;
  history.replaceState(null, '', location.pathname + location.search);
  state.openInvite(decodeURIComponent(m[1]!));
}
followHash();
window.addEventListener('hashchange', followHash);
// For debugging and the browser tests.
(window as unknown as { parley: AppState }).parley = state;

render(
  <StateContext.Provider value={state}>
    <App />
  </StateContext.Provider>,
  document.getElementById('app')!,
);
