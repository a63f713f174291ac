import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { BROWSER_TIMEOUT_MS, launchChromium } from './support/chromium';
import { startWebGameServer, WebGameServer } from '../scripts/web-game-server';
import { freePort, ServiceProcess, startService } from './support/processes';
import { createTestDatabase, deletePrefix, eventually, REDIS_URL, TEST_SECRET, tokenFor } from './support/test-app';
import type { ScratchDatabase } from '../support/local-services';
import { ROOT } from '../support/service-process';

// The example web game (examples/web-game, as `npm run demo` serves it) played in Debian's Chromium, on its own origin
// with the API on another, so that every request of the client goes through CORS. See test/support/chromium.ts for
// why Debian's Chromium and not `npx playwright install`.
const GAME_ID = 'com.example.web-game';
// Nothing leaves the page on its own (flushAt, flushIntervalMs): only at the end of a level, when the page is hidden or
// closed, and when a reopened page finds a saved queue. The counts below are the client's doing, not a timer's.
const GAME_PATH = '/?flushAt=1000&flushIntervalMs=600000';

interface Tracked {
  eventId: string;
  type: string;
}

interface PageEvent extends Tracked {
  page: number;
}

/** What the page's init script reports of each POST /ingest/events the page starts, before it is sent. */
interface IngestRequest {
  page: number;
  keepalive: boolean;
  eventIds: string[];
}

interface PageStats {
  queued: number;
  sent: number;
  retried: number;
  dropped: Record<string, number>;
}

/** The page's `window.webGame` (examples/web-game/game.js), as page.evaluate sees it. */
interface WebGame {
  client: { stats(): PageStats };
  tracked: Tracked[];
  targets(): { x: number; y: number }[];
  state(): { phase: 'playing' | 'cleared'; level: number; round: number };
  canvasSize(): { width: number; height: number };
}
/** The page's global: the functions page.evaluate runs are the page's, not this file's. */
declare const webGame: WebGame;

/** The newest modification time of a file under `path`. */
function newest(path: string): number {
  const stat = statSync(path);
  return stat.isDirectory() ? Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newest(join(path, entry)))) : stat.mtimeMs;
}

