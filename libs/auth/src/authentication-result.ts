import { TokenExpiredError } from 'jsonwebtoken';
import { AuthenticationError } from './authentication.error';
import type { AuthenticatedPlayer } from './jwt.strategy';

// passport-jwt reports a request without a bearer token with exactly this message.
const NO_TOKEN_MESSAGE = 'No auth token';

/** The player passport-jwt authenticated, or the 401 to answer: what passport's callback hands over, mapped. */
export function authenticationResult<T = AuthenticatedPlayer>(error: unknown, user: T | false | null | undefined, info: unknown): T {
  if (error instanceof AuthenticationError) throw error;
  if (user !== false && user !== undefined && user !== null && (error === null || error === undefined)) return user;
  if (info instanceof TokenExpiredError) throw new AuthenticationError('token_expired');
  if (info instanceof Error && info.message === NO_TOKEN_MESSAGE) throw new AuthenticationError('missing_token');
  throw new AuthenticationError('invalid_token');
}

/** Refuses an oversized bearer token before it is decoded: "Bearer " plus the token. Another scheme is a missing token. */
export function assertTokenSize(authorization: string | undefined, maxTokenBytes: number): void {
  if (authorization !== undefined && authorization.length > maxTokenBytes + 7 && /^bearer\s/i.test(authorization)) {
    throw new AuthenticationError('invalid_token');
  }
}
