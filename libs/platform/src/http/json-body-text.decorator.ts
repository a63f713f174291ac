import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/**
 * The text of the request's JSON body as received (decompressed), beside the parsed and validated `@Body()`: for a
 * handler that passes the body on as it is.
 */
export const JsonBodyText = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string | undefined => context.switchToHttp().getRequest<FastifyRequest>().jsonBodyText,
);
