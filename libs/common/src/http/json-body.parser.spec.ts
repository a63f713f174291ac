import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { constants, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { HttpException } from '@nestjs/common';
import { ApiError, ErrorBody } from '../errors/api-error';
import { bodyCoding, readBody, ReadBodyOptions } from './json-body.parser';

const LIMIT = 64 * 1024;
const JSON_TEXT = JSON.stringify({ user_id: 'device-abc-123', pad: 'é'.repeat(1000) });

/** A source that hands out `chunks` one at a time, only when asked, and counts how many were taken. */
function lazySource(count: number, chunkAt: (index: number) => Buffer): Readable & { pulled: () => number } {
  let index = 0;
  const source = new Readable({
    read() {
      this.push(index < count ? chunkAt(index++) : null);
    },
  });
  return Object.assign(source, { pulled: () => index });
}

/** Splits `bytes` into chunks of `size`. */
const sliced = (bytes: Buffer, size: number): Readable => {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) chunks.push(bytes.subarray(offset, offset + size));
  return lazySource(chunks.length, (i) => chunks[i]);
};

const read = (bytes: Buffer, options: Partial<ReadBodyOptions> = {}, chunkSize = 1024): Promise<Buffer> =>
  readBody(sliced(bytes, chunkSize), { coding: 'identity', limit: LIMIT, ...options });

function assertStatus(error: unknown, status: number): true {
  assert.ok(error instanceof HttpException, `expected an HttpException, got ${String(error)}`);
  assert.equal(error.getStatus(), status);
  return true;
}

function assertUnreadable(error: unknown): true {
  assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
  const { error: body } = error.getResponse() as ErrorBody;
  assert.equal(body.message, 'invalid_payload');
  assert.deepEqual(
    body.details?.map((d) => d.field),
    [''],
  );
  return true;
}

describe('bodyCoding', () => {
  it('reads the supported codings, in any case, with identity and blanks ignored', () => {
    for (const header of [undefined, '', 'identity', ' IDENTITY ', ['identity']]) assert.equal(bodyCoding(header), 'identity');
    for (const header of ['gzip', 'GZip', 'x-gzip', 'identity, gzip', ' gzip ,']) assert.equal(bodyCoding(header), 'gzip');
    assert.equal(bodyCoding('deflate'), 'deflate');
  });

  it('refuses unknown and stacked codings', () => {
    for (const header of ['br', 'zstd', 'compress', 'gzip, gzip', 'gzip, deflate', 'garbage!', 'toString', '__proto__']) {
      assert.equal(bodyCoding(header), undefined, header);
    }
  });
});

describe('readBody', () => {
  const text = Buffer.from(JSON_TEXT);

  it('returns an unencoded body as sent', async () => {
    assert.deepEqual(await read(text), text);
    assert.deepEqual(await read(Buffer.alloc(0)), Buffer.alloc(0));
  });

  it('decodes gzip, zlib-wrapped deflate and raw deflate, whatever the chunking', async () => {
    for (const chunkSize of [1, 7, 1024, 1 << 20]) {
      assert.deepEqual(await read(gzipSync(text), { coding: 'gzip' }, chunkSize), text);
      assert.deepEqual(await read(deflateSync(text), { coding: 'deflate' }, chunkSize), text);
      assert.deepEqual(await read(deflateRawSync(text), { coding: 'deflate' }, chunkSize), text);
    }
  });

  it('decodes a gzip body of several members', async () => {
    assert.deepEqual(await read(Buffer.concat([gzipSync('{"a":'), gzipSync('1}')]), { coding: 'gzip' }), Buffer.from('{"a":1}'));
  });

  it('accepts a body of exactly the limit, before and after decoding', async () => {
    const exact = Buffer.alloc(LIMIT, 0x20);
    assert.equal((await read(exact)).length, LIMIT);
    assert.equal((await read(gzipSync(exact), { coding: 'gzip' })).length, LIMIT);
  });

  it('refuses with 413 a body over the limit as sent', async () => {
    await assert.rejects(read(Buffer.alloc(LIMIT + 1)), (e) => assertStatus(e, 413));
  });

  it('refuses with 413, before reading, a Content-Length over the limit', async () => {
    const source = lazySource(1, () => text);
    await assert.rejects(readBody(source, { coding: 'identity', limit: LIMIT, contentLength: LIMIT + 1 }), (e) => assertStatus(e, 413));
    assert.equal(source.pulled(), 0);
  });

  it('refuses with 400 a body shorter than its Content-Length', async () => {
    await assert.rejects(read(text, { contentLength: text.length + 1 }), assertUnreadable);
  });

  it('refuses with 413 a body that passes the limit only once decoded', async () => {
    const big = Buffer.alloc(LIMIT + 1, 0x20);
    await assert.rejects(read(gzipSync(big), { coding: 'gzip' }), (e) => assertStatus(e, 413));
    await assert.rejects(read(deflateSync(big), { coding: 'deflate' }), (e) => assertStatus(e, 413));
    await assert.rejects(read(deflateRawSync(big), { coding: 'deflate' }), (e) => assertStatus(e, 413));
  });

  it('refuses with 400, field "", data that does not decode', async () => {
    const gzip = gzipSync(text);
    await assert.rejects(read(text, { coding: 'gzip' }), assertUnreadable);
    await assert.rejects(read(gzip.subarray(0, gzip.length - 10), { coding: 'gzip' }), assertUnreadable);
    await assert.rejects(
      read(Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]), { coding: 'gzip' }),
      assertUnreadable,
    );
    await assert.rejects(read(Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff]), { coding: 'deflate' }), assertUnreadable);
    await assert.rejects(read(Buffer.from([0xff]), { coding: 'deflate' }), assertUnreadable);
  });

  it('refuses with 400 a stream that fails', async () => {
    const source = new Readable({ read() {} });
    const reading = readBody(source, { coding: 'gzip', limit: LIMIT });
    source.destroy(new Error('aborted'));
    await assert.rejects(reading, assertUnreadable);
  });

  it('stops inflating a decompression bomb at the limit: 1 GB of zeros in 1 MB gzip members is refused after a few', async () => {
    const member = gzipSync(Buffer.alloc(1 << 20), { level: 9 }); // about 1 KB
    const source = lazySource(1024, () => member);
    const started = performance.now();
    await assert.rejects(readBody(source, { coding: 'gzip', limit: LIMIT }), (e) => assertStatus(e, 413));
    const elapsed = performance.now() - started;
    // Reading runs ahead of inflating by at most the stream buffers (some tens of KB here, each KB worth 1 MB).
    assert.ok(source.pulled() < 64, `read ${source.pulled()} of 1024 members`);
    assert.ok(elapsed < 500, `took ${elapsed.toFixed(0)} ms`);
    // Nothing more is read once the answer is known.
    const pulled = source.pulled();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(source.pulled(), pulled);
  });

  it('stops inflating a single deflate stream of 1 GB of zeros at the limit, zlib-wrapped or raw', async () => {
    // 1 MB of zeros as non-final deflate blocks (about 1 KB); after a full flush they can be repeated at will.
    const segment = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
    for (const header of [Buffer.from([0x78, 0xda]), Buffer.alloc(0)]) {
      const source = lazySource(1024, (i) => (i === 0 ? Buffer.concat([header, segment]) : segment));
      await assert.rejects(readBody(source, { coding: 'deflate', limit: LIMIT }), (e) => assertStatus(e, 413));
      assert.ok(source.pulled() < 64, `read ${source.pulled()} of 1024 segments`);
    }
  });
});
