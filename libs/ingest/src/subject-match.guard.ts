import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedPlayer } from '#auth';
import { ApiError } from '#platform';

/**
 * Runs after authentication and before validation: a player may only send events as themselves, and, when the token
 * names a game (JWT_GAME_CLAIM), only for that game. A missing or non-string user_id or game_id is left to
 * validation (400).
 */
@Injectable()
export class SubjectMatchGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedPlayer }>();
    const body = request.body as { user_id?: unknown; game_id?: unknown } | null | undefined;
    const { user_id: userId, game_id: gameId } = typeof body === 'object' && body !== null ? body : {};
    if (typeof userId === 'string' && userId !== request.user?.sub) {
      throw new ApiError(HttpStatus.FORBIDDEN, 'user_id_mismatch');
    }
    const game = request.user?.game;
    if (typeof gameId === 'string' && game !== undefined && gameId !== game) {
      throw new ApiError(HttpStatus.FORBIDDEN, 'game_id_mismatch');
    }
    return true;
  }
}
