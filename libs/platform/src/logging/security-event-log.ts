import type { LoggerService } from '@nestjs/common';
import { normalizeAddress } from '../net/client-address';

/** A refusal worth an operator's attention: 401, 403, 413, 429, a failed admin login. */
export interface SecurityEvent {
  status: number;
  /** The envelope's message (`invalid_token`, `rate_limited`, …), or `admin_login_failed`. */
  reason: string;
  /** The client address (`request.ip`). */
  address: string;
  method: string;
  /** The route pattern (`/ingest/events`), never the URL. */
  route: string;
  requestId: string;
}

export const SECURITY_WINDOW_MS = 60_000;
/** Lines per minute at most, however many clients: a flood from many addresses is counted, not written. */
export const SECURITY_LINES_PER_WINDOW = 100;

/**
 * Logs refusals at warn, throttled so that a flood cannot flood the log: at most one line per minute for each reason
 * and client (an IPv6 client by its network, as the rate limit counts it), at most SECURITY_LINES_PER_WINDOW lines a
 * minute in all, and one summary line a minute counting, by status and reason, the events that were not written.
 * A line names the client address, method, route, reason and request id; never a header, token or body.
 */
export class SecurityEventLog {
  /** When each (status, reason, client) last had a line: entries older than the window are dropped at each flush. */
  private readonly lastLine = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();
  private windowStart: number;
  private lines = 0;

  constructor(
    private readonly logger: Pick<LoggerService, 'warn'>,
    private readonly ipv6Prefix: number,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  record(event: SecurityEvent): void {
    const now = this.now();
    this.flush(now);
    const kind = `${event.status} ${event.reason}`;
    const key = `${kind} ${normalizeAddress(event.address, this.ipv6Prefix)}`;
    const last = this.lastLine.get(key);
    if ((last !== undefined && now - last < SECURITY_WINDOW_MS) || this.lines >= SECURITY_LINES_PER_WINDOW) {
      this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1);
      return;
    }
    this.lastLine.set(key, now);
    this.lines += 1;
    const { status, reason, address, method, route, requestId } = event;
    this.logger.warn({ msg: `refused ${kind}`, status, reason, address, method, route, reqId: requestId });
  }

  /** Ends the minute once it is over, with the summary of the events not written one by one, if any. */
  flush(now = this.now()): void {
    if (now - this.windowStart < SECURITY_WINDOW_MS) return;
    if (this.suppressed.size > 0) {
      const total = [...this.suppressed.values()].reduce((sum, count) => sum + count, 0);
      const seconds = Math.round((now - this.windowStart) / 1000);
      this.logger.warn({
        msg: `${total} more refusals in the last ${seconds} s, not logged one by one`,
        suppressed: Object.fromEntries(this.suppressed),
      });
    }
    this.suppressed.clear();
    this.lines = 0;
    this.windowStart = now;
    for (const [key, at] of this.lastLine) if (now - at >= SECURITY_WINDOW_MS) this.lastLine.delete(key);
  }
}
