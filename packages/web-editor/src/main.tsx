/**
 * The Tandem browser editor (served by the server at `/`): the home page at `/`, a project at
 * `/s/<shardId>` (or `/?shard=<shardId>`). Imports only @tandem/client-sdk and @tandem/protocol
 * of the workspace.
 */
import { render } from 'preact';
import { App } from './app/app.js';
import { captureTokenFromUrl } from './session-token.js';

captureTokenFromUrl();
render(<App />, document.getElementById('app') ?? document.body);
