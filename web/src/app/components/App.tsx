import { useEffect, useState } from 'preact/hooks';
import { useAppState } from '../hooks';
import { AuthScreen } from './AuthScreen';
import { ChatView } from './ChatView';
import { ConnectionBanner } from './ConnectionBanner';
import { ConversationInfo } from './ConversationInfo';
import { ConversationList } from './ConversationList';
import { FriendsView } from './Friends';
import { NewChat } from './NewChat';
import { NewGroup } from './NewGroup';
import { NoticesView } from './Notices';
import { ProfileView } from './Profile';
import { SearchView } from './SearchView';
import { SettingsView } from './Settings';

export function App() {
  const state = useAppState();
  const [booting, setBooting] = useState(true);

  useEffect(() => {
    state
      .resume()
      .catch((e: Error) => {
        state.notice = `Could not reach the server: ${e.message}`;
      })
      .finally(() => setBooting(false));
  }, []);

  if (booting) return <p class="boot">Loading…</p>;
  if (!state.me) return <AuthScreen />;

  const v = state.view;
  return (
    <div class={`shell view-${v.name} ${v.name === 'list' ? '' : 'detail-open'}`}>
      <ConnectionBanner />
      {state.notice && (
        <p class="notice-line" role="status">
          {state.notice}
          <button class="link" onClick={() => ((state.notice = null), state.changed())}>
            Dismiss
          </button>
        </p>
      )}
      <div class="panes">
        <ConversationList />
        <div class="detail">
          {v.name === 'chat' && <ChatView key={v.id} id={v.id} />}
          {v.name === 'new' && <NewChat />}
          {v.name === 'friends' && <FriendsView />}
          {v.name === 'notices' && <NoticesView />}
          {v.name === 'settings' && <SettingsView />}
          {v.name === 'profile' && <ProfileView key={v.id} id={v.id} />}
          {v.name === 'info' && <ConversationInfo key={v.id} id={v.id} />}
          {v.name === 'new-group' && <NewGroup />}
          {v.name === 'search' && <SearchView />}
          {v.name === 'list' && <p class="empty placeholder">Pick a conversation.</p>}
        </div>
      </div>
    </div>
  );
}
