// The history thread entry used when the server runs from TypeScript source (tests, `npm run dev`):
// Node 20 does not apply `--import` to worker threads, so this registers tsx inside the thread and
// then loads history-thread.ts. The built server uses dist/shards/history-thread.js directly.
import { register } from 'tsx/esm/api';

register();
const thread = await import('./history-thread.ts');

export const merge = thread.merge;
export const diff = thread.diff;
