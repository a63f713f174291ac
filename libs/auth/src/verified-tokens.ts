import type { AuthenticatedPlayer } from './jwt.strategy';

/** How long a verified token is taken on trust before its signature is checked again. */
export const TRUSTED_FOR_MS = 60_000;
/** Tokens remembered at most; the oldest goes first. */
export const MAX_TRUSTED_TOKENS = 10_000;

/**
 * Bearer tokens verified lately, by the Authorization header that carried them, with the player they name: a game
 * sends batch after batch with one token, and its signature (HMAC, or RSA/ECDSA with a key set) need not be checked
 * again for each. Only verified tokens are remembered, so an anonymous client cannot fill it. An entry is trusted
 * until the token expires (exp plus JWT_CLOCK_TOLERANCE_SECONDS, as jsonwebtoken judges it) or for TRUSTED_FOR_MS,
 * whichever is first: a key withdrawn from the key set stops accepting its tokens at most that much later than it
 * would have. Every other check of a verified token gives the same answer for the same token at a later time.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { player: AuthenticatedPlayer; until: number }>();

  constructor(
    private readonly clockToleranceSeconds: number,
    private readonly limits = { trustedForMs: TRUSTED_FOR_MS, maxTokens: MAX_TRUSTED_TOKENS },
  ) {}

  /** The player of a token verified lately and still valid at `nowMs`. */
  find(authorization: string, nowMs: number): AuthenticatedPlayer | undefined {
    const entry = this.entries.get(authorization);
    if (entry === undefined) return undefined;
    if (nowMs < entry.until) return entry.player;
    this.entries.delete(authorization);
    return undefined;
  }

  /** Remembers a token just verified at `nowMs` (its exp read from its payload, which the signature covers). */
  remember(authorization: string, player: AuthenticatedPlayer, nowMs: number): void {
    const exp = expiryOf(authorization);
    if (exp === undefined) return;
    const until = Math.min(nowMs + this.limits.trustedForMs, (exp + this.clockToleranceSeconds) * 1000);
    if (until <= nowMs) return;
    if (this.entries.size >= this.limits.maxTokens && !this.entries.has(authorization)) {
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(authorization, { player: Object.freeze({ ...player }), until });
  }
}

/** The exp claim of the bearer token in `authorization`, or undefined if it cannot be read. */
function expiryOf(authorization: string): number | undefined {
  const token = authorization.slice(authorization.lastIndexOf(' ') + 1);
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}
