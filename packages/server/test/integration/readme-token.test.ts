import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, SignJWT } from 'jose';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/services.js';
import { budgetMs } from '../support/time-budget.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const DIST_MAIN = join(REPO_ROOT, 'packages/server/dist/main.js');

/** The README's token command, as written there (`npm run tandem -- token …` in backticks). */
function readmeTokenCommand(): string {
  const commands = [...README.matchAll(/`(npm run tandem -- token [^`]*)`/g)].map((m) => m[1] ?? '');
  const withShard = commands.filter((c) => c.includes('--shard'));
  expect(withShard, 'README.md shows a `npm run tandem -- token … --shard <id>=write` command').toHaveLength(1);
  return withShard[0] ?? '';
}

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), budgetMs(20_000));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The README's token command, run exactly as written (its `<id>` filled in) in a development
 * setup: a `serve --insecure-dev` server (what `npm start` runs) with no AUTH_JWT_SECRET anywhere.
 * The token it prints must open that shard on that server. Parsed out of README.md, so the test
 * breaks when the README and the CLI drift apart.
 */
describe("the README's token command in a development setup", () => {
  let dir: string;
  let databaseUrl: string;
  let server: ServerProcess;

  beforeAll(async () => {
    if (!existsSync(DIST_MAIN))
      throw new Error('packages/server/dist is missing: run `npm run build` first (npm test does)');
    dir = mkdtempSync(join(tmpdir(), 'tandem-readme-token-'));
    // The default DATABASE_URL is ./data/tandem.sqlite; here a data folder of the test's own.
    databaseUrl = `sqlite:${join(dir, 'data', 'tandem.sqlite')}`;
    server = await startServerProcess({
      prefix: uniquePrefix(),
      databaseUrl,
      args: ['--insecure-dev'],
      env: { AUTH_JWT_SECRET: '' },
      entry: 'dist',
    });
  });

  afterAll(async () => {
    await server?.kill('SIGTERM');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('prints a token that the development server accepts for that shard', async () => {
    const command = readmeTokenCommand();
    expect(command).toContain('<id>');
    // A shard to name in it, created with an admin token signed by the server's own secret.
    const secret = readFileSync(join(dir, 'data', 'dev-secret'), 'utf8').trim();
    const admin = await new SignJWT({ sub: 'setup', name: 'setup', role: 'admin', shards: {}, create: true })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(secret));
    const created = await fetch(`${server.url}/shards`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ templateId: 'vanilla', name: 'readme' }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const { shard } = (await created.json()) as { shard: { id: string } };

    const [program = '', ...args] = command.replace('<id>', shard.id).split(/\s+/);
    expect(program).toBe('npm');
    const result = await run(program, args, { DATABASE_URL: databaseUrl });
    expect(result.code, result.stderr).toBe(0);
    // npm prints its "> tandem" banner first; the token is the last line.
    const token = result.stdout.trim().split('\n').at(-1) ?? '';
    expect(decodeJwt(token)).toMatchObject({ sub: 'alice', role: 'user', shards: { [shard.id]: 'write' } });

    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect((await fetch(`${server.url}/shards/${shard.id}`, { headers: auth })).status).toBe(200);
    const write = await fetch(`${server.url}/shards/${shard.id}/files/notes.md`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ content: '# from the README token\n' }),
    });
    expect(write.status, await write.clone().text()).toBe(201);
    // A user token for this shard only: creating shards is not in it.
    const refused = await fetch(`${server.url}/shards`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ templateId: 'vanilla', name: 'not mine' }),
    });
    expect(refused.status).toBe(403);
  });
});
