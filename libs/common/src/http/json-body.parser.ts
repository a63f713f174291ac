import { isUtf8 } from 'node:buffer';
import type { Readable, Transform } from 'node:stream';
import { createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { PayloadTooLargeException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors/api-error';

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
}

/**
 * Reads a request body, decoding gzip or deflate as it arrives, and stops as soon as the received or the decoded
 * bytes pass `limit`: a decompression bomb costs no more than the limit in memory and in inflating work. On
 * failure the source is left paused with its data listener removed; what to do with the rest of it is the
 * caller's choice.
 *
 * Rejects with a 413 over the limit, a 400 `invalid_payload` (field `""`) for data that does not decode, and a 400
 * for a stream that fails or ends early.
 */
export function readBody(source: Readable, { coding, limit, contentLength }: ReadBodyOptions): Promise<Buffer> {
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

    function createDecoder(stream: Transform): Transform {
      stream.on('data', (chunk: Buffer) => {
        if (settled) return;
        decoded += chunk.length;
        if (decoded > limit) settle(tooLarge());
        else chunks.push(chunk);
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
        decoded += chunk.length;
        chunks.push(chunk);
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

function parseJsonBody(body: Buffer): { text: string; value: unknown } {
  if (body.length === 0) throw ApiError.invalidPayload([{ field: '', message: 'body is empty' }]);
  // PostgreSQL stores only valid UTF-8; a lossy decode would store replacement characters instead of refusing.
  if (!isUtf8(body)) throw ApiError.invalidPayload([{ field: '', message: 'body is not valid UTF-8' }]);
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
  }
  interface FastifyContextConfig {
    /** A route whose requests may come without a body and without a content type (Bull Board's actions). */
    playsmartBodyOptional?: boolean;
  }
}

export interface JsonBodyParserOptions {
  /** BODY_LIMIT: the most bytes a body may have, both as sent and once decompressed. */
  bodyLimit: number;
}

/**
 * Accepts only `application/json` (parameters such as charset are fine), as is or compressed with gzip or deflate
 * (Content-Encoding). Anything else, or a body-carrying request without a content type, is answered 415 before any
 * route code runs; so is a content coding other than gzip, deflate or identity.
 */
export function registerJsonBodyParser(fastify: FastifyInstance, { bodyLimit }: JsonBodyParserOptions): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', (request, payload, done) => {
    const coding = bodyCoding(request.headers['content-encoding']);
    if (coding === undefined) {
      payload.resume();
      done(new ApiError(415, 'unsupported_content_encoding', undefined, { 'accept-encoding': ACCEPTED_ENCODINGS }), undefined);
      return;
    }
    readBody(payload, { coding, limit: bodyLimit, contentLength: contentLengthOf(request) }).then(
      (body) => {
        try {
          const { text, value } = parseJsonBody(body);
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
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (
      BODY_METHODS.has(request.method) &&
      request.headers['content-type'] === undefined &&
      request.routeOptions.config?.playsmartBodyOptional !== true
    ) {
      done(new ApiError(415, 'content_type_must_be_application_json'));
      return;
    }
    done();
  });
}
