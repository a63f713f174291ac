import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Storage } from '../types.js';

let sequence = 0;

/**
 * Keeps the queue in one file, replaced atomically at each save: the snapshot is written to a temporary file beside it,
 * flushed to disk, then renamed over it, so that a crash leaves the previous snapshot or the new one, never half of one.
 * Saves run one at a time, in the order they are called.
 */
export class FileStorage implements Storage {
  /** The last save: saves run one after the other, so that the last one called is the one that stays. */
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  async load(): Promise<string | null> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return null;
      throw error;
    }
  }

  save(snapshot: string): Promise<void> {
    const saved = this.last.then(() => this.write(snapshot));
    this.last = saved.catch(() => undefined);
    return saved;
  }

  private async write(snapshot: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.${++sequence}.tmp`;
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(snapshot, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temporary, this.path);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }
}
