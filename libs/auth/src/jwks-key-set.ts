import { createPublicKey, JsonWebKey, KeyObject } from 'node:crypto';

/**
 * The kids this service looks up. RFC 7515 allows any string; providers use base64/base64url thumbprints, hex, UUIDs
 * and dotted names, all within these characters and lengths. Anything else is refused without a fetch.
 */
export const WELL_FORMED_KID = /^[A-Za-z0-9._~+/=-]{1,128}$/;

/** The key set is refreshed on its next use once it is this old, to drop keys the provider has withdrawn. */
const MAX_AGE_MS = 10 * 60 * 1000;

export type KeyLookup = { key: KeyObject } | { refused: string };

export interface JwksKeySetOptions {
  /** Fetches the JWKS document; rejects on any failure. */
  fetchDocument: () => Promise<unknown>;
  /** Fetches start at most this often, whatever the tokens' kids ask for. */
  refreshIntervalMs: number;
  now?: () => number;
  /** Told of every failed fetch and of the next one that succeeds. */
  fetchLog?: { failed(cause: unknown): void; recovered(): void };
}

/**
 * A JWKS key set fetched as a whole, on its own budget: a token with an unknown kid starts a fetch only when none
 * has started within the refresh interval, and every request waiting for keys shares the one fetch in flight. So a
 * flood of forged kids costs the provider one request per interval, and a key it publishes is found within one.
 */
export class JwksKeySet {
  private keys = new Map<string, KeyObject>();
  private fetchedAt?: number;
  private lastFetchStartedAt?: number;
  private inFlight?: Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: JwksKeySetOptions) {
    this.now = options.now ?? Date.now;
  }

  async lookup(kid: unknown): Promise<KeyLookup> {
    if (typeof kid !== 'string') return { refused: 'no kid in the token header' };
    if (!WELL_FORMED_KID.test(kid)) return { refused: 'malformed kid (not looked up)' };
    const known = this.keys.get(kid);
    if (known !== undefined) {
      if (this.fetchedAt !== undefined && this.now() - this.fetchedAt >= MAX_AGE_MS) void this.refresh();
      return { key: known };
    }
    if (this.inFlight === undefined && !this.mayFetch()) {
      return { refused: 'unknown kid (key set fetched within JWT_JWKS_REFRESH_SECONDS)' };
    }
    await this.refresh();
    const key = this.keys.get(kid);
    return key === undefined ? { refused: 'unknown kid (not in the key set)' } : { key };
  }

  /** Joins the fetch in flight, or starts one if the budget allows. Never rejects. */
  private refresh(): Promise<void> {
    if (this.inFlight !== undefined) return this.inFlight;
    if (!this.mayFetch()) return Promise.resolve();
    this.lastFetchStartedAt = this.now();
    this.inFlight = this.fetchKeys().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private mayFetch(): boolean {
    return this.lastFetchStartedAt === undefined || this.now() - this.lastFetchStartedAt >= this.options.refreshIntervalMs;
  }

  private async fetchKeys(): Promise<void> {
    try {
      this.keys = signingKeys(await this.options.fetchDocument());
      this.fetchedAt = this.now();
      this.options.fetchLog?.recovered();
    } catch (error) {
      // The keys fetched before stay in use.
      this.options.fetchLog?.failed(error);
    }
  }
}

/** The signing keys of a JWKS document by kid; keys without a well-formed kid, for encryption, or unreadable are left out. */
export function signingKeys(document: unknown): Map<string, KeyObject> {
  const entries = (document as { keys?: unknown } | null | undefined)?.keys;
  if (!Array.isArray(entries)) throw new Error('the JWKS document has no "keys" array');
  const keys = new Map<string, KeyObject>();
  for (const entry of entries as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { kid, use } = entry as { kid?: unknown; use?: unknown };
    if (typeof kid !== 'string' || !WELL_FORMED_KID.test(kid) || (use !== undefined && use !== 'sig')) continue;
    try {
      const key = createPublicKey({ key: entry as JsonWebKey, format: 'jwk' });
      keys.set(kid, key);
    } catch {
      // A key node cannot read (a symmetric one, an unknown curve) is one no token can be verified with here.
    }
  }
  return keys;
}

/** GETs a JWKS document over HTTP(S), bounded in time; redirects are refused (they could leave https). */
export async function fetchJwksDocument(uri: string, timeoutMs = 5000): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(uri, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    throw new Error(`GET ${uri} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause: error });
  }
  if (!response.ok) {
    // Unread, the body would keep its connection checked out of the pool.
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`GET ${uri} answered ${response.status}`);
  }
  try {
    return await response.json();
  } catch (error) {
    throw new Error(`GET ${uri} answered with something other than JSON`, { cause: error });
  }
}
