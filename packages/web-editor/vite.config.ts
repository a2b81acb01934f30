import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

/** Where `npm run dev -w @tandem/web-editor` sends API and socket traffic (a `npm run dev` server). */
const apiTarget = process.env['TANDEM_URL'] ?? 'http://127.0.0.1:3000';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources: no prior `tsc -b` needed.
  resolve: {
    conditions: ['source', ...defaultClientConditions],
    alias: { assert: fileURLToPath(new URL('./shims/assert.cjs', import.meta.url)) },
  },
  // TSX compiles to Preact's automatic JSX runtime (the editor's components).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The compilers of the preview (Vue, Svelte, Babel for Solid) are large, lazily loaded chunks.
    chunkSizeWarningLimit: 4096,
  },
  // Code splitting inside the worker needs ES module workers (every browser with import maps has them).
  worker: { format: 'es' },
  define: {
    // @babel/types (inside @babel/standalone's plugins) reads this flag at import time.
    'process.env.BABEL_TYPES_8_BREAKING': 'false',
  },
  server: {
    proxy: {
      '/shards': apiTarget,
      '/templates': apiTarget,
      '/config.json': apiTarget,
      '/dev': apiTarget,
      '/socket.io': { target: apiTarget, ws: true },
    },
  },
});
