import type { ErrorBody } from '@tandem/protocol';
import { TandemError } from './tandem-error.js';

/** What the rejoiner needs from the session. */
export interface RejoinHooks {
  isClosed(): boolean;
  isConnected(): boolean;
  /** Joins once, with the steps that follow a join (protocol §10 steps 2–5). */
  join(): Promise<void>;
  /** A rejoin ended, joined or not. */
  settled(): void;
  /** A rejoin started in the background failed (it is retried). */
  failed(error: ErrorBody): void;
}

/**
 * When a session joins again: one rejoin at a time (a request during one runs once more after
 * it), and a failed one retried with capped, jittered backoff while connected.
 */
export class Rejoiner {
  private running: Promise<void> | undefined;
  private again = false;
  private delayMs = 500;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly hooks: RejoinHooks) {}

  isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Rejoins (or joins the running rejoin, which then runs once more). */
  rejoin(): Promise<void> {
    if (this.hooks.isClosed()) return Promise.resolve();
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    const run = async () => {
      do {
        this.again = false;
        await this.hooks.join();
      } while (this.again && !this.hooks.isClosed());
    };
    const running = run()
      .then(
        () => {
          this.delayMs = 500;
        },
        (error: unknown) => {
          this.schedule();
          throw error;
        },
      )
      .finally(() => {
        this.running = undefined;
        this.hooks.settled();
      });
    this.running = running;
    return running;
  }

  /** Rejoins now; a failure is reported (and retried), not thrown. */
  start(): void {
    this.rejoin().catch((error: unknown) => this.hooks.failed(errorBody(error)));
  }

  /** Rejoins after the backoff delay. */
  schedule(): void {
    if (this.timer !== undefined || this.hooks.isClosed()) return;
    // Capped like socket.io's reconnection delay (a join is cheap), with jitter so the clients
    // of a shard do not come back in step.
    const delay = this.delayMs * (0.75 + Math.random() / 2);
    this.delayMs = Math.min(this.delayMs * 2, 5_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Disconnected meanwhile: the reconnect rejoins.
      if (this.hooks.isClosed() || !this.hooks.isConnected()) return;
      this.start();
    }, delay);
  }

  close(): void {
    clearTimeout(this.timer);
  }
}

function errorBody(error: unknown): ErrorBody {
  if (error instanceof TandemError) return { code: error.code as ErrorBody['code'], message: error.message };
  return { code: 'UNAVAILABLE', message: error instanceof Error ? error.message : String(error) };
}