/** The client's ES modules the page loads (packages/client/dist/esm), built when its sources are newer: tsc alone does not. */
function buildClient(): void {
  const client = join(ROOT, 'packages', 'client');
  const built = join(client, 'dist', 'esm', 'index.js');
  if (existsSync(built) && statSync(built).mtimeMs > newest(join(client, 'src'))) return;
  const build = spawnSync(process.execPath, [join(client, 'scripts', 'build.mjs')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`building packages/client failed:\n${build.stdout}${build.stderr}`);
}

/**
 * Wraps the page's fetch before any script of the page runs: each POST to /ingest/events is reported to the test
 * (exposeBinding) as it starts, with its keepalive flag and event_ids, even while the page is being closed. A gzipped
 * body (the client's from 2 KiB, never while the page hides or closes) is reported once the page has inflated it.
 */
function reportIngestRequests(): void {
  type Init = { method?: string; body?: unknown; keepalive?: boolean };
  const scope = globalThis as unknown as {
    fetch: (input: unknown, init?: Init) => Promise<unknown>;
    Response: new (body: unknown) => { text(): Promise<string>; body: { pipeThrough(stream: unknown): unknown } };
    DecompressionStream: new (format: string) => unknown;
    __ingestRequest: (request: Omit<IngestRequest, 'page'>) => void;
  };
  const report = (init: Init, json: string) => {
    const { events } = JSON.parse(json) as { events: { event_id: string }[] };
    scope.__ingestRequest({
      keepalive: init.keepalive === true,
      eventIds: events.map((event) => event.event_id),
    });
  };
  const original = scope.fetch;
  scope.fetch = function (this: unknown, ...args: Parameters<typeof original>) {
    const [input, init] = args;
    const url = typeof input === 'string' ? input : String((input as { url?: string }).url);
    if (url.endsWith('/ingest/events') && init?.method === 'POST') {
      if (typeof init.body === 'string') report(init, init.body);
      else {
        const inflated = new scope.Response(init.body).body.pipeThrough(new scope.DecompressionStream('gzip'));
        void new scope.Response(inflated).text().then((json) => report(init, json));
      }
    }
    return original.apply(this, args);
  };
}

describe('the example web game in a real browser, on another origin than the API', { timeout: 240_000 }, () => {
  let database: ScratchDatabase;
  let db: Pool;
  let prefix: string;
  let service: ServiceProcess;
  let game: WebGameServer;
  let browser: Browser;
  let context: BrowserContext;
  const userId = `web-game-${randomUUID().slice(0, 8)}`;
  const requests: IngestRequest[] = [];
  /** The answers the browser got to POST /ingest/events: their status and Access-Control-Allow-Origin. */
  const answers: { status: number; allowOrigin?: string }[] = [];
  let failedRequests = 0;
  const pageErrors: string[] = [];
  let pagesOpened = 0;
  const pageNumbers = new Map<Page, number>();
  let page: Page;

  before(async () => {
    browser = await launchChromium();
    buildClient();
    database = await createTestDatabase();
    db = new Pool({ connectionString: database.url, max: 1 });
    prefix = `web-game-${randomUUID().slice(0, 8)}`;
    const gamePort = await freePort();
    const gameOrigin = `http://127.0.0.1:${gamePort}`;
    service = await startService('all-in-one', {
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      JWT_SECRET: TEST_SECRET,
      CORS_ORIGINS: gameOrigin,
    });
    game = await startWebGameServer({ endpoint: service.url, gameId: GAME_ID, userId, token: (sub) => tokenFor(sub), port: gamePort });
    assert.equal(game.url, gameOrigin);
    context = await browser.newContext({ baseURL: game.url });
    context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
    await context.exposeBinding('__ingestRequest', ({ page: source }, request: Omit<IngestRequest, 'page'>) => {
      requests.push({ ...request, page: pageNumbers.get(source) ?? 0 });
    });
    await context.addInitScript(reportIngestRequests);
    context.on('response', (response) => {
      if (response.url().endsWith('/ingest/events') && response.request().method() === 'POST') {
        answers.push({ status: response.status(), allowOrigin: response.headers()['access-control-allow-origin'] });
      }
    });
    context.on('requestfailed', (request) => {
      if (request.url().endsWith('/ingest/events') && request.method() === 'POST') failedRequests += 1;
    });
  });

  after(async () => {
    await browser?.close();
    await game?.close();
    await service?.stop();
    await db?.end();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  async function openGame(): Promise<Page> {
    const opened = await context.newPage();
    pageNumbers.set(opened, ++pagesOpened);
    opened.on('pageerror', (error) => pageErrors.push(`page ${pageNumbers.get(opened)}: ${error.message}`));
    await opened.goto(GAME_PATH);
    await opened.waitForFunction(() => typeof webGame !== 'undefined' && webGame.state().phase === 'playing');
    return opened;
  }

  /** Closes the page as a person closing the tab would (beforeunload, pagehide run), and waits until it is gone. */
  async function closePage(): Promise<void> {
    const closed = page.waitForEvent('close');
    await page.close({ runBeforeUnload: true });
    await closed;
  }

  const stats = () => page.evaluate(() => webGame.client.stats());
  const tracked = () => page.evaluate(() => webGame.tracked);

  /** Clicks `count` of the current level's targets (all by default) where the canvas shows them. */
  async function hitTargets(count = Infinity): Promise<void> {
    const canvas = page.locator('canvas');
    for (let hit = 0; hit < count; hit++) {
      const [target] = await page.evaluate(() => webGame.targets());
      if (target === undefined) return;
      const box = await canvas.boundingBox();
      const size = await page.evaluate(() => webGame.canvasSize());
      assert.ok(box !== null, 'the canvas is shown');
      await page.mouse.click(box.x + (target.x * box.width) / size.width, box.y + (target.y * box.height) / size.height);
    }
  }

  /** Plays a level to its end (starting it first if the last one is cleared); the game flushes then. */
  async function playLevel(): Promise<void> {
    if ((await page.evaluate(() => webGame.state().phase)) === 'cleared') await page.locator('canvas').click();
    await hitTargets();
    assert.equal(await page.evaluate(() => webGame.state().phase), 'cleared');
  }

  /**
   * Hides or shows the page. Headless Chromium keeps every page visible (its window minimized, another tab in front:
   * still `visible`; CDP has no command for it), so hiding overrides `document.visibilityState` and `document.hidden`
   * and dispatches `visibilitychange` on the document, as the browser would; showing removes the override (the
   * browser's own `visible` again) and dispatches it again. Closing the page, below, fires the browser's own pagehide.
   */
  async function setVisibility(state: 'hidden' | 'visible'): Promise<void> {
    await page.evaluate((hidden) => {
      const document = (globalThis as unknown as { document: EventTarget & Record<string, unknown> }).document;
      if (hidden) {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      } else {
        delete document.visibilityState;
        delete document.hidden;
      }
      document.dispatchEvent(new Event('visibilitychange'));
    }, state === 'hidden');
  }

  const until = <T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000) =>
    eventually(check, timeoutMs).catch((error: Error) => {
      throw new Error(`${what}: ${error.message}`);
    });
  const drained = (what: string, timeoutMs?: number) =>
    until(async () => ((await stats()).queued === 0 ? true : undefined), `${what}: the queue empties`, timeoutMs);

  /** Runs the steps; on failure saves a screenshot and names it, with the page's errors, in the error. */
  async function inBrowser(ctx: TestContext, steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (error) {
      const path = join(mkdtempSync(join(tmpdir(), 'web-game-e2e-')), 'failure.png');
      const saved = page.isClosed()
        ? 'no screenshot: the page is closed'
        : await page.screenshot({ path }).then(
            () => `screenshot: ${path}`,
            (screenshotError: Error) => `no screenshot: ${screenshotError.message}`,
          );
      const note = `${saved}${pageErrors.length > 0 ? `; page errors: ${pageErrors.join(' | ')}` : ''}`;
      ctx.diagnostic(note);
      if (error instanceof Error) error.stack = `${error.stack ?? error.message}\n    [web-game.e2e-spec] ${note}`;
      throw error;
    }
  }

  /** Every event the tests have tracked, for the player's rows in PostgreSQL. */
  const everyTracked: PageEvent[] = [];

  /** Every event of `tracked` is stored exactly once, and nothing else of this player: the rows. */
  async function assertStoredOnce(tracked: PageEvent[]): Promise<{ event_id: string; type: string }[]> {
    const ids = tracked.map((event) => event.eventId);
    assert.equal(new Set(ids).size, ids.length, 'every tracked event has its own event_id');
    const storedRows = async () =>
      (
        await db.query<{ event_id: string; type: string }>('SELECT event_id, type FROM events WHERE user_id = $1 AND game_id = $2', [
          userId,
          GAME_ID,
        ])
      ).rows;
    // Every event has had a 202 by now (each page drained its queue, the last reopened one included): written within moments.
    const rows = await eventually(async () => {
      const found = await storedRows();
      return found.length >= ids.length ? found : undefined;
    }, 15_000).catch(() => storedRows());
    const stored = new Map(rows.map((row) => [row.event_id, row.type]));
    const sentIds = new Set(requests.flatMap((request) => request.eventIds));
    const missing = tracked
      .filter((event) => !stored.has(event.eventId))
      .map((event) => `${event.type} of page ${event.page}${sentIds.has(event.eventId) ? '' : ', never sent'}`);
    assert.deepEqual(missing, [], `${missing.length} of ${ids.length} tracked events are not stored`);
    assert.equal(rows.length, stored.size, 'each stored once');
    assert.deepEqual(
      rows.map((row) => `${row.event_id} ${row.type}`).sort(),
      tracked.map((event) => `${event.eventId} ${event.type}`).sort(),
      'the events stored are exactly those tracked',
    );
    return rows;
  }

  /** The events the page tracked, with its number. */
  const trackedOn = async (on: Page): Promise<PageEvent[]> =>
    (await on.evaluate(() => webGame.tracked)).map((event) => ({ ...event, page: pageNumbers.get(on) ?? 0 }));

  it('levels played, the page hidden, offline and back, closed with events queued and reopened: each event stored once', async (ctx) => {
    const allTracked: PageEvent[] = [];
    const collect = async () => {
      const number = pageNumbers.get(page) ?? 0;
      allTracked.push(...(await tracked()).map((event) => ({ ...event, page: number })));
    };
    await inBrowser(ctx, async () => {
      page = await openGame();

      // Levels completed: each level's end sends what it tracked.
      await playLevel();
      await playLevel();
      await drained('after two levels');
      const afterLevels = requests.length;
      ctx.diagnostic(`two levels: ${(await tracked()).length} events tracked, ${afterLevels} requests`);
      assert.ok(afterLevels >= 2, `a request per level at least, saw ${afterLevels}`);

      // Hidden in the middle of a level: what is queued leaves at once, with keepalive (a hidden page may never run again).
      await page.locator('canvas').click();
      await hitTargets(2);
      assert.ok((await stats()).queued >= 3, 'LevelStarted and two hits are queued');
      await setVisibility('hidden');
      await drained('once hidden');
      const onHide = requests.slice(afterLevels);
      assert.ok(
        onHide.length > 0 && onHide.every((request) => request.keepalive),
        `sent with keepalive when hidden: ${JSON.stringify(onHide)}`,
      );
      ctx.diagnostic(`hidden: ${onHide.length} request(s), keepalive, ${onHide.flatMap((request) => request.eventIds).length} events`);
      await setVisibility('visible');
      await hitTargets();

      // Offline: the level ends, its flush fails, the events wait; back online they are sent.
      await context.setOffline(true);
      const beforeOffline = await stats();
      await playLevel();
      await playLevel();
      await until(async () => ((await stats()).retried > beforeOffline.retried ? true : undefined), 'a failed send is retried later');
      assert.ok((await stats()).queued > 0, 'offline, the events wait in the queue');
      await context.setOffline(false);
      await drained('back online', 90_000);
      ctx.diagnostic(
        `offline and back: ${(await stats()).retried - beforeOffline.retried} retries, ${failedRequests} failed requests so far`,
      );

      // Closed with events queued, online then offline, and opened again. Closing fires the browser's own pagehide: the
      // client saves its queue and sends it with keepalive (which fails offline); the reopened page finds the saved queue
      // and sends it at once. Sent twice when online (the closed page never saw its 202): stored once all the same.
      for (const offline of [false, true]) {
        await page.locator('canvas').click();
        await hitTargets(2);
        const queued = (await stats()).queued;
        assert.ok(queued >= 3, `LevelStarted and two hits queued before closing: ${queued}`);
        await collect();
        const queuedIds = (await tracked()).slice(-queued).map((event) => event.eventId);
        if (offline) await context.setOffline(true);
        const before = requests.length;
        await closePage();
        const onClose = requests.slice(before);
        if (offline) await context.setOffline(false);

        page = await openGame();
        const reopened = pageNumbers.get(page) ?? 0;
        const resent = () => {
          const ids = new Set(requests.filter((request) => request.page === reopened).flatMap((request) => request.eventIds));
          return queuedIds.filter((id) => ids.has(id));
        };
        const sentOnClose = new Set(onClose.flatMap((request) => request.eventIds));
        const expected = offline ? queuedIds : queuedIds.filter((id) => !sentOnClose.has(id));
        await until(
          () => Promise.resolve(expected.every((id) => resent().includes(id)) ? true : undefined),
          `the ${expected.length} events queued at close and not sent then are sent by the reopened page`,
        );
        await playLevel();
        await drained('the reopened page');
        ctx.diagnostic(
          `closed ${offline ? 'offline' : 'online'} with ${queued} events queued: ${onClose.length} request(s) as it closed ` +
            `(${onClose.filter((request) => request.keepalive).length} keepalive, ${sentOnClose.size} events); ` +
            `the reopened page sent ${resent().length} of them`,
        );
      }
      await collect();
      await closePage();
    });

    const ids = allTracked.map((event) => event.eventId);
    everyTracked.push(...allTracked);
    const rows = await assertStoredOnce(everyTracked);
    const keepalive = requests.filter((request) => request.keepalive).length;
    const resent = requests.flatMap((request) => request.eventIds).length - ids.length;
    assert.ok(
      answers.every((answer) => answer.allowOrigin === game.url),
      `every answer names the game's origin in Access-Control-Allow-Origin: ${JSON.stringify(answers)}`,
    );
    ctx.diagnostic(
      `${ids.length} events tracked on ${pagesOpened} pages, ${rows.length} stored once each; ${requests.length} requests ` +
        `(${keepalive} keepalive, ${failedRequests} failed, answers ${summarize(answers.map((answer) => answer.status))}); ${resent} sends of an event beyond its first (retries, resent on reopening)`,
    );
    assert.deepEqual(pageErrors, []);
  });

  it('two tabs of one player closed offline keep their own queues: the next tab sends both', async (ctx) => {
    const allTracked: PageEvent[] = [];
    await inBrowser(ctx, async () => {
      const tabs = [await openGame(), await openGame()];
      await context.setOffline(true);
      // Each tab plays a level: its flush fails, and its events wait in the queue, each tab's in its own slot.
      for (const tab of tabs) {
        page = tab;
        await playLevel();
        await until(async () => ((await stats()).retried > 0 ? true : undefined), 'a failed send is retried later');
        allTracked.push(...(await trackedOn(tab)));
      }
      // Both closed while offline, each saving its queue at pagehide: in one slot, the second would overwrite the first.
      const left: number[] = [];
      for (const tab of tabs) {
        page = tab;
        left.push((await stats()).queued);
        await closePage();
      }
      await context.setOffline(false);
      page = await openGame();
      const reopened = pageNumbers.get(page);
      const sent = () => new Set(requests.filter((request) => request.page === reopened).flatMap((request) => request.eventIds));
      await until(
        () => Promise.resolve(allTracked.every((event) => sent().has(event.eventId)) ? true : undefined),
        'the next tab sends every event the closed tabs left',
      );
      await drained('the next tab');
      allTracked.push(...(await trackedOn(page)));
      ctx.diagnostic(`two tabs closed offline with ${left.join(' and ')} events queued: the next tab sent ${sent().size} events`);
      await closePage();
    });
    everyTracked.push(...allTracked);
    await assertStoredOnce(everyTracked);
    assert.deepEqual(pageErrors, []);
  });
});

function summarize(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, count]) => `${count}×${status}`).join(', ') || 'none';
}
