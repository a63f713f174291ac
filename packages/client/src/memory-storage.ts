import type { Storage } from './types.js';

/** Keeps the queue's snapshot in memory: it lasts as long as the object (the default; a restart loses the queue). */
export class MemoryStorage implements Storage {
  private snapshot: string | null = null;

  load(): Promise<string | null> {
    return Promise.resolve(this.snapshot);
  }

  save(snapshot: string): Promise<void> {
    this.snapshot = snapshot;
    return Promise.resolve();
  }
}
