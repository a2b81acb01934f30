/**
 * The Tandem browser editor (served by the server at `/`): the home page at `/`, a project at
 * `/s/<shardId>` (or `/?shard=<shardId>`). Imports only @tandem/client-sdk and @tandem/protocol
 * of the workspace.
 */
import { h, replaceChildren } from './dom.js';
import { showEditor } from './editor/editor-page.js';
import { showHome } from './home-page.js';
import { captureTokenFromUrl, clearToken, findToken, loadWebConfig, saveToken } from './session-token.js';

const root = document.getElementById('app') ?? document.body;

captureTokenFromUrl();
void route();

async function route(): Promise<void> {
  const token = await findToken();
  if (token === null) return showTokenForm(null);
  const onAuthError = (message: string) => {
    clearToken();
    showTokenForm(message);
  };
  const shardId = currentShardId();
  if (shardId !== null) await showEditor(root, { shardId, token, onAuthError });
  else await showHome(root, { token, onAuthError });
}

function currentShardId(): string | null {
  const match = /^\/s\/([^/]+)\/?$/.exec(location.pathname);
  if (match?.[1] !== undefined) return decodeURIComponent(match[1]);
  return new URLSearchParams(location.search).get('shard');
}

function showTokenForm(problem: string | null): void {
  const input = h('textarea', {
    class: 'input token-input',
    rows: 4,
    placeholder: 'eyJhbGciOi…',
    'aria-label': 'Access token',
    spellcheck: 'false',
  });
  const form = h(
    'form',
    {
      class: 'token-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        if (input.value.trim() === '') return;
        saveToken(input.value);
        void route();
      },
    },
    h('h1', {}, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Tandem'),
    h(
      'p',
      {},
      'Paste an access token to continue. Your application issues them; for local development run ',
      h('code', {}, 'npm run token'),
      ' or start the server with ',
      h('code', {}, 'TANDEM_INSECURE_DEV=true'),
      '.',
    ),
    problem === null ? null : h('p', { class: 'error' }, problem),
    input,
    h('button', { type: 'submit', class: 'button primary' }, 'Continue'),
  );
  replaceChildren(root, h('div', { class: 'page-message' }, form));
  void loadWebConfig();
  input.focus();
}
