import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminConfig } from '../config/app-config';

export const BASIC_AUTH_REALM = 'PlaySmart Ingest';

// RFC 7617: "Basic", then the base64 of "user:password". Anything longer than this is not a credential we issued.
const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;
const MAX_HEADER_LENGTH = 4096;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Checks an Authorization header against the configured credentials. User and password are each compared as SHA-256
 * digests with timingSafeEqual: equal-length buffers whatever was sent, so the time taken tells nothing about how much
 * of either matched or how long they are. Both are always compared.
 */
export function basicAuthVerifier({ user, password }: AdminConfig): (authorization: string | undefined) => boolean {
  const expectedUser = sha256(user);
  const expectedPassword = sha256(password);
  return (authorization) => {
    if (authorization === undefined || authorization.length > MAX_HEADER_LENGTH) return false;
    const match = BASIC.exec(authorization);
    if (match === null) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const userMatches = timingSafeEqual(sha256(decoded.slice(0, colon)), expectedUser);
    const passwordMatches = timingSafeEqual(sha256(decoded.slice(colon + 1)), expectedPassword);
    return userMatches && passwordMatches;
  };
}
