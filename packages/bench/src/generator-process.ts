import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  FanoutJob,
  FanoutPart,
  FanoutStep,
  FromGenerator,
  IdleCheckpoint,
  IdleJob,
  IdleResult,
  ToGenerator,
} from './generator/jobs.js';

const ENTRY = fileURLToPath(new URL('./generator/main.ts', import.meta.url));

export type GeneratorOptions = {
  /** CPUs to pin the process to (a `taskset -c` list); undefined: not pinned. */
  cpus?: string | undefined;
  /** Write a V8 CPU profile of the process here (`node --cpu-prof`). */
  profileDir?: string | undefined;
};

/** A forked load-generator process (pinned with `taskset` when given CPUs). */
export class GeneratorProcess {
  readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private readonly exited: Promise<never>;
  private listeners: Array<(m: FromGenerator) => void> = [];

  constructor(options: GeneratorOptions = {}) {
    const nodeArgs = ['--conditions=source', '--import', 'tsx', '--max-old-space-size=4096'];
    if (options.profileDir !== undefined) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`);
    // taskset execs node, which inherits the IPC channel's descriptor: fork works through it.
    this.child = fork(ENTRY, [], {
      ...(options.cpus === undefined
        ? { execArgv: nodeArgs }
        : { execPath: 'taskset', execArgv: ['-c', options.cpus, process.execPath, ...nodeArgs] }),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child.on('message', (m: FromGenerator) => {
      for (const l of [...this.listeners]) l(m);
    });
    this.exited = new Promise<never>((_, reject) => {
      this.child.once('exit', (code) => reject(new Error(`generator exited with ${code}`)));
    });
    this.exited.catch(() => undefined);
    this.ready = this.next((m) => m.type === 'ready').then(() => undefined);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The next message that matches; rejects on an error message or the process's exit. */
  private next(match: (m: FromGenerator) => boolean): Promise<FromGenerator> {
    const found = new Promise<FromGenerator>((resolve, reject) => {
      const l = (m: FromGenerator) => {
        if (m.type === 'error') reject(new Error(`generator: ${m.message}`));
        else if (!match(m)) return;
        else resolve(m);
        this.listeners = this.listeners.filter((x) => x !== l);
      };
      this.listeners.push(l);
    });
    return Promise.race([found, this.exited]);
  }

  private send(m: ToGenerator): void {
    this.child.send(m);
  }

  async started(): Promise<void> {
    await this.ready;
  }

  /** Its shared clock (ms), to check it against the orchestrator's. */
  async clock(): Promise<number> {
    const reply = this.next((m) => m.type === 'clock');
    this.send({ type: 'clock' });
    return ((await reply) as { now: number }).now;
  }

  /** Hands it its part of a fan-out job (it creates its clients, not yet connected). */
  async fanout(job: FanoutJob, part: FanoutPart): Promise<void> {
    await this.ready;
    const created = this.next((m) => m.type === 'created');
    this.send({ type: 'fanout', job, part });
    await created;
  }

  /** Runs one step of its fan-out job and returns what the step reports. */
  async step(step: FanoutStep): Promise<unknown> {
    const done = this.next((m) => m.type === 'done' && m.step === step);
    this.send({ type: 'step', step });
    return ((await done) as { data: unknown }).data;
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
        } else if (m.type === 'result') resolve(m.result);
        else if (m.type === 'error') reject(new Error(`generator: ${m.message}`));
      };
      this.listeners.push(l);
      this.exited.catch(reject);
      this.send({ type: 'run', job });
    });
  }

  /** Asks it to exit (writing its CPU profile, if any); kills it if it has not after 5 s. */
  stop(): void {
    if (this.child.connected) this.child.send({ type: 'stop' });
    setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
  }
}
