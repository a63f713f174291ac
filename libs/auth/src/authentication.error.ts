import { HttpStatus } from '@nestjs/common';
import { ApiError } from '#platform';

export type AuthenticationFailure = 'missing_token' | 'token_expired' | 'invalid_token';

export class AuthenticationError extends ApiError {
  constructor(reason: AuthenticationFailure) {
    super(HttpStatus.UNAUTHORIZED, reason, undefined, {
      'www-authenticate': `Bearer error="${reason === 'missing_token' ? 'invalid_request' : 'invalid_token'}"`,
    });
  }
}
