import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, SignJWT } from 'jose';
import { io } from 'socket.io-client';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/services.js';
import { closeAgent, rawRequest } from '../fuzz/fuzz-support.js';
import { ensureWebBuild } from '../browser/support/web-build.js';

/** The development secret older versions signed with in every installation (public in the source). */
const OLD_PUBLIC_DEV_SECRET = 'tandem-insecure-development-secret-do-not-use';
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function connectOutcome(url: string, token: string, origin?: string): Promise<string> {
  const socket = io(url, {
    transports: ['websocket'],
    auth: { token },
    reconnection: false,
    forceNew: true,
    ...(origin === undefined ? {} : { extraHeaders: { origin } }),
  });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.close();
      resolve('connected');
    });
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
      socket.close();
      resolve(error.data?.code ?? 'refused');
    });
  });
}

describe('development mode (serve --insecure-dev)', () => {
  const prefix = uniquePrefix();
  let dir: string;
  let server: ServerProcess;
  let port: number;

  beforeAll(async () => {
    await ensureWebBuild();
    dir = mkdtempSync(join(tmpdir(), 'tandem-dev-mode-'));
    server = await startServerProcess({
      prefix,
      databaseUrl: `sqlite:${join(dir, 'data', 'tandem.sqlite')}`,
      args: ['--insecure-dev'],
      env: { AUTH_JWT_SECRET: '', WEB_ENABLED: 'true' },
    });
    port = server.port;
  });

  afterAll(async () => {
    closeAgent();
    await server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  async function devToken(headers: Record<string, string>): Promise<{ status: number; token?: string }> {
    const res = await rawRequest(server.url, { method: 'GET', path: '/dev/token', headers });
    const body = JSON.parse(res.body.toString('utf8')) as { token?: string };
    return { status: res.status, ...(body.token === undefined ? {} : { token: body.token }) };
  }

  it('signs with a random secret kept (mode 0600) next to the SQLite file, not the public one', async () => {
    const file = join(dir, 'data', 'dev-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(secret).not.toBe(OLD_PUBLIC_DEV_SECRET);
    // What a page on another website used to do: sign an admin token with the public secret.
    const forged = await new SignJWT({ sub: 'attacker', role: 'admin', create: true })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(OLD_PUBLIC_DEV_SECRET));
    const res = await fetch(`${server.url}/templates`, { headers: { authorization: `Bearer ${forged}` } });
    expect(res.status).toBe(401);
    expect(await connectOutcome(server.url, forged)).toBe('UNAUTHENTICATED');
  });

  it('hands /dev/token only to its own pages on a loopback Host', async () => {
    const own = `http://127.0.0.1:${port}`;
    const good = await devToken({ host: `127.0.0.1:${port}` });
    expect(good.status).toBe(200);
    expect(decodeJwt(good.token ?? '')).toMatchObject({ sub: 'dev', role: 'admin' });
    expect((await devToken({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await devToken({ host: `127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, so the browser sends its Host.
    expect((await devToken({ host: `evil.example:${port}` })).status).toBe(403);
    expect((await devToken({ host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).status).toBe(403);
    // Another website on this machine or elsewhere.
    expect((await devToken({ host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).status).toBe(403);
    expect((await devToken({ host: `127.0.0.1:${port}`, origin: 'null' })).status).toBe(403);
    expect((await devToken({ host: `127.0.0.1:${port}`, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await devToken({ host: `evil.example@127.0.0.1:${port}` })).status).toBe(403);

    // The token it hands out works, from the server's own origin.
    const token = good.token ?? '';
    const api = await rawRequest(server.url, {
      method: 'GET',
      path: '/templates',
      headers: { authorization: `Bearer ${token}`, host: `127.0.0.1:${port}`, origin: own },
    });
    expect(api.status).toBe(200);
    expect(await connectOutcome(server.url, token, own)).toBe('connected');
  });

  it('refuses REST and socket.io from other origins (unless CORS_ORIGINS lists them)', async () => {
    const { token = '' } = await devToken({ host: `127.0.0.1:${port}` });
    const foreign = await rawRequest(server.url, {
      method: 'GET',
      path: '/templates',
      headers: { authorization: `Bearer ${token}`, origin: 'http://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(await connectOutcome(server.url, token, 'http://evil.example')).not.toBe('connected');
    expect(await connectOutcome(server.url, token, 'null')).not.toBe('connected');
    // Non-browser clients send no Origin.
    expect(await connectOutcome(server.url, token)).toBe('connected');
  });

  it('refuses to start with --insecure-dev and a real AUTH_JWT_SECRET', async () => {
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts', 'serve', '--insecure-dev'],
        {
          cwd: REPO_ROOT,
          env: {
            PATH: process.env['PATH'] ?? '',
            PORT: '0',
            REDIS_URL: TEST_REDIS_URL,
            REDIS_KEY_PREFIX: prefix,
            DATABASE_URL: `sqlite:${join(dir, 'real', 'tandem.sqlite')}`,
            AUTH_JWT_SECRET: 'a-real-production-secret-a-real-production-secret',
            LOG_LEVEL: 'silent',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      // A server that starts anyway would run forever: stop it and let the assertions say so.
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('TANDEM_INSECURE_DEV');
    expect(run.stderr).toContain('AUTH_JWT_SECRET');
  });
});
