import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { bufferedEventsKey } from '#pipeline';
import { bootTestApp, eventually, exampleBatch, postEvents, TestApp, tokenFor } from './support/test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface EventRow {
  user_id: string;
  event_id: string;
  game_id: string;
  type: string;
  custom_event_name: string | null;
  occurred_at: Date;
  received_at: Date;
  customdata: Record<string, unknown> | null;
  batch_id: string;
}

describe('POST /ingest/events: accepted batches land in PostgreSQL', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t.close();
  });

  const rowsOf = async (userId: string): Promise<EventRow[]> =>
    (await t.db.query<EventRow>('SELECT * FROM events WHERE user_id = $1 ORDER BY occurred_at', [userId])).rows;
  const rowsLanded = (userId: string, count: number) =>
    eventually(async () => {
      const rows = await rowsOf(userId);
      return rows.length >= count ? rows : undefined;
    });

  it('answers the API page example with 202 and the exact body shape, and stores its three rows', async () => {
    const sentAt = Date.now();
    const response = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
    assert.equal(response.statusCode, 202);
    const body = response.json<{ success: boolean; message: string; batch_id: string }>();
    assert.equal(body.success, true);
    assert.match(body.message, /^accepted:3 buffered:\d+$/);
    assert.ok(Number(body.message.split('buffered:')[1]) >= 3, 'buffered includes this request');
    assert.match(body.batch_id, UUID);

    const rows = await rowsLanded('device-abc-123', 3);
    assert.equal(rows.length, 3);
    assert.deepEqual(
      rows.map((r) => [r.type, r.custom_event_name, r.occurred_at.toISOString(), r.customdata]),
      [
        ['Custom', 'PowerUpUsed', '2026-04-22T14:29:15.000Z', { power_up: 'shield' }],
        ['LevelCompleted', null, '2026-04-22T14:30:00.000Z', { level: 5, score: 4800, duration_seconds: 42 }],
        ['AdImpression', null, '2026-04-22T14:30:45.000Z', { ad_unit: 'post_level_interstitial' }],
      ],
    );
    for (const row of rows) {
      assert.equal(row.game_id, 'com.example.stackblaster');
      assert.equal(row.batch_id, body.batch_id);
      assert.match(row.event_id, UUID);
      assert.ok(row.received_at.getTime() >= sentAt - 1000 && row.received_at.getTime() <= Date.now());
    }
  });

  it('stores offsets as the same instant in UTC, with microseconds kept', async () => {
    const user = `offset-${randomUUID()}`;
    const response = await postEvents(
      t,
      {
        user_id: user,
        game_id: 'com.example.game',
        events: [
          { type: 'SessionStarted', timestamp: '2026-04-22T16:30:00.123456+02:00' },
          { type: 'SessionEnded', timestamp: '2026-04-22t09:00:00-05:30' },
        ],
      },
      tokenFor(user),
    );
    assert.equal(response.statusCode, 202);
    await rowsLanded(user, 2);
    const { rows } = await t.db.query<{ occurred: string; customdata: unknown }>(
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS occurred, customdata FROM events WHERE user_id = $1 ORDER BY occurred_at`,
      [user],
    );
    assert.deepEqual(rows, [
      { occurred: '2026-04-22T14:30:00.000000', customdata: null },
      { occurred: '2026-04-22T14:30:00.123456', customdata: null },
    ]);
  });

  it('stores a retried batch once when the client sends event_ids', async () => {
    const user = `retry-${randomUUID()}`;
    const ids = [randomUUID(), randomUUID()];
    const batch = {
      user_id: user,
      game_id: 'com.example.game',
      events: ids.map((event_id) => ({ event_id, type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' })),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await postEvents(t, batch, tokenFor(user));
      assert.equal(response.statusCode, 202);
      assert.match(response.json<{ message: string }>().message, /^accepted:2 buffered:\d+$/);
    }
    const second = await postEvents(t, { ...batch, events: [batch.events[0], batch.events[0]] }, tokenFor(user));
    assert.match(second.json<{ message: string }>().message, /^accepted:2 /, 'N counts repeats of an event_id');

    await eventually(async () => ((await t.redis.get(bufferedEventsKey(t.config.queue.prefix))) === '0' ? true : undefined));
    const rows = await rowsOf(user);
    assert.deepEqual(rows.map((r) => r.event_id).sort(), [...ids].sort());
  });

  it('keeps the same event_id of two different players apart', async () => {
    const eventId = randomUUID();
    for (const user of ['player-a', 'player-b']) {
      const response = await postEvents(
        t,
        {
          user_id: user,
          game_id: 'com.example.game',
          events: [{ event_id: eventId, type: 'Purchase', timestamp: '2026-04-22T14:30:00Z' }],
        },
        tokenFor(user),
      );
      assert.equal(response.statusCode, 202);
    }
    await rowsLanded('player-a', 1);
    await rowsLanded('player-b', 1);
  });

  it('reports buffered events service-wide and comes back to 0 when idle', async () => {
    const user = `buffer-${randomUUID()}`;
    const events = Array.from({ length: 200 }, (_, i) => ({
      type: 'LevelStarted',
      timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    }));
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => postEvents(t, { user_id: user, game_id: 'com.example.game', events }, tokenFor(user))),
    );
    const buffered = responses.map((r) => {
      assert.equal(r.statusCode, 202);
      const [, accepted, count] = /^accepted:(\d+) buffered:(\d+)$/.exec(r.json<{ message: string }>().message) ?? [];
      assert.equal(accepted, '200');
      return Number(count);
    });
    assert.ok(
      buffered.every((m) => m >= 200),
      `each answer counts its own events: ${buffered.join(',')}`,
    );
    await rowsLanded(user, 1000);
    const idle = await eventually(async () => {
      const value = await t.redis.get(bufferedEventsKey(t.config.queue.prefix));
      return value === '0' ? value : undefined;
    });
    assert.equal(idle, '0');
    const next = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
    assert.equal(next.json<{ message: string }>().message, 'accepted:3 buffered:3');
  });
});
