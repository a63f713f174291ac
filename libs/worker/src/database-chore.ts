import type { StoreConnection } from '#contract';

/**
 * A chore of the worker's on the database (receipt retention, partition maintenance): run once the database is
 * connected and migrated, then every `intervalMs`. A run still going is not joined by another (a huge backlog), and
 * shutdown waits for it. `run` reports its own outcome and never rejects.
 */
export class DatabaseChore {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly connection: StoreConnection,
    private readonly intervalMs: number,
    private readonly run: () => Promise<void>,
  ) {}

  start(): void {
    void this.connection.whenReady().then(() => {
      if (this.stopped) return;
      this.runInBackground();
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
