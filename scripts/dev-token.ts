import { createSecretKey } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import type { JwtConfig } from '#platform';

/**
 * A token signed with the configured JWT_SECRET, as the service checks it (algorithm, `typ`, issuer, audience, the
 * JWT_GAME_CLAIM claim when `game` is given): `npm run token` and `npm run demo`. Undefined with a public key or a JWKS.
 */
export function signDevToken(jwt: JwtConfig, sub: string, lifetimeSeconds: number, game?: string): string | undefined {
  if (jwt.key.kind !== 'secret') return undefined;
  const claims = game === undefined || jwt.gameClaim === undefined ? { sub } : { sub, [jwt.gameClaim]: game };
  return sign(claims, createSecretKey(Buffer.from(jwt.key.secret, 'utf8')), {
    algorithm: jwt.algorithms[0],
    expiresIn: lifetimeSeconds,
    ...(jwt.type === undefined ? {} : { header: { alg: jwt.algorithms[0], typ: jwt.type } }),
    ...(jwt.issuer === undefined ? {} : { issuer: jwt.issuer }),
    ...(jwt.audience === undefined ? {} : { audience: jwt.audience }),
  });
}
