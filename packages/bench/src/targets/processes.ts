import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** A server process the bench started (and must stop). */
export type Spawned = {
  name: string;
  child: ChildProcess;
  pid: number;
  output: () => string;
  stop(): Promise<void>;
};

/** Every process the bench started, so an interrupted run still kills them all. */
const live = new Set<Spawned>();

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts `node args…`; with `cpus`, through `taskset -c cpus` (it execs node: same pid, every thread pinned). */
export function spawnServer(name: string, args: string[], env: Record<string, string>, cpus?: string): Spawned {
  const [command, argv] =
    cpus === undefined ? [process.execPath, args] : ['taskset', ['-c', cpus, process.execPath, ...args]];
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const spawned: Spawned = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => out,
    stop: async () => {
      live.delete(spawned);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(spawned);
  return spawned;
}

/** Kills whatever is still running (exit, signals). */
export function killAll(): void {
  for (const s of live) {
    try {
      // SIGKILL the whole tree: cluster workers die with their primary's pipe, but be sure.
      s.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  live.clear();
}

/** Polls `url` until it answers 2xx, or throws with the process output after `timeoutMs`. */
export async function waitForHttp(url: string, spawned: Spawned, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawned.child.exitCode !== null) throw new Error(`${spawned.name} exited early:\n${spawned.output()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${spawned.name} did not answer ${url} in ${timeoutMs} ms:\n${spawned.output()}`);
}

/** A TCP server accepting connections on `port` (for servers without an HTTP endpoint). */
export async function waitForPort(port: number, spawned: Spawned, timeoutMs = 30_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawned.child.exitCode !== null) throw new Error(`${spawned.name} exited early:\n${spawned.output()}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${spawned.name} did not listen on ${port} in ${timeoutMs} ms:\n${spawned.output()}`);
}
