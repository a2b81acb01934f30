import { TandemClient, TandemError, TandemRest } from '@tandem/client-sdk';
import type { TemplateSummary } from '@tandem/protocol';
import { useEffect, useState } from 'preact/hooks';
import { loadIdentity } from '../identity.js';
import { rememberShard } from '../recent-shards.js';
import { loadWebConfig, readToken } from '../session-token.js';
import { EditorStoreContext } from './editor-context.js';
import { EditorStore } from './editor-store.js';
import { Workspace } from './workspace.js';

export type EditorPageProps = {
  shardId: string;
  token: string;
  /** The token was refused: ask for another one. */
  onAuthError: (message: string) => void;
};

const AUTH_ERRORS = new Set(['UNAUTHENTICATED', 'TOKEN_EXPIRED']);

type Join =
  { kind: 'joining' } | { kind: 'failed'; code: string; message: string } | { kind: 'open'; store: EditorStore };

/** Opens a shard: joins it, then shows the workspace (or explains why it cannot). */
export function EditorPage(props: EditorPageProps) {
  const [join, setJoin] = useState<Join>({ kind: 'joining' });
  const { shardId, token, onAuthError } = props;

  useEffect(() => {
    let store: EditorStore | null = null;
    let cancelled = false;
    const client = new TandemClient({ url: location.origin, token });
    const rest = new TandemRest({ url: location.origin, token });
    const closeClient = () => void client.close();
    void (async () => {
      let session;
      try {
        session = await client.join(shardId);
      } catch (error) {
        await client.close();
        const code = error instanceof TandemError ? error.code : 'UNAVAILABLE';
        const message = error instanceof Error ? error.message : String(error);
        if (cancelled) return;
        if (AUTH_ERRORS.has(code)) return onAuthError(message);
        setJoin({ kind: 'failed', code, message });
        return;
      }
      const [config, templates] = await Promise.all([
        loadWebConfig(),
        rest.listTemplates().catch(() => ({ templates: [] as TemplateSummary[] })),
      ]);
      if (cancelled) return;
      const template = templates.templates.find((t) => t.id === session.shard.templateId);
      rememberShard({ id: session.shardId, name: session.shard.name, templateId: session.shard.templateId });
      store = new EditorStore({
        client,
        session,
        rest,
        template,
        cdnBaseUrl: config.previewCdnUrl,
        previewOrigin: config.previewOrigin,
        identity: loadIdentity(token),
        canCreate: readToken(token)?.canCreate ?? false,
      });
      store.start();
      setJoin({ kind: 'open', store });
    })();
    window.addEventListener('beforeunload', closeClient);
    return () => {
      cancelled = true;
      window.removeEventListener('beforeunload', closeClient);
      store?.dispose();
      closeClient();
    };
  }, [shardId, token, onAuthError]);

  if (join.kind === 'joining') return <div class="loading">Connecting…</div>;
  if (join.kind === 'failed') return <JoinFailed {...join} onAuthError={onAuthError} />;
  return (
    <EditorStoreContext.Provider value={join.store}>
      <Workspace />
    </EditorStoreContext.Provider>
  );
}

function JoinFailed(props: { code: string; message: string; onAuthError: (message: string) => void }) {
  const title =
    props.code === 'SHARD_NOT_FOUND'
      ? 'Project not found'
      : props.code === 'FORBIDDEN'
        ? 'No access to this project'
        : 'Cannot open this project';
  return (
    <div class="page-message">
      <h1>{title}</h1>
      <p>{props.message}</p>
      <p>
        <a href="/" class="button">
          Back to projects
        </a>
      </p>
      {props.code === 'FORBIDDEN' ? (
        <p>
          <button type="button" class="button" onClick={() => props.onAuthError(props.message)}>
            Use another token
          </button>
        </p>
      ) : null}
    </div>
  );
}
