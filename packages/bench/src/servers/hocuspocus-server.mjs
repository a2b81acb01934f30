/**
 * Baseline 2: Hocuspocus (@hocuspocus/server), with @hocuspocus/extension-redis when REDIS_URL is
 * set (the way Hocuspocus scales to several instances). No persistence extension: it stores
 * nothing. Plain JavaScript run by plain node: Hocuspocus's package.json maps the `source`
 * export condition (which the bench itself runs with) to its TypeScript sources.
 * Env: PORT, REDIS_URL (optional), REDIS_PREFIX.
 */
import { Server } from '@hocuspocus/server';

const port = Number(process.env.PORT);
const extensions = [];
if (process.env.REDIS_URL) {
  const { Redis } = await import('@hocuspocus/extension-redis');
  const url = new URL(process.env.REDIS_URL);
  extensions.push(
    new Redis({ host: url.hostname, port: Number(url.port || 6379), prefix: process.env.REDIS_PREFIX ?? 'hocuspocus' }),
  );
}
const server = new Server({ port, address: '127.0.0.1', quiet: true, stopOnSignals: true, extensions });
await server.listen();
process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
