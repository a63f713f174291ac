export const LOGIN_WINDOW_MS = 60_000;
/** Clients whose failures are remembered at once: beyond, the oldest are forgotten first. */
const MAX_CLIENTS = 10_000;

/**
 * Failed logins per client (an address, or an IPv6 network) within a sliding minute. After `maxFailures` of them the
 * client is refused, correct credentials or not, until the oldest of those failures is a minute old: a password
 * cannot be guessed faster than `maxFailures` a minute from one client, per process. A success forgets the failures.
 */
export class LoginThrottle {
  /** The times of each client's recent failures, oldest first, at most `maxFailures` of them. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whole seconds (≥ 1) until `client` may try again, or 0 when it may try now. */
  retryAfterSeconds(client: string): number {
    const now = this.now();
    const recent = this.recent(client, now);
    if (recent.length < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((recent[0] + LOGIN_WINDOW_MS - now) / 1000));
  }

  failed(client: string): void {
    const now = this.now();
    const recent = [...this.recent(client, now), now].slice(-this.maxFailures);
    this.failures.delete(client);
    this.failures.set(client, recent);
    if (this.failures.size > MAX_CLIENTS) this.forgetOldest(now);
  }

  succeeded(client: string): void {
    this.failures.delete(client);
  }

  private recent(client: string, now: number): number[] {
    return (this.failures.get(client) ?? []).filter((at) => now - at < LOGIN_WINDOW_MS);
  }

  /** Drops the clients with no failure left in the window, then, if still too many, those that failed least recently. */
  private forgetOldest(now: number): void {
    for (const [client, times] of this.failures) if (now - times[times.length - 1] >= LOGIN_WINDOW_MS) this.failures.delete(client);
    for (const client of this.failures.keys()) {
      if (this.failures.size <= MAX_CLIENTS) break;
      this.failures.delete(client);
    }
  }
}
