import { MemoryStorage } from './memory-storage.js';
import type { Storage } from './types.js';

// The browser's storages, typed as far as they are used: the package builds without the DOM's types.
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
type IdbStore = {
  get(key: string): IdbRequest<unknown>;
  put(value: string, key: string): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
};
interface IdbTransaction {
  objectStore(name: string): IdbStore;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  commit?(): void;
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
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}
interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}
/** The Web Locks API (navigator.locks), as far as it is used. */
export interface LockManager {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void>): Promise<unknown>;
}

const DATABASE = 'playsmart-ingest';
const STORE = 'queues';
/** An IndexedDB that does not open, or a transaction that does not end, within this is taken as failed (Safari has left both pending). */
const IDB_TIMEOUT_MS = 3000;

/** A place that can be emptied: the tiers of BrowserStorage. */
export interface StorageTier extends Storage {
  remove?(): Promise<void>;
}

/** Keeps the queue's snapshot in IndexedDB under `key`. Fails where IndexedDB is missing, refused (private modes) or full. */
export class IndexedDbStorage implements StorageTier {
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
  private async run(mode: 'readonly' | 'readwrite', request: (store: IdbStore) => IdbRequest<unknown>): Promise<unknown> {
    const database = await this.open();
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('IndexedDB transaction did not end')), IDB_TIMEOUT_MS);
      const transaction = database.transaction(STORE, mode);
      const pending = request(transaction.objectStore(STORE));
      // Committed now rather than when the task ends: a page closing after pagehide may not get that far (seen in
      // Chromium: the save of the last events lost). https://developer.mozilla.org/docs/Web/API/IDBTransaction/commit
      transaction.commit?.();
      transaction.oncomplete = () => {
        clearTimeout(timer);
        resolve(pending.result);
      };
      transaction.onerror = transaction.onabort = () => {
        clearTimeout(timer);
        reject(asError(transaction.error ?? pending.error, 'IndexedDB transaction failed'));
      };
    });
  }

  private open(): Promise<IdbDatabase> {
    if (this.database !== undefined) return this.database;
    const opening = new Promise<IdbDatabase>((resolve, reject) => {
      if (this.factory === undefined) throw new Error('no IndexedDB');
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(new Error('IndexedDB did not open'));
      }, IDB_TIMEOUT_MS);
      const request = this.factory.open(DATABASE, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => {
        clearTimeout(timer);
        const database = request.result;
        if (late) return database.close();
        // Another tab upgrading, or the browser closing the connection: open again on the next use.
        const forget = () => {
          if (this.database === opening) this.database = undefined;
        };
        database.onversionchange = () => {
          database.close();
          forget();
        };
        database.onclose = forget;
        resolve(database);
      };
      request.onerror = () => {
        clearTimeout(timer);
        reject(asError(request.error, 'IndexedDB refused'));
      };
    });
    this.database = opening;
    opening.catch(() => {
      if (this.database === opening) this.database = undefined;
    });
    return opening;
  }
}

/** Keeps the queue's snapshot in localStorage under `key`. */
export class LocalStorageStorage implements StorageTier {
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

/** Queues of one player and game kept apart, so that tabs open at once do not overwrite each other's. */
const SLOTS = 8;

/** The default places of one slot: IndexedDB, localStorage, memory. */
function defaultTiers(key: string): StorageTier[] {
  return [new IndexedDbStorage(key), new LocalStorageStorage(`playsmart-ingest:${key}`), new MemoryStorage()];
}

/**
 * The browser's default storage.
 *
 * - **Where**: IndexedDB, falling back to localStorage where IndexedDB is missing or fails, and to memory where both
 *   do, so that a full or refused storage never reaches the game. A place that failed is not used again in this run.
 * - **Tabs**: each client holds a slot (a Web Lock, `navigator.locks`, for the page's life) and keeps its queue
 *   under it, so that two tabs of one game and player never overwrite each other's queue; at start it also takes the
 *   slots no tab holds (tabs closed with events queued) and sends their events too. With more tabs than slots, the
 *   others keep their queue in memory; without Web Locks (browsers before 2022), every tab uses slot 0.
 * - **Never loses a snapshot it has not read**: loading reads every place of those slots, and the client merges what
 *   they hold; a place is emptied only after the merged queue is saved in a durable place (not memory), and only if
 *   it was read. A snapshot read twice only means events sent again, which the server stores once.
 */
export class BrowserStorage implements Storage {
  private slot = 0;
  private tiers: StorageTier[] = [];
  private current = 0;
  /** Places read at start, with something in them: emptied once the queue is saved durably elsewhere. */
  private toEmpty: StorageTier[] = [];
  /** The lock of this client's slot, held until close(). */
  private release: (() => void) | undefined;
  /** The locks of the slots taken over at start, held until their places are emptied (the first save). */
  private orphans: (() => void)[] = [];

