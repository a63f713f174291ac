import type { JwtConfig } from '#platform';
import type { AuthenticatedPlayer } from './jwt.strategy';

/** What jsonwebtoken hands over with `complete: true`, once it has verified the signature, exp, nbf, iss and aud. */
export interface VerifiedToken {
  header: { typ?: unknown };
  payload: unknown;
}

/** The player the token names, or why it is refused: a fixed text, safe to log. */
export type ClaimCheck = { player: AuthenticatedPlayer } | { refused: string };

/** RFC 7515 §4.1.9: a `typ` without "/" means "application/" + it; media types compare case-insensitively. */
export function normalizedMediaType(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/** The checks of a verified token that jsonwebtoken does not make (RFC 8725 §3.10, §3.11), and the game it is for. */
export function checkClaims({ header, payload }: VerifiedToken, jwt: JwtConfig, nowSeconds: number): ClaimCheck {
  if (jwt.type !== undefined && (typeof header.typ !== 'string' || normalizedMediaType(header.typ) !== normalizedMediaType(jwt.type))) {
    return { refused: `typ is not ${jwt.type} (JWT_TYPE)` };
  }
  if (typeof payload !== 'object' || payload === null) return { refused: 'the payload is not a JSON object' };
  const { exp, sub } = payload as Record<string, unknown>;
  // jsonwebtoken accepts tokens without exp; ours must expire, and not in a hundred years.
  if (typeof exp !== 'number') return { refused: 'no exp' };
  if (exp - nowSeconds > jwt.maxLifetimeSeconds + jwt.clockToleranceSeconds) {
    return { refused: `exp lies more than JWT_MAX_LIFETIME_SECONDS (${jwt.maxLifetimeSeconds} s) ahead` };
  }
  if (typeof sub !== 'string' || sub === '') return { refused: 'sub is missing, empty or not a string' };
  if (jwt.gameClaim === undefined || !Object.hasOwn(payload, jwt.gameClaim)) {
    return jwt.requireGameClaim ? { refused: `no ${jwt.gameClaim} claim (JWT_REQUIRE_GAME_CLAIM)` } : { player: { sub } };
  }
  const game = (payload as Record<string, unknown>)[jwt.gameClaim];
  if (typeof game !== 'string' || game === '') return { refused: `the ${jwt.gameClaim} claim is not a non-empty string` };
  return { player: { sub, game } };
}
