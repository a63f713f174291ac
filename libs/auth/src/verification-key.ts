import { Logger } from '@nestjs/common';
import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { JwtConfig, OutageLog } from '#platform';
import { fetchJwksDocument, JwksKeySet } from './jwks-key-set';
import type { RefusalLog } from './refusal-log';

export type KeyProvider = (request: unknown, rawToken: string, done: (error: Error | null, key?: KeyObject) => void) => void;

/**
 * The key passport-jwt verifies with. Secrets become KeyObjects: jsonwebtoken verifies HS256 about 50 times
 * faster with one than with a string. JWKS keys are looked up by `kid` in a key set fetched as a whole (JwksKeySet).
 */
export function verificationKeyProvider(jwt: JwtConfig, refusals: RefusalLog): KeyProvider {
  const { key } = jwt;
  switch (key.kind) {
    case 'secret': {
      const secret = createSecretKey(Buffer.from(key.secret, 'utf8'));
      return (_request, _token, done) => done(null, secret);
    }
    case 'public-key': {
      const publicKey = createPublicKey(key.pem);
      return (_request, _token, done) => done(null, publicKey);
    }
    case 'jwks': {
      const keySet = new JwksKeySet({
        fetchDocument: () => fetchJwksDocument(key.uri),
        refreshIntervalMs: key.refreshSeconds * 1000,
        fetchLog: new OutageLog(new Logger('Auth'), `JWKS ${key.uri} cannot be fetched, keeping the keys fetched before`),
      });
      return (_request, rawToken, done) => {
        keySet.lookup(joseHeader(rawToken)?.kid).then(
          (found) => {
            if ('key' in found) return done(null, found.key);
            refusals.refused(found.refused);
            done(new Error(found.refused));
          },
          (error: Error) => done(error),
        );
      };
    }
  }
}

/** The token's JOSE header, or undefined when it is not one. */
function joseHeader(rawToken: string): Record<string, unknown> | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(rawToken.slice(0, rawToken.indexOf('.')), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? (header as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
