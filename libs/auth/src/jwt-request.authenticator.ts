import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import passport from 'passport';
import { AppConfig, InjectConfig, RequestAuthenticator } from '#platform';
import { assertTokenSize, authenticationResult } from './authentication-result';
import type { AuthenticatedPlayer } from './jwt.strategy';

/**
 * Verifies the bearer token with the same passport-jwt strategy as JwtAuthGuard, from the headers alone: the HTTP
 * platform runs it before a body is read (registerEarlyAuthentication), and the guard then finds the player on the
 * request.
 */
@Injectable()
export class JwtRequestAuthenticator implements RequestAuthenticator {
  constructor(@InjectConfig() private readonly config: AppConfig) {}

  authenticate(request: FastifyRequest & { user?: AuthenticatedPlayer }): Promise<void> {
    assertTokenSize(request.headers.authorization, this.config.jwt.maxTokenBytes);
    return new Promise((resolve, reject) => {
      const verify = passport.authenticate(
        'jwt',
        { session: false },
        (error: unknown, user: AuthenticatedPlayer | false, info: unknown) => {
          try {
            request.user = authenticationResult(error, user, info);
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
