import type { LoggerService } from '@nestjs/common';
import pino, { Logger, LevelWithSilent } from 'pino';
import type { AppConfig, LogLevel } from '../config/app-config';
import { describeError } from './describe-error';
import { currentRequestId } from './request-context';

const PINO_LEVEL: Record<LogLevel, LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * Structured JSON logs in production, readable lines in development. Every line written while a request is being
 * handled carries its `reqId`. Authorization headers never reach a log line, and nothing logs a payload.
 */
export function createPinoLogger(config: Pick<AppConfig, 'env' | 'logLevel'>, name: string): Logger {
  return pino({
    name,
    level: PINO_LEVEL[config.logLevel],
    mixin: () => {
      const reqId = currentRequestId();
      return reqId === undefined ? {} : { reqId };
    },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token'], censor: '[redacted]' },
    // One line per entry, coloured only on a terminal (a log file gets no escape codes).
    transport:
      config.env === 'development'
        ? {
            target: 'pino-pretty',
            options: {
              colorize: process.stdout.isTTY === true,
              singleLine: true,
              translateTime: 'SYS:HH:MM:ss.l',
              // The message says the error and its causes; its stack (err, stack) is in the JSON of production logs.
              ignore: 'pid,hostname,name,context,err,stack',
              messageFormat: '[{context}] {msg}',
            },
          }
        : undefined,
  });
}

/**
 * Nest's own start-up chatter (a line per module initialized and per route mapped): debug, not the default level, so
 * that a start says what runs rather than how the framework assembled it.
 */
const FRAMEWORK_CONTEXTS: ReadonlySet<string> = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
]);

/** Nest's LoggerService on top of pino, so that framework and application lines share one format. */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    // Nest passes the context (a class name) last, and for errors a stack before it.
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    // A failure to start is said in one line by startApp; the stack Nest's ExceptionHandler adds is for debugging.
    const chatter = level === 'info' && context !== undefined && FRAMEWORK_CONTEXTS.has(context);
    if (chatter || (level === 'error' && context === 'ExceptionHandler')) {
      this.write('debug', message, params);
      return;
    }
    const stack = level === 'error' && params.length > 1 && typeof params[0] === 'string' ? params[0] : undefined;
    const fields = { context, ...(stack === undefined ? {} : { stack }) };
    if (message instanceof Error) this.pino[level]({ ...fields, err: message }, describeError(message));
    else if (typeof message === 'object' && message !== null) this.pino[level]({ ...fields, ...message });
    else this.pino[level](fields, String(message));
  }
}
