import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { TokenExpiredError } from 'jsonwebtoken';
import { AppConfig, InjectConfig, IS_PUBLIC } from '#common';
import { AuthenticationError } from './authentication.error';
import type { AuthenticatedPlayer } from './jwt.strategy';

// passport-jwt reports a request without a bearer token with exactly this message.
const NO_TOKEN_MESSAGE = 'No auth token';

/** Registered as APP_GUARD: every route requires a valid bearer token unless it is marked @Public(). */
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
    const authorization = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
    // Refuse oversized bearer tokens before decoding them: "Bearer " plus the token. Another scheme is a missing token.
    if (authorization !== undefined && authorization.length > this.config.jwt.maxTokenBytes + 7 && /^bearer\s/i.test(authorization)) {
      throw new AuthenticationError('invalid_token');
    }
    return super.canActivate(context) as Promise<boolean>;
  }

  override handleRequest<TUser = AuthenticatedPlayer>(error: unknown, user: TUser | false, info: unknown): TUser {
    if (error instanceof AuthenticationError) throw error;
    if (user !== false && user !== undefined && user !== null && error === null) return user;
    if (info instanceof TokenExpiredError) throw new AuthenticationError('token_expired');
    if (info instanceof Error && info.message === NO_TOKEN_MESSAGE) throw new AuthenticationError('missing_token');
    throw new AuthenticationError('invalid_token');
  }
}
