/**
 * `serve --workers N`: one port, N full server processes (node:cluster). The primary only
 * supervises: it forks the workers, restarts one that dies, and on SIGTERM/SIGINT passes the
 * signal on and waits for every worker's graceful shutdown. Each worker is a complete instance
 * (its own instanceId, sockets, scheduler and sync worker threads), exactly as if N servers ran
 * behind a load balancer; they share Redis and the database like any other instances.
 *
 * No sticky sessions: the primary hands each new TCP connection to a worker (round-robin), and
 * a websocket stays on the worker that accepted it. The client SDK connects with the websocket
 * transport only. A client that uses socket.io's long-polling transport needs sticky sessions
 * (its requests must all reach one worker), which this mode does not provide.
 *
 * Imports only Node and the logging concern; main.ts calls it.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from './logging/index.js';

/** Most workers one primary forks. */
const MAX_WORKERS = 256;

/**
 * Takes `--workers [N|auto]` out of the `serve` arguments. A bare `--workers` or `auto` means one
 * worker per core; absent means 1 (a single process, no cluster).
 */
export function takeWorkersFlag(args: readonly string[]): { workers: number; args: string[] } {
  const rest: string[] = [];
  let workers = 1;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let value: string | undefined;
    if (arg === '--workers') {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      } else {
        value = 'auto';
      }
    } else if (arg.startsWith('--workers=')) {
      value = arg.slice('--workers='.length);
    } else {
      rest.push(arg);
      continue;
    }
    workers = value === 'auto' ? availableParallelism() : Number(value);
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      throw new Error(`--workers takes a whole number from 1 to ${MAX_WORKERS}, or auto (got "${value}")`);
    }
  }
  return { workers, args: rest };
}

/** This process's worker id (1 for the first forked) under `serve --workers`; undefined otherwise. */
export function clusterWorkerId(): number | undefined {
  return cluster.isWorker ? cluster.worker?.id : undefined;
}

/** True in the process that should supervise (not in a forked worker). */
export function isClusterPrimary(): boolean {
  return cluster.isPrimary;
}

/**
 * Forks `workers` server processes (they re-run the same command, see `takeWorkersFlag`) and
 * supervises them until a signal; resolves -1 (the process keeps running; it exits by itself).
 */
export function runClusterPrimary(options: {
  workers: number;
  logger: Logger;
  shutdownTimeoutMs: number;
}): Promise<number> {
  const log = options.logger.child({ module: 'cluster' });
  let stopping = false;
  const restarts: number[] = [];

  const fork = (): Worker => {
    const worker = cluster.fork();
    log.info({ workerPid: worker.process.pid }, 'worker started');
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      log.info({ workerPid: worker.process.pid, code, signal }, 'worker stopped');
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log.info('shutdown complete');
        process.exit(0);
      }
      return;
    }
    // A worker died on its own: its sockets reconnect (to a sibling) and its members expire;
    // start a replacement, but not in a tight loop when it keeps dying at startup.
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && now - restarts[0]! > 60_000) restarts.shift();
    const delayMs = restarts.length > options.workers * 3 ? 5_000 : 200;
    log.error({ workerPid: worker.process.pid, code, signal, delayMs }, 'worker exited unexpectedly; restarting it');
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down workers');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (alive.length === 0) process.exit(0);
    for (const worker of alive) worker.process.kill('SIGTERM');
    // Each worker has its own deadline (SHUTDOWN_TIMEOUT_MS); this one only catches a hung worker.
    setTimeout(() => {
      log.fatal({ timeoutMs: options.shutdownTimeoutMs }, 'workers did not stop in time; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownTimeoutMs + 5_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log.info({ workers: options.workers }, 'starting workers');
  for (let i = 0; i < options.workers; i++) fork();
  return Promise.resolve(-1);
}
