import { MemoryStorage } from './memory-storage.js';
import type { Storage } from './types.js';

// The browser's storages, typed as far as they are used: the package builds without the DOM's types.
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbTransaction {
  objectStore(name: string): {
    get(key: string): IdbRequest<unknown>;
    put(value: string, key: string): IdbRequest<unknown>;
    delete(key: string): IdbRequest<unknown>;
  };
  error: unknown;
  commit?(): void;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  transaction(store: string, mode: 'readonly' | 'readwrite'): IdbTransaction;
  createObjectStore(name: string): unknown;
  close(): void;
  onversionchange: (() => void) | null;
  onclose: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}
interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const DATABASE = 'playsmart-ingest';
const STORE = 'queues';
/** An IndexedDB that does not open within this is taken as missing (Safari has left open() pending forever). */
const OPEN_TIMEOUT_MS = 3000;

/**
 * Keeps the queue's snapshot in IndexedDB under `key`. Fails (and BrowserStorage moves on) where IndexedDB is missing,
 * refused (private modes, disabled storage) or full.
 */
export class IndexedDbStorage implements Storage {
  private database: Promise<IdbDatabase> | undefined;

  constructor(
    private readonly key: string,
    private readonly factory: IdbFactory | undefined = (globalThis as { indexedDB?: IdbFactory }).indexedDB,
  ) {}

  async load(): Promise<string | null> {
    const value = await this.run('readonly', (store) => store.get(this.key));
    return typeof value === 'string' ? value : null;
  }

  async save(snapshot: string): Promise<void> {
    await this.run('readwrite', (store) => store.put(snapshot, this.key));
  }

  async remove(): Promise<void> {
    await this.run('readwrite', (store) => store.delete(this.key));
  }

  /** One request in its own transaction; resolves with its result once the transaction has committed. */
  private async run(mode: 'readonly' | 'readwrite', request: (store: ReturnType<IdbTransaction['objectStore']>) => IdbRequest<unknown>) {
    const database = await this.open();
    return new Promise<unknown>((resolve, reject) => {
      const transaction = database.transaction(STORE, mode);
      const pending = request(transaction.objectStore(STORE));
      // Committed now, not when this task ends: a closing page's save (pagehide) is otherwise often lost with the page.
      transaction.commit?.();
      transaction.oncomplete = () => resolve(pending.result);
      transaction.onerror = transaction.onabort = () => reject(asError(transaction.error ?? pending.error, 'IndexedDB transaction failed'));
    });
  }

  private open(): Promise<IdbDatabase> {
    this.database ??= new Promise<IdbDatabase>((resolve, reject) => {
      const factory = this.factory;
      if (factory === undefined) throw new Error('no IndexedDB');
      const timer = setTimeout(() => reject(new Error('IndexedDB did not open')), OPEN_TIMEOUT_MS);
      const request = factory.open(DATABASE, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => {
        clearTimeout(timer);
        const database = request.result;
        // Another tab upgrading, or the browser closing the connection: open again on the next use.
        database.onversionchange = () => {
          database.close();
          this.database = undefined;
        };
        database.onclose = () => {
          this.database = undefined;
        };
        resolve(database);
      };
      request.onerror = () => {
        clearTimeout(timer);
        reject(asError(request.error, 'IndexedDB refused'));
      };
    });
    const database = this.database;
    database.catch(() => {
      if (this.database === database) this.database = undefined;
    });
    return database;
  }
}

/** Keeps the queue's snapshot in localStorage under `key`. */
export class LocalStorageStorage implements Storage {
  constructor(
    private readonly key: string,
    private readonly storage: () => KeyValueStorage | undefined = () => (globalThis as { localStorage?: KeyValueStorage }).localStorage,
  ) {}

  load(): Promise<string | null> {
    return attempt(() => this.target().getItem(this.key));
  }

  save(snapshot: string): Promise<void> {
    return attempt(() => this.target().setItem(this.key, snapshot));
  }

  remove(): Promise<void> {
    return attempt(() => this.target().removeItem(this.key));
  }

  private target(): KeyValueStorage {
    // Reading window.localStorage itself throws where storage is disabled.
    const storage = this.storage();
    if (storage === undefined) throw new Error('no localStorage');
    return storage;
  }
}

interface Tier extends Storage {
  remove?(): Promise<void>;
}

/**
 * The browser's default storage: IndexedDB, falling back to localStorage when IndexedDB is missing or fails, and to
 * memory when both do, so that a full or refused storage never reaches the game. A tier that failed is not tried again
 * in this run. The first save of a run, and the first after a fallback, clear the other tiers, so that a later run never
 * loads an older snapshot from them.
 */
export class BrowserStorage implements Storage {
  private readonly tiers: Tier[];
  private current = 0;
  private cleared = false;

  constructor(key: string, tiers?: Tier[]) {
    this.tiers = tiers ?? [new IndexedDbStorage(key), new LocalStorageStorage(`playsmart-ingest:${key}`), new MemoryStorage()];
  }

  async load(): Promise<string | null> {
    for (; this.current < this.tiers.length; this.current++) {
      try {
        const snapshot = await this.tiers[this.current].load();
        if (snapshot !== null) return snapshot;
        // Nothing here: a later tier may hold what a run that fell back saved, but saves still go to this one.
        for (const tier of this.tiers.slice(this.current + 1)) {
          const later = await tier.load().catch(() => null);
          if (later !== null) return later;
        }
        return null;
      } catch {
        // Missing or refused: the next tier.
      }
    }
    return null;
  }

  async save(snapshot: string): Promise<void> {
    const before = this.current;
    for (; this.current < this.tiers.length; this.current++) {
      try {
        await this.tiers[this.current].save(snapshot);
        break;
      } catch {
        // Full or refused: the next tier, for the rest of this run.
      }
    }
    if (this.current === this.tiers.length) throw new Error('no storage took the queue');
    if (this.cleared && this.current === before) return;
    this.cleared = true;
    for (const [index, tier] of this.tiers.entries()) if (index !== this.current) await tier.remove?.().catch(() => undefined);
  }
}

function attempt<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation());
  } catch (error) {
    return Promise.reject(asError(error, 'storage failed'));
  }
}

function asError(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(fallback);
}
