import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it, TestContext } from 'node:test';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { BROWSER_TIMEOUT_MS, launchChromium } from './support/chromium';
import { bootTestApp, eventually, exampleBatch, TestApp, tokenFor } from './support/test-app';

// Swagger UI in a real browser: Debian's Chromium, driven by playwright-core (test/support/chromium.ts).

describe('Swagger UI in a real browser', () => {
  let t: TestApp;
  let baseUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];

  before(async () => {
    browser = await launchChromium();
    t = await bootTestApp();
    // The browser needs a real socket, not inject().
    await t.app.listen(0, '127.0.0.1');
    baseUrl = await t.app.getUrl();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  // A fresh context per test: no cookies, storage or authorization carried over.
  beforeEach(async () => {
    context = await browser.newContext({ baseURL: baseUrl });
    context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
    page = await context.newPage();
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });
  afterEach(async () => {
    await context.close();
  });

  /** Runs the steps; on failure saves a screenshot to a temporary directory and names it in the error. */
  async function inBrowser(ctx: TestContext, steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (error) {
      const path = join(mkdtempSync(join(tmpdir(), 'swagger-ui-e2e-')), 'failure.png');
      const saved = await page.screenshot({ path, fullPage: true }).then(
        () => `screenshot: ${path}`,
        (screenshotError: Error) => `no screenshot: ${screenshotError.message}`,
      );
      const note = `${saved}${pageErrors.length > 0 ? `; page errors: ${pageErrors.join(' | ')}` : ''}`;
      ctx.diagnostic(note);
      // The reporters print the stack, which was captured with the original message.
      if (error instanceof Error) error.stack = `${error.stack ?? error.message}\n    [swagger-ui.e2e-spec] ${note}`;
      throw error;
    }
  }

  /** An operation's block, by its path and method. */
  const operationBlock = (method: string, path: string) =>
    page.locator(`.opblock-${method}`).filter({ has: page.getByRole('link', { name: path, exact: true }) });

  it('opens POST /ingest/events on arrival: its parameters, request body and responses in view without a click', async (ctx) => {
    await inBrowser(ctx, async () => {
      await page.goto('/docs');
      const ingest = operationBlock('post', '/ingest/events');
      // Nothing is clicked: the operation's body is there, with what it documents.
      await ingest.getByRole('button', { name: 'Try it out' }).waitFor();
      await ingest.getByText('Request body', { exact: true }).waitFor();
      assert.ok(await ingest.getByText('Content-Encoding', { exact: true }).isVisible(), 'the Content-Encoding header is shown');
      assert.match((await ingest.locator('.opblock-description-wrapper').first().textContent()) ?? '', /Content-Encoding: gzip or deflate/);
      const example = JSON.parse((await ingest.locator('.body-param__example').first().textContent()) ?? '') as unknown;
      assert.deepEqual(example, exampleBatch(), 'the request body example is the API page example');
      const unavailable = ingest.locator('.response').filter({ has: page.getByRole('cell', { name: '503', exact: true }) });
      for (const reason of ['buffer_full', 'queue_unavailable', 'shutting_down']) {
        assert.ok(await unavailable.getByText(reason, { exact: true }).first().isVisible(), `503 ${reason} is listed`);
      }
      // Only that one: the receipt operation stays closed, and the address is left as it was (no deep link pushed).
      const receipt = operationBlock('get', '/ingest/batches/{batch_id}');
      assert.equal(await receipt.getByRole('button', { name: 'Try it out' }).count(), 0, 'the receipt operation is closed');
      assert.match((await page.locator('.info').textContent()) ?? '', /npm run -s token -- <player-id>/);
      assert.equal(new URL(page.url()).hash, '');
      // One Back leaves the page: opening the operation added no history entry.
      await page.goBack();
      assert.equal(page.url(), 'about:blank');
    });
  });

  it('opens the operation a deep link names instead', async (ctx) => {
    await inBrowser(ctx, async () => {
      await page.goto('/docs#/ingest/BatchesController_receipt');
      await operationBlock('get', '/ingest/batches/{batch_id}').getByRole('button', { name: 'Try it out' }).waitFor();
      assert.equal(await operationBlock('post', '/ingest/events').getByRole('button', { name: 'Try it out' }).count(), 0);
    });
  });

  it('authorizes with a development token, runs Try it out on POST /ingest/events with the example and gets 202', async (ctx) => {
    await inBrowser(ctx, async () => {
      await page.goto('/docs');

      await page.getByRole('button', { name: 'Authorize', exact: true }).click();
      await page.getByRole('textbox', { name: 'auth-bearer-value' }).fill(tokenFor('device-abc-123'));
      await page.getByRole('button', { name: 'Apply credentials' }).click();
      await page.getByRole('button', { name: 'Remove authorization' }).waitFor();
      await page.getByRole('button', { name: 'Close', exact: true }).click();
      await page.getByRole('heading', { name: 'Available authorizations' }).waitFor({ state: 'hidden' });

      // Open on arrival (the test above).
      const operation = operationBlock('post', '/ingest/events');
      await operation.getByRole('button', { name: 'Try it out' }).click();
      // With named examples Swagger UI shows an "Examples" dropdown: pick the API page's.
      const examples = operation.getByRole('combobox').filter({ has: page.getByRole('option', { name: 'API page example' }) });
      if ((await examples.count()) > 0) await examples.selectOption({ label: 'API page example' });
      const requestBody = operation.getByRole('tabpanel', { name: 'Edit Value' }).getByRole('textbox');
      assert.deepEqual(JSON.parse(await requestBody.inputValue()), exampleBatch(), 'the request body is the API page example');
      await operation.getByRole('button', { name: 'Execute' }).click();

      // The "Server response" row; the documented responses below it have no "Response body" heading.
      const response = operation.getByRole('row').filter({ has: page.getByRole('heading', { name: 'Response body' }) });
      await response.waitFor();
      const status = ((await response.getByRole('cell').first().textContent()) ?? '').trim();
      const body = (await response.getByRole('code').first().textContent()) ?? '';
      assert.equal(status, '202', `status ${status}, body ${body}`);
      assert.match(body, /"accepted:3 buffered:\d+"/);
      const { success, batch_id } = JSON.parse(body) as { success: boolean; batch_id: string };
      assert.equal(success, true);

      const rows = await eventually(async () => {
        const result = await t.db.query<{ user_id: string; type: string }>(
          'SELECT user_id, type FROM events WHERE batch_id = $1 ORDER BY occurred_at',
          [batch_id],
        );
        return result.rows.length === 3 ? result.rows : undefined;
      }, 10_000);
      assert.deepEqual(rows, [
        { user_id: 'device-abc-123', type: 'Custom' },
        { user_id: 'device-abc-123', type: 'LevelCompleted' },
        { user_id: 'device-abc-123', type: 'AdImpression' },
      ]);
    });
  });
});
