// The sync processor entry used when the server runs from TypeScript source (tests, `npm run dev`):
// Node 20 does not apply `--import` to worker threads, so this registers tsx inside the thread and
// then loads processor.ts. The built server uses dist/sync-jobs/processor.js directly.
import { register } from 'tsx/esm/api';

register();
const { default: processSyncJob } = await import('./processor.ts');

export default processSyncJob;
