import { STATUS_CODES } from 'node:http';
import { HttpException, HttpStatus } from '@nestjs/common';
import type { ErrorReason } from './error-reasons';

export interface ErrorDetail {
  /** Path of the failing field in bracket form (`events[1].type`); `""` is the body as a whole. */
  field: string;
  message: string;
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * `path` extended by an object key or an array index, in the bracket form of `ErrorDetail.field`: `user_id`,
 * `events[1].type`. A key that is not a plain name is quoted, `[""]` or `events[0]["a.b"]`, so that no key can
 * read as another path or as `""`, the body as a whole.
 */
export function fieldPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (!PLAIN_KEY.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** The envelope of every error answer; ErrorEnvelopeDto describes it in the OpenAPI document. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    details?: ErrorDetail[];
  };
}

/**
 * `HttpStatus.PAYLOAD_TOO_LARGE` -> `PAYLOAD_TOO_LARGE`: the code is always the status name. A status Nest has no
 * name for (431 Request Header Fields Too Large) takes Node's reason phrase in the same form.
 */
export function statusCode(status: number): string {
  const name = (HttpStatus as unknown as Record<number, string | undefined>)[status];
  const phrase = STATUS_CODES[status];
  return (
    name ??
    (phrase === undefined ? undefined : phrase.toUpperCase().replace(/[^A-Z0-9]+/g, '_')) ??
    (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST')
  );
}

/** The envelope for `status`; its message is a reason of ERROR_REASONS where the status has any. */
export function errorBody<S extends number>(status: S, message: ErrorReason<S>, details?: ErrorDetail[]): ErrorBody {
  return { error: details === undefined ? { code: statusCode(status), message } : { code: statusCode(status), message, details } };
}

/**
 * The exception gateway code throws for a client-facing error. The exception filter turns it into the envelope;
 * code that the worker runs never throws it.
 */
export class ApiError<S extends number = number> extends HttpException {
  constructor(
    status: S,
    readonly reason: ErrorReason<S>,
    readonly details?: ErrorDetail[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(errorBody(status, reason, details), status);
  }

  static invalidPayload(details: ErrorDetail[]): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, 'invalid_payload', details);
  }

  static unavailable(reason: ErrorReason<503>, retryAfterSeconds: number): ApiError {
    return new ApiError(HttpStatus.SERVICE_UNAVAILABLE, reason, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
}
