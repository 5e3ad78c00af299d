import { useState } from 'preact/hooks';
import { useAppState } from '../hooks';

/** Sign in or register: the same fields, two buttons. */
export function AuthScreen() {
  const state = useAppState();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    state.notice = null;
    try {
      await fn();
    } catch (e) {
      setError((e as Error).message || 'Something went wrong');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="auth">
      <h1>Parley</h1>
      <form
        aria-label="Sign in or register"
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => state.signIn(username.trim(), password));
        }}
      >
        <label>
          Username
          <input
            name="username"
            autocomplete="username"
            autocapitalize="none"
            required
            minLength={3}
            maxLength={32}
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label>
          Display name <span class="hint">(optional, for new accounts)</span>
          <input name="display_name" maxLength={64} value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
        </label>
        {(error || state.notice) && (
          <p class="error" role="alert">
            {error ?? state.notice}
          </p>
        )}
        <div class="row">
          <button type="submit" disabled={busy}>
            Sign in
          </button>
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={(e) => {
              const form = (e.currentTarget as HTMLButtonElement).form!;
              if (!form.reportValidity()) return;
              void run(() => state.register(username.trim().toLowerCase(), password, displayName.trim()));
            }}
          >
            Register
          </button>
        </div>
      </form>
    </main>
  );
}
