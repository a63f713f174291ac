import { HttpException, HttpStatus } from '@nestjs/common';

export interface ErrorDetail {
  /** Path of the failing field in bracket form (`events[1].type`); `""` is the body as a whole. */
  field: string;
  message: string;
}

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    details?: ErrorDetail[];
  };
}

/** `HttpStatus.PAYLOAD_TOO_LARGE` -> `PAYLOAD_TOO_LARGE`: the code is always the status name. */
export function statusCode(status: number): string {
  const name = (HttpStatus as unknown as Record<number, string | undefined>)[status];
  return name ?? (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST');
}

export function errorBody(status: number, message: string, details?: ErrorDetail[]): ErrorBody {
  return { error: details === undefined ? { code: statusCode(status), message } : { code: statusCode(status), message, details } };
}

/**
 * The exception gateway code throws for a client-facing error. The exception filter turns it into the envelope;
 * code that the worker runs never throws it.
 */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly reason: string,
    readonly details?: ErrorDetail[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(errorBody(status, reason, details), status);
  }

  static invalidPayload(details: ErrorDetail[]): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, 'invalid_payload', details);
  }

  static unavailable(reason: string, retryAfterSeconds: number): ApiError {
    return new ApiError(HttpStatus.SERVICE_UNAVAILABLE, reason, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
}
