import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { derivedEventId } from './accepted-event';
import { BATCH_JOB_FORMAT, BatchJobFormatError, decodeBatchJob, encodeBatchJob, IngestBatchJobData } from './batch-job';

const VERSION_4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function jobFor(body: Record<string, unknown> & { events: unknown[] }, batchId = randomUUID()): IngestBatchJobData {
  return encodeBatchJob({
    batch_id: batchId,
    user_id: body.user_id as string,
    accepted: body.events.length,
    received_at: '2026-04-22T14:31:00.000Z',
    body: JSON.stringify(body),
  });
}

describe('decodeBatchJob', () => {
  it('turns a queued body into the rows to write', () => {
    const clientId = 'A7F2C9D4-1B3E-4F56-8A9B-0C1D2E3F4A5B';
    const job = jobFor({
      user_id: 'device-abc-123',
      game_id: 'com.example.stackblaster',
      events: [
        { type: 'LevelCompleted', timestamp: '2026-04-22T16:30:00.123456789+02:00', customdata: { level: 5 }, event_id: clientId },
        { type: 'Custom', customEventName: 'PowerUpUsed', timestamp: '2026-04-22t14:29:15z' },
      ],
    });
    assert.deepEqual(decodeBatchJob(job), {
      batch_id: job.batch_id,
      user_id: 'device-abc-123',
      game_id: 'com.example.stackblaster',
      received_at: '2026-04-22T14:31:00.000Z',
      clock_skew_ms: null,
      events: [
        {
          event_id: clientId.toLowerCase(),
          type: 'LevelCompleted',
          custom_event_name: null,
          occurred_at: '2026-04-22T14:30:00.123456Z',
          customdata: { level: 5 },
        },
        {
          event_id: derivedEventId(job.batch_id, 1),
          type: 'Custom',
          custom_event_name: 'PowerUpUsed',
          occurred_at: '2026-04-22T14:29:15.000Z',
          customdata: null,
        },
      ],
    });
  });

  it('gives events without an id the same ids on every delivery, distinct within and across batches', () => {
    const events = Array.from({ length: 200 }, () => ({ type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' }));
    const job = jobFor({ user_id: 'u', game_id: 'com.a.b', events });
    const ids = decodeBatchJob(job).events.map((event) => event.event_id);
    assert.deepEqual(
      decodeBatchJob(structuredClone(job)).events.map((event) => event.event_id),
      ids,
    );
    const other = decodeBatchJob(jobFor({ user_id: 'u', game_id: 'com.a.b', events })).events.map((event) => event.event_id);
    assert.equal(new Set([...ids, ...other]).size, 400);
    for (const id of ids) assert.match(id, VERSION_4);
  });

  it('refuses a job in the decoded shape of the version before, which used to be written whatever it said', () => {
    const planted = {
      batch_id: randomUUID(),
      user_id: 'anyone',
      game_id: 'any.game',
      received_at: '2026-04-22T14:31:00.000Z',
      events: [
        { event_id: randomUUID(), type: 'NotAType', custom_event_name: null, occurred_at: '2026-04-22T14:30:00.000Z', customdata: null },
      ],
    };
    assert.throws(() => decodeBatchJob(planted as unknown as IngestBatchJobData), {
      name: 'BatchJobFormatError',
      message: /has no format and no body/,
    });
  });

  it('carries its format, decodes the jobs of format 1 (no format field) the same, and refuses a format it does not know', () => {
    const job = jobFor({ user_id: 'u', game_id: 'com.a.b', events: [{ type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' }] });
    assert.equal(job.format, BATCH_JOB_FORMAT);
    const { format: _format, reserved: _reserved, ...formatOne } = job;
    assert.deepEqual(decodeBatchJob(formatOne), decodeBatchJob(job));
    assert.throws(
      () => decodeBatchJob({ ...job, format: BATCH_JOB_FORMAT + 1 }),
      (error: unknown) => {
        assert.ok(error instanceof BatchJobFormatError);
        assert.match(error.message, new RegExp(`job format ${BATCH_JOB_FORMAT + 1} is unknown to this worker \\(it decodes 1 and 2\\)`));
        return true;
      },
    );
  });

  describe("clock_skew_ms: the body's sent_at minus the job's received_at", () => {
    const events = [{ type: 'LevelStarted', timestamp: '2026-04-24T14:30:00Z' }];
    const skewOf = (sentAt: unknown) => decodeBatchJob(jobFor({ user_id: 'u', game_id: 'com.a.b', sent_at: sentAt, events })).clock_skew_ms;

    it('is the offset in whole milliseconds, either way, in any offset notation', () => {
      // received_at is 2026-04-22T14:31:00.000Z.
      assert.equal(skewOf('2026-04-24T14:31:00Z'), 2 * 86_400_000);
      assert.equal(skewOf('2026-04-24T16:31:00.250+02:00'), 2 * 86_400_000 + 250);
      assert.equal(skewOf('2026-04-22T14:30:59.9999z'), -1);
      assert.equal(skewOf('2026-04-22T14:31:00Z'), 0);
      assert.equal(skewOf('1970-01-01T00:00:00Z'), -Date.parse('2026-04-22T14:31:00.000Z'));
    });

    it('keeps occurred_at as the client sent it: the offset is stored beside it, not applied', () => {
      const batch = decodeBatchJob(jobFor({ user_id: 'u', game_id: 'com.a.b', sent_at: '2026-04-24T14:31:00Z', events }));
      assert.equal(batch.events[0].occurred_at, '2026-04-24T14:30:00.000Z');
    });

    it('is null without sent_at, as in every job queued before it existed (the job format did not change)', () => {
      const job = jobFor({ user_id: 'u', game_id: 'com.a.b', events });
      assert.equal(decodeBatchJob(job).clock_skew_ms, null);
      const { format: _format, reserved: _reserved, ...formatOne } = job;
      assert.equal(decodeBatchJob(formatOne).clock_skew_ms, null);
    });

    it('refuses a job whose sent_at the gateway could not have accepted', () => {
      for (const sentAt of ['yesterday', '2026-04-24T14:31:00', 0, null]) {
        assert.throws(() => skewOf(sentAt), { name: 'BatchJobFormatError', message: /no valid sent_at/ });
      }
    });
  });

  it('refuses a job whose body does not match its user or count, or does not parse', () => {
    const job = jobFor({ user_id: 'u', game_id: 'com.a.b', events: [{ type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' }] });
    assert.throws(() => decodeBatchJob({ ...job, user_id: 'someone-else' }), /does not match/);
    assert.throws(() => decodeBatchJob({ ...job, accepted: 2 }), /does not match/);
    assert.throws(() => decodeBatchJob({ ...job, body: job.body.slice(0, -1) }), { name: 'BatchJobFormatError', message: /is not JSON/ });
    assert.throws(() => decodeBatchJob({ ...job, body: job.body.replace('2026-04-22T14:30:00Z', 'yesterday') }), {
      name: 'BatchJobFormatError',
      message: /no valid timestamp/,
    });
  });
});
