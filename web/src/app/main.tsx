import { render } from 'preact';
import { App } from './components/App';
import { StateContext } from './hooks';
import { AppState, createClient } from './state';
import './styles.css';

const state = new AppState(createClient());
// For debugging and the browser tests.
(window as unknown as { parley: AppState }).parley = state;

render(
  <StateContext.Provider value={state}>
    <App />
  </StateContext.Provider>,
  document.getElementById('app')!,
);
