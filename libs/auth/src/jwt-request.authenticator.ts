import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import passport from 'passport';
import { AppConfig, InjectConfig, RequestAuthenticator } from '#platform';
import { assertTokenSize, authenticationResult } from './authentication-result';
import type { AuthenticatedPlayer } from './jwt.strategy';
import { VerifiedTokens } from './verified-tokens';

/**
 * Verifies the bearer token with the same passport-jwt strategy as JwtAuthGuard, from the headers alone: the HTTP
 * platform runs it before a body is read (registerEarlyAuthentication), and the guard then finds the player on the
 * request. A token it verified lately is taken on trust for a while (VerifiedTokens).
 */
@Injectable()
export class JwtRequestAuthenticator implements RequestAuthenticator {
  private readonly verified: VerifiedTokens;

  constructor(@InjectConfig() private readonly config: AppConfig) {
    this.verified = new VerifiedTokens(config.jwt.clockToleranceSeconds);
  }

  authenticate(request: FastifyRequest & { user?: AuthenticatedPlayer }): Promise<void> {
    const { authorization } = request.headers;
    assertTokenSize(authorization, this.config.jwt.maxTokenBytes);
    const now = Date.now();
    const known = authorization === undefined ? undefined : this.verified.find(authorization, now);
    if (known !== undefined) {
      request.user = known;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const verify = passport.authenticate(
        'jwt',
        { session: false },
        (error: unknown, user: AuthenticatedPlayer | false, info: unknown) => {
          try {
            request.user = authenticationResult(error, user, info);
            if (authorization !== undefined) this.verified.remember(authorization, request.user, now);
            resolve();
          } catch (failure) {
            reject(failure instanceof Error ? failure : new Error(String(failure)));
          }
        },
      ) as (request: unknown, response: unknown, next: (error?: unknown) => void) => void;
      verify(request, {}, (error) => reject(error instanceof Error ? error : new Error(String(error))));
    });
  }
}
