import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { deletePrefix } from '../support/local-services';
import { exited, ROOT } from '../support/service-process';
import { freePort } from './support/processes';
import { createTestDatabase, eventually, REDIS_URL } from './support/test-app';

// A process manager, a `timeout` command or a CI job stops a service by sending SIGTERM to the process it started:
// npm. npm passes it to its child, which must be node itself (`exec node`), not a shell that would leave node running.

// What a newcomer reads: one line per entry, no colour codes in a file or a pipe, the start-up saying what runs (not how
// Nest assembled it), and no deprecation warnings.
const LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR): \[[A-Za-z]+\] \S/;

describe('npm start: signals and what it prints', { timeout: 180_000 }, () => {
  it('SIGTERM to the PID of `npm start` stops the service gracefully, and frees its port', async (ctx) => {
    const database = await createTestDatabase();
    const [port, opsPort] = [await freePort(), await freePort()];
    const prefix = `signals-${randomUUID().slice(0, 8)}`;
    const { NODE_ENV: _env, LOG_LEVEL: _level, ...inherited } = process.env;
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        ...inherited,
        DATABASE_URL: database.url,
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        HOST: '127.0.0.1',
        PORT: String(port),
        OPS_PORT: String(opsPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const live = () =>
      fetch(`http://127.0.0.1:${port}/health/live`).then(
        (response) => response.ok,
        () => false,
      );
    try {
      // npm start builds first.
      await eventually(async () => ((await live()) ? true : undefined), 120_000);
      const signalledAt = Date.now();
      npm.kill('SIGTERM');
      await exited(npm);
      await eventually(async () => ((await live()) ? undefined : true), 15_000);
      const stoppedMs = Date.now() - signalledAt;
      assert.match(output, /SIGTERM: draining/);
      assert.match(output, /stopped/);
      ctx.diagnostic(`npm start stopped ${stoppedMs} ms after SIGTERM to npm's PID`);

      assert.ok(!output.includes('\u001b'), 'no terminal escape codes when the output is not a terminal');
      // npm's own banner ("> playsmart-ingest@… start", the command) and blank lines aside, every line is one entry.
      const lines = output.split('\n').filter((line) => line !== '' && !line.startsWith('> '));
      for (const line of lines) assert.match(line, LINE);
      const startUp = lines.slice(0, lines.findIndex((line) => line.includes('listening on')) + 1);
      assert.ok(startUp.length > 0 && startUp.length <= 8, `a start-up in a few lines:\n${startUp.join('\n')}`);
      const said = startUp.join('\n');
      assert.match(said, /all-in-one: HTTP API and queue worker; development mode, Node \d+\.\d+\.\d+/);
      assert.ok(said.includes(`queues in Redis 127.0.0.1:6379, prefix "${prefix}"`), said);
      assert.match(said, /database: postgres 127\.0\.0\.1:5432\/playsmart_test_\w+/);
      assert.match(said, /writing batches, \d+ at a time/);
      assert.ok(said.includes(`listening on http://127.0.0.1:${port}`), said);
      assert.doesNotMatch(output, /dependencies initialized|Mapped \{|DeprecationWarning|FSTDEP/);
      for (const line of lines) ctx.diagnostic(line);
    } finally {
      npm.kill('SIGKILL');
      await database.drop();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
