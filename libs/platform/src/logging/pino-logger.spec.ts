import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { PinoLoggerService } from './pino-logger';

function capture(level: string): { logger: PinoLoggerService; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = new PinoLoggerService(pino({ level }, stream));
  return { logger, lines: () => chunks.map((chunk) => JSON.parse(chunk) as Record<string, unknown>) };
}

describe('PinoLoggerService', () => {
  it("keeps Nest's start-up chatter out of the default level, and everything else in", () => {
    const { logger, lines } = capture('info');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('Mapped {/ingest/events, POST} route', 'RouterExplorer');
    logger.log('Nest application successfully started', 'NestApplication');
    logger.log('listening on http://0.0.0.0:3000', 'Gateway');
    logger.warn('Redis 127.0.0.1:6379 unreachable', 'Redis');
    assert.deepEqual(
      lines().map((line) => [line.context, line.msg]),
      [
        ['Gateway', 'listening on http://0.0.0.0:3000'],
        ['Redis', 'Redis 127.0.0.1:6379 unreachable'],
      ],
    );
  });

  it("leaves a failure to start to startApp's one line: Nest's stack dump of it is debug", () => {
    const { logger, lines } = capture('info');
    logger.error(new Error('the embedded database in ./data/pglite is in use by process 847'), 'ExceptionHandler');
    assert.deepEqual(lines(), []);
    const verbose = capture('debug');
    verbose.logger.error(new Error('the embedded database is in use'), 'ExceptionHandler');
    assert.equal(verbose.lines()[0].level, 20);
  });

  it('still writes the chatter at debug, and framework warnings and errors at their level', () => {
    const { logger, lines } = capture('debug');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.error('could not map', 'stack', 'RouterExplorer');
    assert.deepEqual(
      lines().map((line) => [line.level, line.context]),
      [
        [20, 'InstanceLoader'],
        [50, 'RouterExplorer'],
      ],
    );
  });

  it('says an error with its causes in the message, and keeps its stack in err', () => {
    const { logger, lines } = capture('info');
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    logger.error(new Error('batch 7 not written', { cause: refused }), 'BatchWorker');
    const [line] = lines();
    assert.equal(line.msg, 'batch 7 not written: connect ECONNREFUSED 127.0.0.1:5432');
    assert.match((line.err as { stack: string }).stack, /^Error: batch 7 not written\n\s+at /);
  });
});
