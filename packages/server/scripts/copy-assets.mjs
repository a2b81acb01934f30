// Copies what tsc does not emit into dist/: the Lua scripts of the shard cache, read at run
// time by src/shard-cache/lua-loader.ts (dist/shard-cache/lua/ in the built server).
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../src/shard-cache/lua/', import.meta.url));
const to = fileURLToPath(new URL('../dist/shard-cache/lua/', import.meta.url));
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true, filter: (path) => !path.endsWith('~') });
