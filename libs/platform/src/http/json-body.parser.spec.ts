import assert from 'node:assert/strict';
import { getDefaultHighWaterMark, Readable } from 'node:stream';
import { describe, it, mock } from 'node:test';
import { constants, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { HttpException } from '@nestjs/common';
import { ApiError, ErrorBody } from '../errors/api-error';
import { bodyCoding, BytesInFlight, readBody, ReadBodyOptions, registerJsonBodyParser } from './json-body.parser';
import Fastify, { FastifyInstance } from 'fastify';

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

/**
 * How many chunks of `size` bytes reading may run ahead of inflating: the source's buffer and the decoder's, each of
 * Node's default size (16 KB on Node 20, 64 KB from Node 22 on), and as much again for slack.
 */
const readAhead = (size: number): number => Math.ceil((4 * getDefaultHighWaterMark(false)) / size);

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
    await assert.rejects(readBody(source, { coding: 'gzip', limit: LIMIT }), (e) => assertStatus(e, 413));
    // Reading runs ahead of inflating by at most the stream buffers (some tens of KB here, each KB worth 1 MB).
    assert.ok(source.pulled() < readAhead(member.length), `read ${source.pulled()} of 1024 members`);
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
      assert.ok(source.pulled() < readAhead(segment.length), `read ${source.pulled()} of 1024 segments`);
    }
  });
});

describe('BytesInFlight: body bytes per client address', () => {
  it('holds a client to its share across its requests, and frees it as they end', () => {
    const inFlight = new BytesInFlight(100, 56);
    const first = inFlight.open('203.0.113.7');
    const second = inFlight.open('::ffff:203.0.113.7');
    assert.equal(first.take(60), true);
    assert.equal(second.take(40), true);
    assert.equal(second.take(1), false, 'the same client (IPv4-mapped), over its share');
    assert.equal(inFlight.open('198.51.100.1').take(100), true, 'another client has its own share');
    first.close();
    assert.equal(inFlight.heldBy('203.0.113.7'), 40);
    assert.equal(second.take(60), true);
    second.close();
    second.close();
    assert.equal(inFlight.heldBy('203.0.113.7'), 0, 'closing twice frees once');
  });

  it('counts an IPv6 client by its network of the prefix it is given, as the rate limit does', () => {
    const per56 = new BytesInFlight(100, 56);
    assert.equal(per56.open('2001:db8:0:100::1').take(100), true);
    assert.equal(per56.open('2001:db8:0:1ff::1').take(1), false, 'another /64 of the same /56');
    assert.equal(per56.open('2001:db8:0:200::1').take(1), true, 'the next /56');
    const per64 = new BytesInFlight(100, 64);
    assert.equal(per64.open('2001:db8:0:100::1').take(100), true);
    assert.equal(per64.open('2001:db8:0:1ff::1').take(1), true, 'another /64');
  });

  it('counts the decoded bytes of a compressed body, which are what it holds', async () => {
    const account = new BytesInFlight(LIMIT / 2 + 1000, 56).open('203.0.113.7');
    const bomb = gzipSync(Buffer.alloc(LIMIT / 2));
    await read(bomb, { coding: 'gzip', take: account.take });
    await assert.rejects(read(bomb, { coding: 'gzip', take: account.take }), (error) => {
      assertStatus(error, 429);
      assert.deepEqual((error as ApiError).getResponse(), { error: { code: 'TOO_MANY_REQUESTS', message: 'too_many_bytes_in_flight' } });
      return true;
    });
  });
});

describe('registerJsonBodyParser: nesting depth is checked on the bytes, before JSON.parse', () => {
  const rules = { maxDepth: 8, tooDeep: (path: string) => ({ field: path, message: 'too deep here' }) };

  async function server(): Promise<FastifyInstance> {
    const app = Fastify();
    registerJsonBodyParser(app, { bodyLimit: 4 << 20, bytesInFlightPerClient: 8 << 20, ipv6Prefix: 56, rules });
    app.post('/', (request) => ({ received: typeof request.body }));
    app.setErrorHandler((error: HttpException, _request, reply) => reply.status(error.getStatus()).send(error.getResponse()));
    await app.ready();
    return app;
  }

  it('refuses half a million nested arrays (1 MB, 1 KB gzipped) with the rules’ 400, without parsing them', async () => {
    const app = await server();
    const parse = mock.method(JSON, 'parse');
    try {
      const deep = gzipSync('['.repeat(500_000) + ']'.repeat(500_000));
      const response = await app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: deep,
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json<ErrorBody>().error.details, [{ field: '[0][0][0][0][0][0][0][0]', message: 'too deep here' }]);
      assert.equal(parse.mock.callCount(), 1, 'JSON.parse ran only for the test reading the answer');
      const shallow = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload: '[[[1]]]' });
      assert.equal(shallow.statusCode, 200);
    } finally {
      parse.mock.restore();
      await app.close();
    }
  });
});
