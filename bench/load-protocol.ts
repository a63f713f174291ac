import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';

/** One load test: `connections` keep-alive connections for `durationSeconds`, optionally capped at `overallRate` req/s. */
export interface LoadRun {
  url: string;
  connections: number;
  durationSeconds: number;
  overallRate?: number;
}

export interface LoadResult {
  connections: number;
  overallRate?: number;
  durationSeconds: number;
  /** Responses received, whatever their status. */
  requests: number;
  /** 2xx responses. */
  accepted: number;
  requestsPerSecond: number;
  /** Events in 2xx responses per second. */
  eventsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Count per status code, plus `errors` (connection errors) and `timeouts` when there were any. */
  statusCodes: Record<string, number>;
  /**
   * CPU time (user + system) each measured process used during the run, per accepted batch, in ms: a figure that
   * noise on a shared machine disturbs far less than throughput does.
   */
  cpuMsPerBatch?: Record<string, number>;
}

export type LoadParentMessage =
  | { type: 'init'; users: number; seed: number; now: number; secret: string; eventsPerBatch?: number }
  | { type: 'run'; id: number; run: LoadRun }
  | { type: 'exit' };

export type LoadChildMessage =
  | { type: 'ready'; averageBodyBytes: number }
  | { type: 'result'; id: number; result: LoadResult }
  | { type: 'error'; id: number; message: string };

/** The parent's handle on the load-generator process (bench/load-child.ts). */
export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: LoadResult) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly averageBodyBytes: number,
  ) {
    child.on('message', (message: LoadChildMessage) => {
      if (message.type === 'ready') return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'result') waiter?.resolve(message.result);
      else waiter?.reject(new Error(`load generator: ${message.message}`));
    });
    child.on('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`load generator exited with ${code}`));
      this.pending.clear();
    });
  }

  /** `eventsPerBatch`: events in each request body (default EVENTS_PER_BATCH, 200). */
  static async start(pool: { users: number; seed: number; now: number; secret: string; eventsPerBatch?: number }): Promise<LoadGenerator> {
    const child = fork(join(__dirname, 'load-child.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<LoadChildMessage>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code} while starting`)));
      child.send({ type: 'init', ...pool } satisfies LoadParentMessage);
    });
    return new LoadGenerator(child, ready.type === 'ready' ? ready.averageBodyBytes : 0);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(run: LoadRun): Promise<LoadResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ type: 'run', id, run } satisfies LoadParentMessage);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'exit' } satisfies LoadParentMessage);
    await exited;
  }
}
