import { isUtf8 } from 'node:buffer';
import type { Readable, Transform } from 'node:stream';
import { createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { PayloadTooLargeException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, ErrorDetail } from '../errors/api-error';
import { clientAddress, normalizeAddress } from '../net/client-address';
import { firstTooDeep } from './json-depth';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** The content codings a body may arrive in. `x-gzip` is gzip's old name (RFC 9110 §8.4.1.3). */
export type BodyCoding = 'identity' | 'gzip' | 'deflate';

const CODINGS: Readonly<Record<string, BodyCoding>> = { identity: 'identity', gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate' };

/** Sent with a 415 for an unsupported content coding, as RFC 9110 §12.5.3 asks. */
export const ACCEPTED_ENCODINGS = 'gzip, deflate';

/**
 * The coding named by a Content-Encoding header, or undefined when it is not supported: an unknown coding, or
 * more than one coding stacked (`gzip, gzip`). `identity` and an absent or empty header mean no coding.
 */
export function bodyCoding(header: string | string[] | undefined): BodyCoding | undefined {
  const names = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'identity');
  if (names.length === 0) return 'identity';
  return names.length === 1 && Object.hasOwn(CODINGS, names[0]) ? CODINGS[names[0]] : undefined;
}

/** The answer for a body over the limit: the error filter words every 413 the same way, from the configured limit. */
const tooLarge = (): Error => new PayloadTooLargeException();

const unreadable = (message: string): ApiError => ApiError.invalidPayload([{ field: '', message }]);

/** RFC 1950: a zlib stream starts with CM = 8, CINFO ≤ 7 and a header check that makes the first two bytes a multiple of 31. */
function hasZlibHeader(bytes: Buffer): boolean {
  return (bytes[0] & 0x0f) === 8 && bytes[0] >> 4 <= 7 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
}

export interface ReadBodyOptions {
  coding: BodyCoding;
  /** The most bytes accepted, both as received and once decoded. */
  limit: number;
  /** The Content-Length header, when there is one: a body that is longer is refused before it is read. */
  contentLength?: number;
  /** Asked for each decoded chunk before it is kept: false refuses the body (429, too many bytes in flight). */
  take?: (bytes: number) => boolean;
}

/** The answer for a client whose bodies in flight already hold its share of memory. */
const tooManyBytesInFlight = (): ApiError => new ApiError(429, 'too_many_bytes_in_flight', undefined, { 'retry-after': '1' });

/**
 * Reads a request body, decoding gzip or deflate as it arrives, and stops as soon as the received or the decoded
 * bytes pass `limit`: a decompression bomb costs no more than the limit in memory and in inflating work. On
 * failure the source is left paused with its data listener removed; what to do with the rest of it is the
 * caller's choice.
 *
 * Rejects with a 413 over the limit, a 400 `invalid_payload` (field `""`) for data that does not decode, and a 400
 * for a stream that fails or ends early.
 */
export function readBody(source: Readable, { coding, limit, contentLength, take }: ReadBodyOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    if (contentLength !== undefined && contentLength > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let decoded = 0;
    let settled = false;
    // For deflate, the first bytes say whether the data is zlib-wrapped (RFC 9110) or raw (some clients).
    let head: Buffer[] | undefined = coding === 'deflate' ? [] : undefined;
    let decoder: Transform | undefined = coding === 'gzip' ? createDecoder(createGunzip()) : undefined;

    function settle(error: Error | undefined): void {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.off('end', onEnd);
      if (error === undefined) {
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, decoded));
        return;
      }
      source.pause();
      decoder?.destroy();
      reject(error);
    }

    /** Keeps a chunk of the decoded body, unless it takes the body past its limit or its client past its share. */
    function keep(chunk: Buffer): void {
      decoded += chunk.length;
      if (decoded > limit) settle(tooLarge());
      else if (take?.(chunk.length) === false) settle(tooManyBytesInFlight());
      else chunks.push(chunk);
    }

    function createDecoder(stream: Transform): Transform {
      stream.on('data', (chunk: Buffer) => {
        if (!settled) keep(chunk);
      });
      stream.on('end', () => settle(undefined));
      stream.on('error', () => settle(unreadable(`body is not valid ${coding} data`)));
      // Inflating runs ahead of reading only as far as the decoder's buffer allows.
      stream.on('drain', () => {
        if (!settled) source.resume();
      });
      return stream;
    }

    function write(chunk: Buffer): void {
      if (decoder === undefined) {
        keep(chunk);
      } else if (!decoder.write(chunk)) {
        source.pause();
      }
    }

    function startDeflate(): void {
      const bytes = Buffer.concat(head!);
      head = undefined;
      decoder = createDecoder(bytes.length >= 2 && hasZlibHeader(bytes) ? createInflate() : createInflateRaw());
      if (bytes.length > 0) write(bytes);
    }

    function onData(chunk: Buffer | string): void {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > limit) {
        settle(tooLarge());
        return;
      }
      if (head !== undefined) {
        head.push(bytes);
        if (received >= 2) startDeflate();
        return;
      }
      write(bytes);
    }

    function onEnd(): void {
      if (settled) return;
      if (contentLength !== undefined && received !== contentLength) {
        settle(unreadable('body length does not match Content-Length'));
        return;
      }
      if (head !== undefined) startDeflate();
      if (decoder === undefined) settle(undefined);
      // The decoder's own end (or error) settles once it has flushed everything.
      else decoder.end();
    }

    source.on('data', onData);
    source.on('end', onEnd);
    // Kept after settling: a request that fails later must not become an unhandled 'error' event.
    source.on('error', () => settle(unreadable('body could not be read')));
    source.on('close', () => {
      if (!source.readableEnded) settle(unreadable('body could not be read'));
    });
    source.resume();
  });
}