  constructor(
    private readonly key: string,
    private readonly makeTiers: (key: string) => StorageTier[] = defaultTiers,
    // navigator.locks (https://developer.mozilla.org/docs/Web/API/Web_Locks_API); null: none.
    private readonly locks: LockManager | null = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks ?? null,
  ) {}

  /** The first snapshot loadAll() finds (at start), or this client's slot's (later). */
  async load(): Promise<string | null> {
    if (this.tiers.length === 0) return (await this.loadAll())[0] ?? null;
    for (const tier of this.tiers.slice(this.current)) {
      const snapshot = await tier.load().catch(() => null);
      if (snapshot !== null) return snapshot;
    }
    return null;
  }

  /** At start: takes this client's slot and the slots no one holds, and reads every place of them. */
  async loadAll(): Promise<string[]> {
    if (this.tiers.length > 0) {
      const own = await this.load();
      return own === null ? [] : [own];
    }
    const slots = await this.claimSlots();
    this.slot = slots[0]?.slot ?? 0;
    this.release = slots[0]?.release;
    this.tiers = this.makeTiers(this.slotKey(this.slot));
    const snapshots: string[] = [];
    for (const { slot, release } of slots) {
      const tiers = slot === this.slot ? this.tiers : this.makeTiers(this.slotKey(slot));
      let held = false;
      for (const [index, tier] of tiers.entries()) {
        try {
          const snapshot = await tier.load();
          if (snapshot === null) continue;
          snapshots.push(snapshot);
          this.toEmpty.push(tier);
          held = true;
        } catch {
          // Unreadable now: never emptied in this run, so that a later run reads it. This slot's saves skip it.
          if (slot === this.slot && index === this.current) this.current += 1;
        }
      }
      if (slot !== this.slot) {
        if (held) this.orphans.push(release);
        else release();
      }
    }
    // Every slot held by other tabs: this one keeps its queue in memory rather than overwrite another's.
    if (slots.length === 0) this.tiers = [new MemoryStorage()];
    return snapshots;
  }

  async save(snapshot: string): Promise<void> {
    if (this.tiers.length === 0) this.tiers = this.makeTiers(this.slotKey(this.slot));
    for (; this.current < this.tiers.length; this.current++) {
      const tier = this.tiers[this.current];
      try {
        await tier.save(snapshot);
        break;
      } catch {
        // Full or refused: the next place, for the rest of this run; what this one holds is older than what was saved.
        this.toEmpty.push(tier);
      }
    }
    if (this.current === this.tiers.length) throw new Error('no storage took the queue');
    const saved = this.tiers[this.current];
    if (!(saved instanceof MemoryStorage) && this.toEmpty.length > 0) {
      const toEmpty = this.toEmpty.filter((tier) => tier !== saved);
      this.toEmpty = [];
      for (const tier of toEmpty) await tier.remove?.().catch(() => undefined);
    }
    // Emptied, or (in memory only) left for another tab or a later run to read: either way this client is done with them.
    for (const release of this.orphans.splice(0)) release();
  }

  /** Lets this client's slot go (shutdown): another client may take it, and its queue. */
  close(): void {
    this.release?.();
    this.release = undefined;
  }

  private slotKey(slot: number): string {
    return slot === 0 ? this.key : `${this.key}#${slot}`;
  }

  /**
   * The slots no one holds, this client's first (the lowest), with their locks. Without Web Locks, slot 0 with no lock;
   * with every slot held (more tabs than slots), none: this client then shares slot 0.
   */
  private async claimSlots(): Promise<{ slot: number; release: () => void }[]> {
    if (this.locks === null) return [{ slot: 0, release: () => undefined }];
    const claimed: { slot: number; release: () => void }[] = [];
    for (let slot = 0; slot < SLOTS; slot++) {
      const release = await this.claim(this.locks, slot);
      if (release !== undefined) claimed.push({ slot, release });
    }
    return claimed;
  }

  /** The slot's lock if no one holds it: held until the function returned is called, or the page ends. */
  private claim(locks: LockManager, slot: number): Promise<(() => void) | undefined> {
    return new Promise((resolve) => {
      locks
        .request(`playsmart-ingest:${this.slotKey(slot)}`, { ifAvailable: true }, (lock) => {
          if (lock === null) {
            resolve(undefined);
            return Promise.resolve();
          }
          return new Promise<void>((release) => resolve(release));
        })
        .catch(() => resolve(undefined));
    });
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
