import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { bootTestApp, eventually, postEvents, TestApp, tokenFor } from './support/test-app';

const DAY_MS = 24 * 3600 * 1000;

interface Row {
  occurred_at: Date;
  received_at: Date;
  // pg reads bigint as a string.
  clock_skew_ms: string | null;
}

/**
 * `sent_at` (issue 13): a device whose clock is off has its events judged by its own clock, and the offset is stored
 * with the batch and each row; `occurred_at` stays what the device said.
 */
describe('POST /ingest/events with sent_at: the device clock offset', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t.close();
  });

  /** A batch of two events, `aheadMs` ahead of our clock, from `user`, with `sentAt` when given. */
  const batchOf = (user: string, aheadMs: number, sentAt?: string) => ({
    user_id: user,
    game_id: 'com.example.game',
    ...(sentAt === undefined ? {} : { sent_at: sentAt }),
    events: [
      { type: 'LevelStarted', timestamp: new Date(Date.now() + aheadMs - 60_000).toISOString() },
      { type: 'LevelCompleted', timestamp: new Date(Date.now() + aheadMs).toISOString().replace('Z', '+00:00') },
    ],
  });

  const rowsLanded = (user: string, count: number) =>
    eventually(async () => {
      const { rows } = await t.db.query<Row>(
        'SELECT occurred_at, received_at, clock_skew_ms FROM events WHERE user_id = $1 ORDER BY occurred_at',
        [user],
      );
      return rows.length >= count ? rows : undefined;
    });
  const receiptOf = async (batchId: string) =>
    (await t.db.query<Row>('SELECT received_at, clock_skew_ms FROM batches WHERE batch_id = $1', [batchId])).rows[0];

  it('accepts events two days ahead from a phone two days fast, stores them as sent, with the offset on the batch and rows', async () => {
    const user = `skew-${randomUUID()}`;
    const body = batchOf(user, 2 * DAY_MS, new Date(Date.now() + 2 * DAY_MS).toISOString());
    const before = Date.now();
    const response = await postEvents(t, body, tokenFor(user));
    const answered = Date.now();
    assert.equal(response.statusCode, 202, response.body);
    const batchId = response.json<{ batch_id: string }>().batch_id;

    const rows = await rowsLanded(user, 2);
    assert.deepEqual(
      rows.map((row) => row.occurred_at.toISOString()),
      body.events.map((event) => new Date(event.timestamp).toISOString()),
      'occurred_at is the timestamp as sent, not corrected',
    );
    const sentAtMs = Date.parse(body.sent_at!);
    for (const row of rows) {
      const receivedAt = row.received_at.getTime();
      assert.ok(receivedAt >= before && receivedAt <= answered, 'received_at is when the gateway took the batch');
      // Exactly sent_at − received_at; so two days, less this test's own latency.
      assert.equal(Number(row.clock_skew_ms), sentAtMs - receivedAt);
      assert.ok(Math.abs(Number(row.clock_skew_ms) - 2 * DAY_MS) <= answered - before + 1000, `clock_skew_ms ${row.clock_skew_ms}`);
    }
    const receipt = await eventually(() => receiptOf(batchId));
    assert.equal(receipt.clock_skew_ms, rows[0].clock_skew_ms);
    assert.equal(receipt.received_at.getTime(), rows[0].received_at.getTime());
  });

  it('refuses the same timestamps without sent_at, naming each, and stores null for a batch sent without it', async () => {
    const user = `no-skew-${randomUUID()}`;
    const refused = await postEvents(t, batchOf(user, 2 * DAY_MS), tokenFor(user));
    assert.equal(refused.statusCode, 400);
    assert.deepEqual(
      refused.json<{ error: { details: Array<{ field: string; message: string }> } }>().error.details,
      [0, 1].map((index) => ({
        field: `events[${index}].timestamp`,
        message: 'timestamp must not be more than 86400 seconds in the future',
      })),
    );

    const accepted = await postEvents(t, batchOf(user, -DAY_MS), tokenFor(user));
    assert.equal(accepted.statusCode, 202, accepted.body);
    const rows = await rowsLanded(user, 2);
    assert.deepEqual(
      rows.map((row) => row.clock_skew_ms),
      [null, null],
    );
    const receipt = await eventually(() => receiptOf(accepted.json<{ batch_id: string }>().batch_id));
    assert.equal(receipt.clock_skew_ms, null);
  });

  it('refuses a malformed sent_at with the field sent_at', async () => {
    const user = `bad-sent-at-${randomUUID()}`;
    for (const sentAt of ['2026-04-22T14:31:00', 'now', 1776868260000, null]) {
      const response = await postEvents(t, { ...batchOf(user, 0), sent_at: sentAt }, tokenFor(user));
      assert.equal(response.statusCode, 400);
      assert.deepEqual(
        response.json<{ error: { details: Array<{ field: string }> } }>().error.details.map((detail) => detail.field),
        ['sent_at'],
        JSON.stringify(sentAt),
      );
    }
  });

  it('stores a sent_at more than a year off as measured, without judging the timestamps by it', async () => {
    const user = `reset-clock-${randomUUID()}`;
    // A phone whose clock went back to 1970 with its battery, sending events of its 1970.
    const body = { ...batchOf(user, 0, '1970-01-01T00:05:00Z'), events: [{ type: 'SessionStarted', timestamp: '1970-01-01T00:04:00Z' }] };
    const response = await postEvents(t, body, tokenFor(user));
    assert.equal(response.statusCode, 202, response.body);
    const [row] = await rowsLanded(user, 1);
    assert.equal(row.occurred_at.toISOString(), '1970-01-01T00:04:00.000Z');
    assert.equal(Number(row.clock_skew_ms), 300_000 - row.received_at.getTime());
    // Not applied: an event more than 24 h ahead of our clock is refused whatever the far-off sent_at says.
    const ahead = { ...batchOf(user, 2 * DAY_MS, new Date(Date.now() + 400 * DAY_MS).toISOString()) };
    assert.equal((await postEvents(t, ahead, tokenFor(user))).statusCode, 400);
  });
});