/**
 * How deep a JSON body may nest, checked on its bytes before it is parsed, and how to word a body that nests deeper.
 * An application that takes bodies provides its own (JSON_BODY_RULES); GENERIC_JSON_BODY_RULES serves the others.
 */
export interface JsonBodyRules {
  maxDepth: number;
  /** The error for the first container nested deeper than maxDepth, at `path` (as ErrorDetail.field writes it). */
  tooDeep(path: string): ErrorDetail;
}

export const JSON_BODY_RULES = Symbol('JSON_BODY_RULES');

export const GENERIC_JSON_BODY_RULES: JsonBodyRules = {
  maxDepth: 64,
  tooDeep: (path) => ({ field: path, message: 'is nested too deeply' }),
};

function parseJsonBody(body: Buffer, rules: JsonBodyRules): { text: string; value: unknown } {
  if (body.length === 0) throw ApiError.invalidPayload([{ field: '', message: 'body is empty' }]);
  // PostgreSQL stores only valid UTF-8; a lossy decode would store replacement characters instead of refusing.
  if (!isUtf8(body)) throw ApiError.invalidPayload([{ field: '', message: 'body is not valid UTF-8' }]);
  // Before JSON.parse, which would build every level of a body of half a million nested brackets first.
  const tooDeep = firstTooDeep(body, rules.maxDepth);
  if (tooDeep !== undefined) throw ApiError.invalidPayload([rules.tooDeep(tooDeep)]);
  const text = body.toString('utf8');
  try {
    // JSON.parse defines "__proto__" as an own data property, never as the prototype, so it cannot pollute.
    return { text, value: JSON.parse(text) as unknown };
  } catch {
    throw ApiError.invalidPayload([{ field: '', message: 'body is not valid JSON' }]);
  }
}

function contentLengthOf(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined || !/^\d+$/.test(header) ? undefined : Number(header);
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The text of a JSON body, as received (decompressed): what was parsed into `body`. */
    jsonBodyText?: string;
    /** The bytes this request's body holds of its client's share (BytesInFlight). */
    playsmartBodyAccount?: { close: () => void };
  }
  interface FastifyContextConfig {
    /** A route whose requests may come without a body and without a content type (Bull Board's actions). */
    playsmartBodyOptional?: boolean;
  }
}

