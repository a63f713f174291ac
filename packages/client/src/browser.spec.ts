import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { browserLifecycle } from './browser-lifecycle.js';
import { BrowserStorage, IndexedDbStorage, LocalStorageStorage, type LockManager, type StorageTier } from './browser-storage.js';
import { SAVE_DELAY_MS } from './client.js';
import { MemoryStorage } from './memory-storage.js';
import { FakeClock, harness } from './testing/fakes.js';
import type { LifecycleEvent, Storage } from './types.js';

// The browser adapters, on stand-ins for the page's globals. That IndexedDB really keeps the queue across a closed and
// reopened page is the browser test's (test/web-game.e2e-spec.ts).

/** A localStorage that keeps at most `quota` characters, and throws as browsers do past it. */
class FakeLocalStorage {
  readonly items = new Map<string, string>();
  constructor(private readonly quota = Infinity) {}
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (value.length > this.quota) throw Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' });
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/** A durable place of a fake browser (IndexedDB or localStorage) that fails when told to. */
class Place implements StorageTier {
  value: string | null = null;
  failLoad = false;
  failSave = false;
  failRemove = false;
  load(): Promise<string | null> {
    return this.failLoad ? Promise.reject(new Error('refused')) : Promise.resolve(this.value);
  }
  save(snapshot: string): Promise<void> {
    if (this.failSave) return Promise.reject(new Error('full'));
    this.value = snapshot;
    return Promise.resolve();
  }
  remove(): Promise<void> {
    if (this.failRemove) return Promise.reject(new Error('connection lost'));
    this.value = null;
    return Promise.resolve();
  }
}

/** The places of a fake browser, by key, which outlive a run; memory does not. */
class FakeBrowser {
  readonly places = new Map<string, [Place, Place]>();
  place(key: string): [Place, Place] {
    let places = this.places.get(key);
    if (places === undefined) this.places.set(key, (places = [new Place(), new Place()]));
    return places;
  }
  readonly tiers = (key: string): StorageTier[] => [...this.place(key), new MemoryStorage()];
}

/** navigator.locks: a lock is held until its callback's promise ends. */
class FakeLocks implements LockManager {
  readonly held = new Set<string>();
  async request(name: string, _options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void>): Promise<unknown> {
    if (this.held.has(name)) return callback(null);
    this.held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.held.delete(name);
    }
  }
}

/** Lets locks let go: a released lock is free once its callback's promise has settled. */
const released = () => new Promise((resolve) => setImmediate(resolve));

const globals = globalThis as { document?: unknown; window?: unknown; localStorage?: unknown };

describe('BrowserStorage: IndexedDB, then localStorage, then memory', () => {
  it('saves to the first place that takes it, and from then on to that one; memory when none does', async () => {
    const browser = new FakeBrowser();
    const [indexedDb, local] = browser.place('key');
    const storage = new BrowserStorage('key', browser.tiers, null);
    assert.deepEqual(await storage.loadAll(), []);
    await storage.save('one');
    assert.equal(indexedDb.value, 'one');
    indexedDb.failSave = true;
    await storage.save('two');
    assert.equal(local.value, 'two');
    assert.equal(indexedDb.value, null, 'the place left behind is emptied once the queue is saved durably elsewhere');
    indexedDb.failSave = false;
    await storage.save('three');
    assert.equal(local.value, 'three', 'a place that failed is not used again in this run');
    local.failSave = true;
    await storage.save('four');
    assert.equal(local.value, 'three', 'memory took it: the durable copy is kept, not emptied');
    assert.deepEqual(await new BrowserStorage('key', browser.tiers, null).loadAll(), ['three'], 'and the next run reads it');
  });

  it('never empties a place it could not read: IndexedDB slow at start keeps its queue for the next run', async () => {
    const browser = new FakeBrowser();
    const [indexedDb, local] = browser.place('key');
    indexedDb.value = 'saved by the last run';
    indexedDb.failLoad = true;
    const second = new BrowserStorage('key', browser.tiers, null);
    assert.deepEqual(await second.loadAll(), []);
    await second.save('this run');
    assert.equal(local.value, 'this run', 'saves skip the place it could not read');
    assert.equal(indexedDb.value, 'saved by the last run', 'not emptied: never read');
    indexedDb.failLoad = false;
    const third = new BrowserStorage('key', browser.tiers, null);
    assert.deepEqual(await third.loadAll(), ['saved by the last run', 'this run'], 'both read, for the client to merge');
    await third.save('merged');
    assert.deepEqual([indexedDb.value, local.value], ['merged', null]);
  });

  it('reads every place, so that an emptying that failed only means events sent again', async () => {
    const browser = new FakeBrowser();
    const [indexedDb, local] = browser.place('key');
    const first = new BrowserStorage('key', browser.tiers, null);
    await first.loadAll();
    await first.save('A');
    indexedDb.failSave = true;
    indexedDb.failRemove = true;
    await first.save('A B C');
    assert.deepEqual([indexedDb.value, local.value], ['A', 'A B C']);
    indexedDb.failSave = indexedDb.failRemove = false;
    assert.deepEqual(await new BrowserStorage('key', browser.tiers, null).loadAll(), ['A', 'A B C']);
  });

  it('without IndexedDB, and with a localStorage that is full, the queue goes on in memory', async () => {
    const local = new FakeLocalStorage(10);
    const tiers = (key: string) => [new IndexedDbStorage(key, undefined), new LocalStorageStorage(key, () => local), new MemoryStorage()];
    const storage = new BrowserStorage('q', tiers, null);
    assert.deepEqual(await storage.loadAll(), []);
    await storage.save('short');
    assert.equal(local.getItem('q'), 'short');
    await storage.save('longer than ten characters');
    assert.equal(local.getItem('q'), 'short', 'kept: memory is not a durable place');
    assert.equal(await storage.load(), 'longer than ten characters', 'this run goes on in memory');
  });

  it('LocalStorageStorage rejects (never throws) where reading window.localStorage itself throws', async () => {
    const storage = new LocalStorageStorage('q', () => {
      throw new Error('SecurityError');
    });
    await assert.rejects(storage.load());
    await assert.rejects(storage.save('x'));
  });
});

