import { DatabaseUnavailable } from './database-connection';

// Node's socket errors, and PostgreSQL's: class 08 (connection exception) is matched by prefix; 57P01-03: the server is
// shutting down, crashed or starting; 53300: too many connections.
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

// pg's and pg-pool's errors for a connection lost, never made, or silent, which carry no code.
const UNREACHABLE_MESSAGES =
  /connection terminated|timeout exceeded when trying to connect|query read timeout|not queryable|connection is not (yet )?established|connection ended/i;

/**
 * Whether `error` says the database could not be reached (or stopped answering) rather than that it refused the
 * statement: the first is worth waiting out without spending a job's attempts, the second is the batch's own failure.
 * TypeORM wraps a driver's error in `driverError`; Node's `cause` is followed too.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof DatabaseUnavailable) return true;
    const { code, message, driverError, cause } = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || code.startsWith('08'))) return true;
    if (typeof message === 'string' && UNREACHABLE_MESSAGES.test(message)) return true;
    current = driverError ?? cause;
  }
  return false;
}
