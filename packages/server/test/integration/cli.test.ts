import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { jwtVerify } from 'jose';
import { TEST_REDIS_URL } from '../support/services.js';
import { budgetMs } from '../support/time-budget.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const SHARD = '11111111-2222-4333-8444-555555555555';

type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/**
 * Runs the CLI as users do (`node --import tsx packages/server/src/main.ts …`, from the repo
 * root) with only the given environment, and kills it if it outlives `timeoutMs`.
 */
function tandem(args: string[], env: Record<string, string>, timeoutMs = budgetMs(10_000)): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts', ...args],
      {
        cwd: repoRoot,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`tandem ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('tandem CLI', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-cli-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.concurrent('token prints a JWT with the requested claims (TANDEM_INSECURE_DEV)', async () => {
    const run = await tandem(
      [
        'token',
        '--sub',
        'alice',
        '--name',
        'Alice A',
        '--role',
        'user',
        '--shard',
        `${SHARD}=read`,
        '--create',
        '--ttl',
        '120',
      ],
      { TANDEM_INSECURE_DEV: 'true', DATABASE_URL: `sqlite:${join(dir, 'dev-token', 'tandem.sqlite')}` },
    );
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    // Signed with the secret generated for this data directory (mode 0600), not a public one.
    const secretFile = join(dir, 'dev-token', 'dev-secret');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const { payload, protectedHeader } = await jwtVerify(lines[0] ?? '', new TextEncoder().encode(secret), {
      algorithms: ['HS256'],
    });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({
      sub: 'alice',
      name: 'Alice A',
      role: 'user',
      shards: { [SHARD]: 'read' },
      create: true,
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120);
  });

  it.concurrent('token signs with AUTH_JWT_SECRET and defaults to an admin "dev" token', async () => {
    const secret = 'cli-test-secret-cli-test-secret-0123456789';
    const run = await tandem(['token'], { AUTH_JWT_SECRET: secret, AUTH_TOKEN_TTL_SECONDS: '600' });
    expect(run.code, run.stderr).toBe(0);
    const { payload } = await jwtVerify(run.stdout.trim(), new TextEncoder().encode(secret));
    expect(payload).toMatchObject({ sub: 'dev', role: 'admin' });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);
  });

  it.concurrent('token without a secret and without a development secret fails, naming AUTH_JWT_SECRET', async () => {
    const file = join(dir, 'no-secret', 'tandem.sqlite');
    const run = await tandem(['token'], { DATABASE_URL: `sqlite:${file}` });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('AUTH_JWT_SECRET');
    expect(run.stderr).toContain('npm start');
    // It does not create the development secret by itself.
    expect(existsSync(join(dir, 'no-secret', 'dev-secret'))).toBe(false);
  });

  it.concurrent('token without a secret signs with the development secret the dev server made', async () => {
    const databaseUrl = `sqlite:${join(dir, 'dev-setup', 'tandem.sqlite')}`;
    // What `npm start` (serve --insecure-dev) does first: the data directory's secret.
    const first = await tandem(['token'], { TANDEM_INSECURE_DEV: 'true', DATABASE_URL: databaseUrl });
    expect(first.code, first.stderr).toBe(0);
    const secret = readFileSync(join(dir, 'dev-setup', 'dev-secret'), 'utf8').trim();
    // Then, without any variable set, as the README writes it.
    const run = await tandem(['token', '--sub', 'bob', '--role', 'user', '--shard', `${SHARD}=write`], {
      DATABASE_URL: databaseUrl,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('development secret');
    const { payload } = await jwtVerify(run.stdout.trim(), new TextEncoder().encode(secret));
    expect(payload).toMatchObject({ sub: 'bob', role: 'user', shards: { [SHARD]: 'write' } });
  });

  it.concurrent('--help explains every command and exits 0; an unknown option points to it', async () => {
    // Independent runs, started together: one after another they took over a minute on a loaded runner.
    const helps = ['serve', 'migrate', 'token'].flatMap((command) =>
      ['--help', '-h'].map(async (flag) => ({ command, flag, run: await tandem([command, flag], {}) })),
    );
    const [runs, top, topic, wrong] = await Promise.all([
      Promise.all(helps),
      tandem(['--help'], {}),
      tandem(['help', 'token'], {}),
      tandem(['token', '--frobnicate'], {}),
    ]);
    for (const { command, flag, run } of runs) {
      expect(run.code, `${command} ${flag}: ${run.stderr}`).toBe(0);
      expect(run.stdout).toContain(`usage: tandem ${command}`);
      expect(run.stderr).toBe('');
    }
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/serve[\s\S]*migrate[\s\S]*token/);
    expect(topic.stdout).toContain('usage: tandem token');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("'--frobnicate'");
    expect(wrong.stderr).toContain('tandem token --help');
  });

  it.concurrent('migrate creates the SQLite database and its tables, then exits 0', async () => {
    const file = join(dir, 'migrate', 'nested', 'tandem.sqlite');
    const run = await tandem(['migrate'], { DATABASE_URL: `sqlite:${file}` });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('database schema is up to date (sqlite)');
    expect(existsSync(file)).toBe(true);
    const db = new Database(file);
    try {
      const tables = (
        db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: string }>
      ).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['shards', 'shard_files']));
    } finally {
      db.close();
    }
    // Running it again is harmless.
    expect((await tandem(['migrate'], { DATABASE_URL: `sqlite:${file}` })).code).toBe(0);
  });

  it.concurrent('serve without a secret or the dev flag exits non-zero, naming AUTH_JWT_SECRET', async () => {
    const run = await tandem(['serve'], {
      PORT: '0',
      REDIS_URL: TEST_REDIS_URL,
      DATABASE_URL: `sqlite:${join(dir, 'serve-no-secret.sqlite')}`,
      LOG_LEVEL: 'silent',
    });
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tandem: .*AUTH_JWT_SECRET/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it.concurrent('serve with an unreachable REDIS_URL exits non-zero with one line naming REDIS_URL', async () => {
    const run = await tandem(['serve'], {
      PORT: '0',
      REDIS_URL: 'redis://127.0.0.1:1',
      TANDEM_INSECURE_DEV: 'true',
      DATABASE_URL: `sqlite:${join(dir, 'serve-no-redis.sqlite')}`,
      LOG_LEVEL: 'silent',
    });
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^tandem: Redis is not reachable at REDIS_URL=redis:\/\/127\.0\.0\.1:1\b/);
  });

  it.concurrent('serve with an invalid configuration lists every problem and exits non-zero', async () => {
    const run = await tandem(['serve'], { PORT: 'eighty', LOG_LEVEL: 'loud', TANDEM_INSECURE_DEV: 'true' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('PORT:');
    expect(run.stderr).toContain('LOG_LEVEL:');
  });

  it.concurrent('an unknown command prints the usage and exits 2', async () => {
    const run = await tandem(['frobnicate'], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown command "frobnicate"');
    expect(run.stderr).toContain('usage: tandem');
  });

  it('a cluster worker that fails to start exits (its primary restarts it) instead of hanging on', async () => {
    // A database that cannot be opened: each worker's startup fails. A worker keeps its IPC
    // channel to the primary open, so it stayed alive after its message and was never restarted.
    const database = mkdtempSync(join(dir, 'not-a-file-'));
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts', 'serve', '--workers', '2'],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: process.env['HOME'] ?? tmpdir(),
          PORT: '0',
          HOST: '127.0.0.1',
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: `cli-worker-fail-${process.pid}`,
          DATABASE_URL: `sqlite:${database}`,
          AUTH_JWT_SECRET: 'a-test-secret-of-at-least-32-characters!!',
          LOG_PRETTY: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      const deadline = Date.now() + budgetMs(20_000);
      while (!output.includes('worker exited unexpectedly') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(output).toContain('database migration could not start');
      expect(output).toContain('worker exited unexpectedly');
    } finally {
      // The primary stops its workers on SIGTERM; SIGKILL if it does not exit in time.
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), budgetMs(10_000));
      await closed;
      clearTimeout(timer);
    }
  });
});
