import { useCallback, useEffect, useState } from 'preact/hooks';
import { EditorPage } from '../editor/editor-page.js';
import { HomePage } from '../home/home-page.js';
import { clearToken, findToken } from '../session-token.js';
import { DialogHost, Toasts } from '../ui/index.js';
import { currentShardId } from './route.js';
import { TokenForm } from './token-form.js';

type Auth = { kind: 'resolving' } | { kind: 'signed-in'; token: string } | { kind: 'asking'; problem: string | null };

/** The whole app: finds a token (or asks for one), then shows the home page or a project. */
export function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'resolving' });
  const resolve = useCallback(() => {
    void findToken().then((token) =>
      setAuth(token === null ? { kind: 'asking', problem: null } : { kind: 'signed-in', token }),
    );
  }, []);
  useEffect(resolve, [resolve]);
  const onAuthError = useCallback((message: string) => {
    clearToken();
    setAuth({ kind: 'asking', problem: message });
  }, []);

  const shardId = currentShardId();
  return (
    <>
      {auth.kind === 'asking' ? <TokenForm problem={auth.problem} onToken={resolve} /> : null}
      {auth.kind === 'signed-in' && shardId !== null ? (
        <EditorPage shardId={shardId} token={auth.token} onAuthError={onAuthError} />
      ) : null}
      {auth.kind === 'signed-in' && shardId === null ? <HomePage token={auth.token} onAuthError={onAuthError} /> : null}
      <DialogHost />
      <Toasts />
    </>
  );
}
