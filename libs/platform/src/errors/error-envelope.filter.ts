import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config';
import { InjectConfig } from '../config/config.module';
import { describeError } from '../logging/describe-error';
import { SecurityEventLog } from '../logging/security-event-log';
import { ApiError, errorBody, ErrorBody, statusCode } from './api-error';
import { bodyTooLarge, ErrorReason } from './error-reasons';
import { REFUSAL_OBSERVER, RefusalObserver } from './refusal-observer';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
}

function isFastifyError(error: unknown): error is FastifyLikeError & Error {
  return (
    error instanceof Error && typeof (error as FastifyLikeError).code === 'string' && (error as FastifyLikeError).code!.startsWith('FST_')
  );
}

/**
 * Fixed reasons for Fastify's errors that their status alone would not explain. Fastify's own message is never used:
 * it may quote the request (`'/ingest/batches/%ZZ' is not a valid url component`).
 */
const FASTIFY_REASONS: Readonly<Record<string, ErrorReason<400 | 414>>> = {
  FST_ERR_BAD_URL: 'malformed_url',
  FST_ERR_MAX_PARAM_LENGTH: 'path_parameter_too_long',
};

/** The reason of the envelope for anything but 413 and 415, which the filter words from the configuration. */
function genericReason(status: number, exception: unknown): string {
  if (status >= 500) return 'internal_error';
  const fixed = isFastifyError(exception) ? FASTIFY_REASONS[exception.code!] : undefined;
  return fixed ?? statusCode(status).toLowerCase();
}

/** Refusals logged (throttled) as security events: unauthenticated, forbidden, too large, too many. */
const SECURITY_STATUSES = new Set([401, 403, 413, 429]);

/**
 * Owns the error envelope for every response that is not a success: Nest exceptions, errors raised by Fastify
 * while reading the body (413, 415, malformed JSON), unknown routes and unexpected failures. No stack trace
 * or internal message ever reaches the client.
 */
@Catch()
export class ErrorEnvelopeFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorEnvelope');
  private observer?: RefusalObserver | null;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly securityLog: SecurityEventLog,
    private readonly moduleRef: ModuleRef,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { status, body, headers } = this.toResponse(exception);
    if (status >= 500 && !(exception instanceof ApiError)) {
      this.logger.error({
        msg: `unexpected error answering ${request.method} ${request.routeOptions?.url ?? '(unknown route)'}: ${describeError(exception)}`,
        err: exception,
      });
      if (exception instanceof Error && exception.stack !== undefined) this.logger.debug(exception.stack);
    }
    if (SECURITY_STATUSES.has(status)) {
      this.securityLog.record({
        status,
        reason: body.error.message,
        address: request.ip,
        method: request.method,
        route: request.routeOptions?.url ?? '(unknown)',
        requestId: String(request.id),
      });
    }
    if (reply.sent) return;
    this.refusalObserver()?.refused(request, status, body.error.message);
    for (const [name, value] of Object.entries(headers)) void reply.header(name, value);
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  /** The application's RefusalObserver, looked up once: the filter is created before the modules that provide one. */
  private refusalObserver(): RefusalObserver | undefined {
    if (this.observer === undefined) {
      try {
        this.observer = this.moduleRef.get<RefusalObserver>(REFUSAL_OBSERVER, { strict: false });
      } catch {
        this.observer = null;
      }
    }
    return this.observer ?? undefined;
  }

  toResponse(exception: unknown): { status: number; body: ErrorBody; headers: Readonly<Record<string, string>> } {
    if (exception instanceof ApiError) {
      return { status: exception.getStatus(), body: exception.getResponse() as ErrorBody, headers: exception.headers };
    }
    const status = statusOf(exception);
    return { status, body: errorBody(status, this.reason(status, exception)), headers: {} };
  }

  /** Fastify's own errors (body too large, unknown content type) reach here wrapped or raw: both map by status. */
  private reason(status: number, exception: unknown): string {
    if (status === 413) return bodyTooLarge(this.config.bodyLimitBytes);
    if (status === 415) return 'content_type_must_be_application_json' satisfies ErrorReason<415>;
    return genericReason(status, exception);
  }
}

function statusOf(exception: unknown): number {
  if (exception instanceof HttpException) return exception.getStatus();
  const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
  // Only Fastify's client errors are trusted for their status; anything else unexpected is a 500.
  return isFastifyError(exception) && typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 ? statusCode : 500;
}

const frameworkLogger = new Logger('ErrorEnvelope');

/**
 * Fastify's `frameworkErrors`: the router refuses a URL it cannot decode (400) or a path parameter over its length
 * limit (414) before any hook runs, with a reply whose error handler is Fastify's default (not Nest's, so not the
 * filter above), which would echo the path. Answered here in the envelope, with the request id no hook has set.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
  headers: Record<string, string> = {},
): void {
  const status = statusOf(error);
  if (status >= 500) frameworkLogger.error(`${error.code}: ${error.message}`);
  void reply
    .status(status)
    .headers(headers)
    .header('x-request-id', request.id)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(errorBody(status, genericReason(status, error))));
}

/**
 * Fastify's `clientErrorHandler`: a request that Node's HTTP parser refuses (a malformed request line or header,
 * conflicting Content-Length headers, a header block over the size limit, a request timeout) never reaches Fastify's
 * routing or the filter above, so it is answered here, in the same envelope. The connection is then closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody left to answer (Node's documented advice for 'clientError').
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify(
    status === 400
      ? errorBody(status, 'invalid_payload', [{ field: '', message: 'the request is not valid HTTP/1.1' }])
      : errorBody(status, statusCode(status).toLowerCase()),
  );
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