describe('BrowserStorage: tabs', () => {
  /** Two tabs of one player, each with a queue saved. */
  async function twoTabs() {
    const browser = new FakeBrowser();
    const locks = new FakeLocks();
    const [a, b] = [new BrowserStorage('key', browser.tiers, locks), new BrowserStorage('key', browser.tiers, locks)];
    await a.loadAll();
    await b.loadAll();
    await a.save('tab a');
    await b.save('tab b');
    return { browser, locks, a, b };
  }

  it('gives two tabs of one player their own slot, so that neither overwrites the other', async () => {
    const { browser, locks } = await twoTabs();
    assert.equal(browser.place('key')[0].value, 'tab a');
    assert.equal(browser.place('key#1')[0].value, 'tab b');
    assert.deepEqual([...locks.held].sort(), ['playsmart-ingest:key', 'playsmart-ingest:key#1']);
  });

  it('takes over the queue of a tab closed with events in it, then lets its slot go', async () => {
    const { browser, locks, a, b } = await twoTabs();
    b.close(); // the tab closed
    await released();
    const c = new BrowserStorage('key', browser.tiers, locks);
    assert.deepEqual(await c.loadAll(), ['tab b'], "slot 1 is c's own, and holds b's queue");
    a.close();
    await released();
    const d = new BrowserStorage('key', browser.tiers, locks);
    assert.deepEqual(await d.loadAll(), ['tab a'], "slot 0 is d's, with a's queue");
    assert.ok(!locks.held.has('playsmart-ingest:key#2'), 'empty slots are not held');

    c.close();
    d.close();
    await released();
    const e = new BrowserStorage('key', browser.tiers, locks);
    assert.deepEqual(await e.loadAll(), ['tab a', 'tab b'], 'one tab reopened takes both queues');
    assert.ok(locks.held.has('playsmart-ingest:key#1'), "held until its queue is in e's");
    await e.save('tab a, tab b');
    assert.deepEqual([browser.place('key')[0].value, browser.place('key#1')[0].value], ['tab a, tab b', null]);
    assert.deepEqual([...locks.held], ['playsmart-ingest:key']);
  });

  it('with every slot held, keeps the queue in memory rather than overwrite another tab', async () => {
    const browser = new FakeBrowser();
    const locks = new FakeLocks();
    for (let slot = 0; slot < 8; slot++) await new BrowserStorage('key', browser.tiers, locks).loadAll();
    const ninth = new BrowserStorage('key', browser.tiers, locks);
    await ninth.loadAll();
    await ninth.save('ninth');
    assert.ok([...browser.places.values()].every(([indexedDb]) => indexedDb.value === null));
    assert.equal(await ninth.load(), 'ninth');
  });
});

describe('in a browser', () => {
  afterEach(() => {
    delete globals.document;
    delete globals.window;
    delete globals.localStorage;
  });

  function page(): { document: EventTarget & { visibilityState: string }; window: EventTarget } {
    const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    const window = new EventTarget();
    Object.assign(globals, { document, window });
    return { document, window };
  }

  it('browserLifecycle: hidden is background, pagehide is exit, shown again (or back from the bfcache) is foreground', () => {
    assert.equal(browserLifecycle(), undefined, 'undefined outside a browser');
    const { document, window } = page();
    const events: LifecycleEvent[] = [];
    const stop = browserLifecycle()?.subscribe((event) => events.push(event));
    document.visibilityState = 'hidden';
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event('pagehide'));
    window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: false }));
    window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
    document.visibilityState = 'visible';
    document.dispatchEvent(new Event('visibilitychange'));
    stop?.();
    document.dispatchEvent(new Event('visibilitychange'));
    assert.deepEqual(events, ['background', 'exit', 'foreground', 'foreground']);
  });

  it('createIngestClient keeps the queue in the browser storage by default, and sends when the page is hidden', async () => {
    const { document } = page();
    const local = new FakeLocalStorage();
    globals.localStorage = local;
    const clock = new FakeClock();
    const { client, server } = harness({ flushAt: 50, storage: undefined }, { clock });
    const id = client.track('LevelCompleted', { level: 1 });
    await clock.advance(SAVE_DELAY_MS);
    const [[key, value]] = [...local.items];
    assert.equal(key, 'playsmart-ingest:https://ingest.example.com com.example.stackblaster device-abc-123');
    const saved = JSON.parse(value) as { events: { event_id: string }[] };
    assert.deepEqual(
      saved.events.map((event) => event.event_id),
      [id],
    );
    assert.equal(server.posts.length, 0);
    document.visibilityState = 'hidden';
    document.dispatchEvent(new Event('visibilitychange'));
    await clock.advance(0);
    assert.equal(server.posts.length, 1);
    assert.equal(server.posts[0].keepalive, true);
    await client.shutdown();
  });

  it('a storage given in the options is used instead', async () => {
    page();
    globals.localStorage = new FakeLocalStorage();
    const mine: Storage = new MemoryStorage();
    const clock = new FakeClock();
    const { client } = harness({ storage: mine }, { clock });
    client.track('LevelStarted');
    await clock.advance(SAVE_DELAY_MS);
    assert.notEqual(await mine.load(), null);
    assert.equal((globals.localStorage as FakeLocalStorage).items.size, 0);
  });
});
