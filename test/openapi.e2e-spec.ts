import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { bootTestApp, deletePrefix, TestApp } from './support/test-app';

const ROOT = join(__dirname, '..', '..');
const COMMITTED = join(ROOT, 'openapi.json');
const STALE = 'Run `npm run openapi` and commit openapi.json';

function generator(args: string[]) {
  return spawnSync(process.execPath, ['dist/scripts/generate-openapi.js', ...args], {
    cwd: ROOT,
    // No configuration at all: the generator connects to nothing and reads no variable.
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

async function servedDocument(t: TestApp): Promise<unknown> {
  const response = await t.inject({ method: 'GET', url: '/docs-json' });
  assert.equal(response.statusCode, 200);
  return response.json();
}

describe('openapi.json: the committed OpenAPI document', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('equals the document the all-in-one service serves at /docs-json', async () => {
    const committed: unknown = JSON.parse(readFileSync(COMMITTED, 'utf8'));
    assert.deepEqual(await servedDocument(t), committed, `openapi.json is out of date. ${STALE}.`);
  });

  it('equals the document the gateway serves at /docs-json', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    // The gateway reads receipts only and starts without a database.
    const gateway = await bootTestApp({ rootModule: GatewayModule, shared: { databaseUrl: 'postgres://nobody@127.0.0.1:1/none', prefix } });
    try {
      assert.deepEqual(
        await servedDocument(gateway),
        JSON.parse(readFileSync(COMMITTED, 'utf8')),
        `openapi.json is out of date. ${STALE}.`,
      );
    } finally {
      await deletePrefix(gateway.redis, prefix);
      await gateway.close();
    }
  });

  it('is formatted as the generator writes it: 2-space indentation and a final newline', () => {
    const text = readFileSync(COMMITTED, 'utf8');
    assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  });

  it('npm run openapi:check passes on the committed file and fails, with a hint, on a stale one', () => {
    const ok = generator(['--check']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /up to date/);

    const dir = mkdtempSync(join(tmpdir(), 'playsmart-openapi-'));
    try {
      const stale = join(dir, 'openapi.json');
      const document = JSON.parse(readFileSync(COMMITTED, 'utf8')) as { paths: Record<string, unknown> };
      delete document.paths['/ingest/events'];
      writeFileSync(stale, `${JSON.stringify(document, null, 2)}\n`);
      const failed = generator(['--check', '--file', stale]);
      assert.equal(failed.status, 1);
      assert.match(failed.stderr, /is out of date/);
      assert.ok(failed.stderr.includes('Run `npm run openapi` and commit'), failed.stderr);
      assert.match(failed.stderr, /\+ POST \/ingest\/events \(not in the committed file\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
