import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AppConfig, InjectConfig, IS_PUBLIC } from '#platform';
import { assertTokenSize, authenticationResult } from './authentication-result';
import type { AuthenticatedPlayer } from './jwt.strategy';

/**
 * Registered as APP_GUARD: every route requires a valid bearer token unless it is marked @Public(). The token is
 * normally verified before the body is read (JwtRequestAuthenticator); the guard then finds the player on the request,
 * and verifies the token itself otherwise.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    super();
  }

  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedPlayer }>();
    if (request.user !== undefined) return true;
    assertTokenSize(request.headers.authorization, this.config.jwt.maxTokenBytes);
    return super.canActivate(context) as Promise<boolean>;
  }

  override handleRequest<TUser = AuthenticatedPlayer>(error: unknown, user: TUser | false, info: unknown): TUser {
    return authenticationResult<TUser>(error, user, info);
  }
}
