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

// A SQLSTATE: two characters of class (a digit first, or one of PostgreSQL's lettered classes), three of condition.
const SQLSTATE = /^([0-9][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/;

/**
 * What a log line may say about a statement PostgreSQL refused: its SQLSTATE and the names of the table, column and
 * constraint involved, never PostgreSQL's message or detail, which can quote the values it refused (player payloads).
 * Undefined when `error` carries no SQLSTATE. TypeORM copies the driver's fields onto its QueryFailedError.
 */
export function describeDatabaseError(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const { code, table, column, constraint, driverError, cause } = current as Record<string, unknown>;
    if (typeof code === 'string' && SQLSTATE.test(code)) {
      const names = Object.entries({ table, column, constraint }).filter(([, name]) => typeof name === 'string' && name !== '');
      return `SQLSTATE ${code}${names.length === 0 ? '' : ` (${names.map(([kind, name]) => `${kind} ${String(name)}`).join(', ')})`}`;
    }
    current = driverError ?? cause;
  }
  return undefined;
}
