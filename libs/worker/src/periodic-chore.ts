/** When a PeriodicChore first runs, and what it waits for. */
export interface ChoreStart {
  /** Resolves once the chore can run (the database connected and migrated, for a chore on it); at once by default. */
  whenReady?: () => Promise<unknown>;
  /** Run as soon as ready, then every interval (the default); else first after one interval. */
  runAtStart?: boolean;
}

/**
 * A chore of the worker's (receipt retention, partition maintenance, the reconciliation of the buffered counters): run
 * every `intervalMs` once ready. A run still going is not joined by another (a huge backlog), and stop() waits for it.
 * `run` reports its own outcome and never rejects.
 */
export class PeriodicChore {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly run: () => Promise<void>,
    private readonly options: ChoreStart = {},
  ) {}

  start(): void {
    const { whenReady = () => Promise.resolve(), runAtStart = true } = this.options;
    void whenReady().then(() => {
      if (this.stopped) return;
      if (runAtStart) this.runInBackground();
      this.timer = setInterval(() => this.runInBackground(), this.intervalMs).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private runInBackground(): void {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }
}
