import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AppConfig } from '../config/app-config';
import { InjectConfig } from '../config/config.module';
import { ApiError, ErrorBody, errorBody } from './api-error';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
}

function isFastifyError(error: unknown): error is FastifyLikeError & Error {
  return error instanceof Error && typeof (error as FastifyLikeError).code === 'string' && (error as FastifyLikeError).code!.startsWith('FST_');
}

/**
 * Owns the error envelope for every response that is not a success: Nest exceptions, errors raised by Fastify
 * while reading the body (413, 415, malformed JSON), unknown routes and unexpected failures. No stack trace
 * or internal message ever reaches the client.
 */
@Catch()
export class ErrorEnvelopeFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorEnvelope');

  constructor(@InjectConfig() private readonly config: AppConfig) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body, headers } = this.toResponse(exception);
    if (status >= 500 && !(exception instanceof ApiError)) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    if (reply.sent) return;
    for (const [name, value] of Object.entries(headers)) void reply.header(name, value);
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  toResponse(exception: unknown): { status: number; body: ErrorBody; headers: Readonly<Record<string, string>> } {
    if (exception instanceof ApiError) {
      return { status: exception.getStatus(), body: exception.getResponse() as ErrorBody, headers: exception.headers };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return { status, body: errorBody(status, this.genericReason(status)), headers: {} };
    }
    if (isFastifyError(exception)) return this.fromFastify(exception);
    return { status: 500, body: errorBody(500, 'internal_error'), headers: {} };
  }

  private fromFastify(error: FastifyLikeError): { status: number; body: ErrorBody; headers: Record<string, string> } {
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return {
          status: HttpStatus.PAYLOAD_TOO_LARGE,
          body: errorBody(HttpStatus.PAYLOAD_TOO_LARGE, `body_too_large: the limit is ${this.config.bodyLimitBytes} bytes`),
          headers: {},
        };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return {
          status: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
          body: errorBody(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'content_type_must_be_application_json'),
          headers: {},
        };
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return { status: 400, body: errorBody(400, 'invalid_payload', [{ field: '', message: 'body is empty' }]), headers: {} };
      default: {
        const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
        return { status, body: errorBody(status, this.genericReason(status)), headers: {} };
      }
    }
  }

  private genericReason(status: number): string {
    return status >= 500 ? 'internal_error' : errorBody(status, '').error.code.toLowerCase();
  }
}