export interface JsonBodyParserOptions {
  /** BODY_LIMIT: the most bytes a body may have, both as sent and once decompressed. */
  bodyLimit: number;
  /** BODY_BYTES_IN_FLIGHT_PER_CLIENT: body bytes one client address may hold at once, across its requests. */
  bytesInFlightPerClient: number;
  /** RATE_LIMIT_IPV6_PREFIX: an IPv6 client is its network of this many bits. */
  ipv6Prefix: number;
  rules: JsonBodyRules;
}

/**
 * Body bytes held per client address (an IPv6 client by its network, as the rate limit counts it), from the first
 * byte received until the answer is sent: many slow or concurrent uploads from one client cannot hold more memory
 * than its share.
 */
export class BytesInFlight {
  private readonly held = new Map<string, number>();

  constructor(
    private readonly perClient: number,
    private readonly ipv6Prefix: number,
  ) {}

  /** An account for one request's body: `take` as bytes arrive, `close` once it is answered. */
  open(address: string): { take: (bytes: number) => boolean; close: () => void } {
    const client = normalizeAddress(address, this.ipv6Prefix);
    let taken = 0;
    return {
      take: (bytes) => {
        const total = (this.held.get(client) ?? 0) + bytes;
        if (total > this.perClient) return false;
        this.held.set(client, total);
        taken += bytes;
        return true;
      },
      close: () => {
        if (taken === 0) return;
        const left = (this.held.get(client) ?? 0) - taken;
        taken = 0;
        if (left > 0) this.held.set(client, left);
        else this.held.delete(client);
      },
    };
  }

  /** Bytes held by `address`'s client now. */
  heldBy(address: string): number {
    return this.held.get(normalizeAddress(address, this.ipv6Prefix)) ?? 0;
  }
}

/**
 * Accepts only `application/json` (parameters such as charset are fine), as is or compressed with gzip or deflate
 * (Content-Encoding). Anything else, or a body-carrying request without a content type, is answered 415 before any
 * route code runs; so is a content coding other than gzip, deflate or identity.
 */
export function registerJsonBodyParser(
  fastify: FastifyInstance,
  { bodyLimit, bytesInFlightPerClient, ipv6Prefix, rules }: JsonBodyParserOptions,
): void {
  const inFlight = new BytesInFlight(bytesInFlightPerClient, ipv6Prefix);
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', (request, payload, done) => {
    const account = inFlight.open(clientAddress(request));
    request.playsmartBodyAccount = account;
    // An answered request frees its bytes in onResponse; one that never is (a timeout, an abort) when it closes.
    request.raw.once('close', account.close);
    // The content coding was checked in onRequest.
    const coding = bodyCoding(request.headers['content-encoding']) ?? 'identity';
    readBody(payload, { coding, limit: bodyLimit, contentLength: contentLengthOf(request), take: account.take }).then(
      (body) => {
        try {
          const { text, value } = parseJsonBody(body, rules);
          request.jsonBodyText = text;
          done(null, value);
        } catch (error) {
          done(error as Error, undefined);
        }
      },
      (error: Error) => {
        // As Fastify does for its own limit: the rest is read and dropped, never decoded, and the connection closes
        // after the answer, so that the client sees the answer rather than a reset.
        payload.resume();
        done(error, undefined);
      },
    );
  });
  fastify.addHook('onResponse', (request, _reply, done) => {
    request.playsmartBodyAccount?.close();
    done();
  });
  // The headers alone decide these, before anything else looks at the request (a token included).
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (!BODY_METHODS.has(request.method) || request.routeOptions.config?.playsmartBodyOptional === true) {
      done();
      return;
    }
    const type = request.headers['content-type'];
    if (type === undefined || type.split(';')[0].trim().toLowerCase() !== 'application/json') {
      done(new ApiError(415, 'content_type_must_be_application_json'));
      return;
    }
    if (bodyCoding(request.headers['content-encoding']) === undefined) {
      done(new ApiError(415, 'unsupported_content_encoding', undefined, { 'accept-encoding': ACCEPTED_ENCODINGS }));
      return;
    }
    done();
  });
}
