import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '#common';
import type { AuthenticatedPlayer } from './jwt.strategy';

/**
 * Runs after authentication and before validation: a player may only send events as themselves.
 * A missing or non-string user_id is left to validation (400).
 */
@Injectable()
export class SubjectMatchGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedPlayer }>();
    const body = request.body as { user_id?: unknown } | null | undefined;
    const userId = typeof body === 'object' && body !== null ? body.user_id : undefined;
    if (typeof userId === 'string' && userId !== request.user?.sub) {
      throw new ApiError(HttpStatus.FORBIDDEN, 'user_id_mismatch');
    }
    return true;
  }
}
