import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { createGzip, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { bootTestApp, eventually, exampleBatch, postEvents, TestApp, tokenFor } from './support/test-app';

const LIMIT = 64 * 1024;

interface Envelope {
  error: { code: string; message: string; details?: Array<{ field: string; message: string }> };
}

function assertEnvelope(response: LightMyRequestResponse, status: number, code: string, message?: string): Envelope {
  assert.equal(response.statusCode, status, response.body);
  const body = response.json<Envelope>();
  assert.equal(body.error.code, code);
  if (message !== undefined) assert.equal(body.error.message, message);
  return body;
}

function assertInvalidBody(response: LightMyRequestResponse): void {
  const { error } = assertEnvelope(response, 400, 'BAD_REQUEST', 'invalid_payload');
  assert.deepEqual(
    error.details?.map((d) => d.field),
    [''],
  );
}

/** `megabytes` MB of zeros as one gzip member, compressed as a stream so that the zeros never sit in memory. */
async function gzipOfZeros(megabytes: number): Promise<Buffer> {
  const zeros = Buffer.alloc(1 << 20);
  const chunks: Buffer[] = [];
  await pipeline(
    function* () {
      for (let i = 0; i < megabytes; i++) yield zeros;
    },
    createGzip({ level: 9 }),
    async (compressed: AsyncIterable<Buffer>) => {
      for await (const chunk of compressed) chunks.push(chunk);
    },
  );
  return Buffer.concat(chunks);
}

describe('compressed bodies (Content-Encoding)', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({ env: { BODY_LIMIT: String(LIMIT) } });
  });
  after(async () => {
    await t.close();
  });

  /** Posts the API example for a fresh player, encoded by `encode`, and returns the player id and the answer. */
  async function postExample(
    userId: string,
    encoding: string,
    encode: (json: Buffer) => Buffer,
  ): Promise<{ userId: string; response: LightMyRequestResponse }> {
    const json = Buffer.from(JSON.stringify(exampleBatch(userId)));
    const response = await postEvents(t, encode(json), tokenFor(userId), { 'content-encoding': encoding });
    return { userId, response };
  }

  async function assertStored(userId: string, response: LightMyRequestResponse): Promise<void> {
    assert.equal(response.statusCode, 202, response.body);
    const { batch_id: batchId, message } = response.json<{ batch_id: string; message: string }>();
    assert.match(message, /^accepted:3 buffered:\d+$/);
    const rows = await eventually(async () => {
      const { rows } = await t.db.query<{ type: string; batch_id: string }>(
        'SELECT type, batch_id FROM events WHERE user_id = $1 ORDER BY occurred_at',
        [userId],
      );
      return rows.length === 3 ? rows : undefined;
    });
    assert.deepEqual(
      rows.map((r) => r.type),
      ['Custom', 'LevelCompleted', 'AdImpression'],
    );
    assert.ok(rows.every((r) => r.batch_id === batchId));
  }

  describe('accepted codings', () => {
    it('stores the API example sent with gzip', async () => {
      const { userId, response } = await postExample('gzip-player', 'gzip', (json) => gzipSync(json));
      await assertStored(userId, response);
    });

    it('stores the API example sent with deflate (zlib-wrapped, as HTTP defines it)', async () => {
      const { userId, response } = await postExample('deflate-player', 'deflate', (json) => deflateSync(json));
      await assertStored(userId, response);
    });

    it('stores the API example sent with raw deflate, as some clients send it', async () => {
      const { userId, response } = await postExample('raw-deflate-player', 'deflate', (json) => deflateRawSync(json));
      await assertStored(userId, response);
    });

    it('accepts x-gzip, any letter case and identity', async () => {
      for (const [encoding, encode] of [
        ['x-gzip', gzipSync],
        ['GZIP', gzipSync],
        ['Deflate', deflateSync],
        ['identity', (json: Buffer) => json],
        ['identity, gzip', gzipSync],
      ] as const) {
        const { response } = await postExample('coding-player', encoding, (json) => encode(json));
        assert.equal(response.statusCode, 202, `${encoding}: ${response.body}`);
      }
    });

    it('accepts a body that is over the limit compressed only by its headers, and one of exactly the limit decoded', async () => {
      const json = JSON.stringify(exampleBatch('exact-player'));
      // Whitespace after the JSON pads the decoded body to exactly BODY_LIMIT bytes.
      const exact = Buffer.from(json + ' '.repeat(LIMIT - Buffer.byteLength(json)));
      const response = await postEvents(t, gzipSync(exact), tokenFor('exact-player'), { 'content-encoding': 'gzip' });
      assert.equal(response.statusCode, 202, response.body);
    });
  });

  describe('413 PAYLOAD_TOO_LARGE applies to the decoded size', () => {
    it('refuses a body of 1 byte over the limit once decoded, though tiny compressed', async () => {
      const json = JSON.stringify(exampleBatch());
      const over = Buffer.from(json + ' '.repeat(LIMIT + 1 - Buffer.byteLength(json)));
      const response = await postEvents(t, gzipSync(over), tokenFor('device-abc-123'), { 'content-encoding': 'gzip' });
      assertEnvelope(response, 413, 'PAYLOAD_TOO_LARGE', `body_too_large: the limit is ${LIMIT} bytes`);
    });

    it('refuses a compressed body over the limit as sent', async () => {
      const incompressible = gzipSync(randomBytes(LIMIT + 1024), { level: 0 });
      const response = await postEvents(t, incompressible, tokenFor('device-abc-123'), { 'content-encoding': 'gzip' });
      assertEnvelope(response, 413, 'PAYLOAD_TOO_LARGE', `body_too_large: the limit is ${LIMIT} bytes`);
    });

    it('refuses a 50 MB gzip bomb quickly, without inflating it', async () => {
      const bomb = await gzipOfZeros(50);
      assert.ok(bomb.length < LIMIT, `the bomb (${bomb.length} bytes) passes the limit on the compressed size`);
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      const response = await postEvents(t, bomb, tokenFor('device-abc-123'), { 'content-encoding': 'gzip' });
      const elapsed = performance.now() - started;
      const grownMb = (process.memoryUsage().rss - rssBefore) / (1 << 20);
      assertEnvelope(response, 413, 'PAYLOAD_TOO_LARGE', `body_too_large: the limit is ${LIMIT} bytes`);
      assert.ok(elapsed < 1000, `answered in ${elapsed.toFixed(0)} ms`);
      assert.ok(grownMb < 30, `the process grew by ${grownMb.toFixed(1)} MB`);
    });

    it('answers a bomb over a real connection with the 413 and closes it', async () => {
      const bomb = await gzipOfZeros(50);
      await t.app.listen(0, '127.0.0.1');
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const { status, headers, body } = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
        (resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: '/ingest/events',
              headers: {
                'content-type': 'application/json',
                'content-encoding': 'gzip',
                'content-length': bomb.length,
                authorization: `Bearer ${tokenFor('device-abc-123')}`,
              },
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (text += chunk));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
            },
          );
          req.on('error', reject);
          req.end(bomb);
        },
      );
      assert.equal(status, 413, body);
      assert.equal(headers.connection, 'close');
      assert.equal((JSON.parse(body) as Envelope).error.code, 'PAYLOAD_TOO_LARGE');
    });
  });

  describe('400 BAD_REQUEST with field "" for data that does not decode', () => {
    const json = Buffer.from(JSON.stringify(exampleBatch()));
    const gzip = gzipSync(json);
    const cases: Array<[string, string, Buffer]> = [
      ['plain JSON labelled gzip', 'gzip', json],
      ['gzip with a corrupt stream', 'gzip', Buffer.concat([gzip.subarray(0, 10), Buffer.alloc(40, 0xff)])],
      ['truncated gzip', 'gzip', gzip.subarray(0, gzip.length - 8)],
      ['gzip with a wrong checksum', 'gzip', Buffer.concat([gzip.subarray(0, gzip.length - 8), Buffer.alloc(8)])],
      ['corrupt deflate', 'deflate', Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff])],
      ['plain JSON labelled deflate', 'deflate', json],
    ];
    for (const [name, encoding, body] of cases) {
      it(`for ${name}`, async () => {
        assertInvalidBody(await postEvents(t, body, tokenFor('device-abc-123'), { 'content-encoding': encoding }));
      });
    }

    it('checks the decoded body as an unencoded one: empty, not UTF-8, not JSON, not an object', async () => {
      for (const decoded of [Buffer.alloc(0), Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), Buffer.from('{"user_id":'), Buffer.from('[1]')]) {
        assertInvalidBody(await postEvents(t, gzipSync(decoded), tokenFor('device-abc-123'), { 'content-encoding': 'gzip' }));
      }
    });
  });

  describe('415 UNSUPPORTED_MEDIA_TYPE for a content coding other than gzip, deflate or identity', () => {
    for (const encoding of ['br', 'zstd', 'compress', 'garbage', 'gzip, gzip', 'gzip, br']) {
      it(`for ${encoding}`, async () => {
        const response = await postEvents(t, JSON.stringify(exampleBatch()), tokenFor('device-abc-123'), { 'content-encoding': encoding });
        assertEnvelope(response, 415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported_content_encoding');
        assert.equal(response.headers['accept-encoding'], 'gzip, deflate');
      });
    }
  });
});
