import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { browserLifecycle } from './browser-lifecycle.js';
import { BrowserStorage, IndexedDbStorage, LocalStorageStorage } from './browser-storage.js';
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

/** A tier that fails when told to, and counts what it is asked. */
class Tier extends MemoryStorage {
  failLoad = false;
  failSave = false;
  removed = 0;
  override load(): Promise<string | null> {
    return this.failLoad ? Promise.reject(new Error('refused')) : super.load();
  }
  override save(snapshot: string): Promise<void> {
    return this.failSave ? Promise.reject(new Error('full')) : super.save(snapshot);
  }
  async remove(): Promise<void> {
    this.removed += 1;
    await super.save(null as unknown as string);
  }
}

const globals = globalThis as { document?: unknown; window?: unknown; localStorage?: unknown };

describe('BrowserStorage: IndexedDB, then localStorage, then memory', () => {
  it('saves to the first tier that takes it, and from then on to that one; a full storage never throws', async () => {
    const [first, second, third] = [new Tier(), new Tier(), new Tier()];
    const storage = new BrowserStorage('key', [first, second, third]);
    await storage.save('one');
    assert.equal(await first.load(), 'one');
    first.failSave = true;
    await storage.save('two');
    assert.equal(await second.load(), 'two');
    assert.equal(await first.load(), null, 'the tier left behind is cleared: a later run cannot load an older queue from it');
    first.failSave = false;
    await storage.save('three');
    assert.equal(await second.load(), 'three', 'a tier that failed is not tried again in this run');
    second.failSave = true;
    third.failSave = true;
    await assert.rejects(storage.save('four'), 'every tier failed: the client reports it, and keeps the queue in memory');
  });

  it('loads from the first tier that answers; an empty tier lets a later one holding a snapshot answer', async () => {
    const [first, second] = [new Tier(), new Tier()];
    await second.save('saved by a run that fell back');
    const storage = new BrowserStorage('key', [first, second]);
    assert.equal(await storage.load(), 'saved by a run that fell back');
    await storage.save('next');
    assert.equal(await first.load(), 'next', 'saves still go to the first tier');
    assert.equal(await second.load(), null, 'and the first save clears the others');

    const refused = new Tier();
    refused.failLoad = true;
    const third = new Tier();
    await third.save('there');
    assert.equal(await new BrowserStorage('key', [refused, third]).load(), 'there');
  });

  it('without IndexedDB, and with a localStorage that is full, the queue goes on in memory', async () => {
    const local = new FakeLocalStorage(10);
    const storage = new BrowserStorage('key', [
      new IndexedDbStorage('key', undefined),
      new LocalStorageStorage('q', () => local),
      new MemoryStorage(),
    ]);
    assert.equal(await storage.load(), null);
    await storage.save('short');
    assert.equal(local.getItem('q'), 'short');
    await storage.save('longer than ten characters');
    assert.equal(local.getItem('q'), null);
    assert.equal(await storage.load(), 'longer than ten characters');
  });

  it('LocalStorageStorage rejects (never throws) where reading window.localStorage itself throws', async () => {
    const storage = new LocalStorageStorage('q', () => {
      throw new Error('SecurityError');
    });
    await assert.rejects(storage.load());
    await assert.rejects(storage.save('x'));
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
