import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  FanoutJob,
  FanoutResult,
  FromGenerator,
  IdleCheckpoint,
  IdleJob,
  IdleResult,
  ToGenerator,
} from './generator/jobs.js';

const ENTRY = fileURLToPath(new URL('./generator/main.ts', import.meta.url));

/** A forked load-generator process running one job. */
export class GeneratorProcess {
  readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private listeners: Array<(m: FromGenerator) => void> = [];

  constructor() {
    this.child = fork(ENTRY, [], {
      execArgv: ['--conditions=source', '--import', 'tsx', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child.on('message', (m: FromGenerator) => {
      for (const l of this.listeners) l(m);
    });
    this.ready = new Promise((resolve, reject) => {
      this.once(
        (m) => m.type === 'ready',
        () => resolve(),
      );
      this.child.once('exit', (code) => reject(new Error(`generator exited with ${code}`)));
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private once(match: (m: FromGenerator) => boolean, run: (m: FromGenerator) => void): void {
    const l = (m: FromGenerator) => {
      if (!match(m)) return;
      this.listeners = this.listeners.filter((x) => x !== l);
      run(m);
    };
    this.listeners.push(l);
  }

  private send(m: ToGenerator): void {
    this.child.send(m);
  }

  /** Runs a fan-out job; `onPhase` sees the start and end of the measured window. */
  async fanout(job: FanoutJob, onPhase: (phase: 'measuring' | 'draining') => void): Promise<FanoutResult> {
    await this.ready;
    return new Promise((resolve, reject) => {
      const l = (m: FromGenerator) => {
        if (m.type === 'phase') onPhase(m.phase);
        else if (m.type === 'result' && m.result.kind === 'fanout') resolve(m.result);
        else if (m.type === 'error') reject(new Error(`generator: ${m.message}`));
      };
      this.listeners.push(l);
      this.child.once('exit', (code) => reject(new Error(`generator exited with ${code}`)));
      this.send({ type: 'run', job });
    });
  }

  /** Runs an idle-connections job; `atCheckpoint` runs while the generator waits. */
  async idle(job: IdleJob, atCheckpoint: (c: IdleCheckpoint) => Promise<void>): Promise<IdleResult> {
    await this.ready;
    return new Promise((resolve, reject) => {
      const l = (m: FromGenerator) => {
        if (m.type === 'checkpoint') {
          atCheckpoint(m.checkpoint).then(
            () => this.send({ type: 'continue' }),
            (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
          );
        } else if (m.type === 'result' && m.result.kind === 'idle') resolve(m.result);
        else if (m.type === 'error') reject(new Error(`generator: ${m.message}`));
      };
      this.listeners.push(l);
      this.child.once('exit', (code) => reject(new Error(`generator exited with ${code}`)));
      this.send({ type: 'run', job });
    });
  }

  stop(): void {
    if (this.child.connected) this.child.send({ type: 'stop' });
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
  }
}
