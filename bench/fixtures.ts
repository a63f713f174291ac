import { createSecretKey } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { seededRandom } from '../packages/client/src/testing/fakes';

/** Every request of the benchmark carries a full batch. */
export const EVENTS_PER_BATCH = 200;

export interface BenchEvent {
  type: string;
  timestamp: string;
  customEventName?: string;
  customdata?: Record<string, unknown>;
}

export interface BenchBatch {
  user_id: string;
  game_id: string;
  events: BenchEvent[];
}

const GAMES = ['com.playsmart.stackblaster', 'com.playsmart.puzzlequest', 'io.playsmart.kartrush', 'com.example.mygame'];
const OFFSETS = [0, 0, 120, -300, 330, 60];
const PLATFORMS = ['android', 'ios'];
const AD_UNITS = ['post_level_interstitial', 'rewarded_extra_life', 'banner_menu'];
const POWER_UPS = ['shield', 'magnet', 'double_score', 'slow_time'];

/** RFC 3339 with an offset (`Z` or ±hh:mm) and milliseconds, as games send them. */
function rfc3339(epochMs: number, offsetMinutes: number): string {
  const local = new Date(epochMs + offsetMinutes * 60_000).toISOString().slice(0, 23);
  if (offsetMinutes === 0) return `${local}Z`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * A mix close to what a game sends in one session: every event type of the catalogue, small customdata objects
 * (some nested), timestamps in the past with various offsets. About 170 bytes of JSON per event.
 */
function makeEvent(random: () => number, index: number, epochMs: number, offsetMinutes: number): BenchEvent {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
  const level = 1 + Math.floor(random() * 60);
  const timestamp = rfc3339(epochMs, offsetMinutes);
  switch (index % 9) {
    case 0:
      return {
        type: 'SessionStarted',
        timestamp,
        customdata: { platform: pick(PLATFORMS), app_version: '3.2.1', first_session: random() < 0.1 },
      };
    case 1:
      return { type: 'LevelStarted', timestamp, customdata: { level, difficulty: pick(['easy', 'normal', 'hard']) } };
    case 2:
      return {
        type: 'LevelCompleted',
        timestamp,
        customdata: {
          level,
          score: Math.floor(random() * 10_000),
          duration_seconds: Math.floor(random() * 300),
          stars: 1 + Math.floor(random() * 3),
        },
      };
    case 3:
      return {
        type: 'LevelFailed',
        timestamp,
        customdata: { level, reason: pick(['timeout', 'fell', 'quit']), attempts: 1 + Math.floor(random() * 5) },
      };
    case 4:
      return {
        type: 'AdImpression',
        timestamp,
        customdata: { ad_unit: pick(AD_UNITS), network: 'admob', ecpm_micros: Math.floor(random() * 5_000_000) },
      };
    case 5:
      return { type: 'AdClicked', timestamp, customdata: { ad_unit: pick(AD_UNITS) } };
    case 6:
      return {
        type: 'Purchase',
        timestamp,
        customdata: { sku: 'gems_500', price: { amount_cents: 499, currency: 'EUR' }, store: pick(['google_play', 'app_store']) },
      };
    case 7:
      return {
        type: 'Custom',
        customEventName: 'PowerUpUsed',
        timestamp,
        customdata: { power_up: pick(POWER_UPS), charges: Math.floor(random() * 4) },
      };
    default:
      return {
        type: 'SessionEnded',
        timestamp,
        customdata: { duration_seconds: Math.floor(random() * 3600), levels_played: [level, level + 1] },
      };
  }
}

export interface PoolOptions {
  users: number;
  eventsPerBatch?: number;
  seed?: number;
  /** Timestamps are up to six hours before this instant. */
  now?: number;
}

/** One batch per user: `bench-user-<i>`, `eventsPerBatch` events each. Deterministic for a given seed and `now`. */
export function makeBatches({ users, eventsPerBatch = EVENTS_PER_BATCH, seed = 1, now = Date.now() }: PoolOptions): BenchBatch[] {
  // Seeded, so that the load generator and the COPY ceiling build the same rows.
  const random = seededRandom(seed);
  const batches: BenchBatch[] = [];
  for (let u = 0; u < users; u++) {
    const offset = OFFSETS[u % OFFSETS.length];
    let epochMs = now - 6 * 3600_000 + Math.floor(random() * 3600_000);
    const events: BenchEvent[] = [];
    for (let i = 0; i < eventsPerBatch; i++) {
      epochMs += Math.floor(random() * 20_000);
      events.push(makeEvent(random, i + u, epochMs, offset));
    }
    batches.push({ user_id: `bench-user-${u}`, game_id: GAMES[u % GAMES.length], events });
  }
  return batches;
}

/** An HS256 token per user, signed with a KeyObject as the service verifies them. */
export function makeTokens(userIds: readonly string[], secret: string, ttlSeconds = 6 * 3600): string[] {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return userIds.map((sub) => sign({ sub }, key, { algorithm: 'HS256', expiresIn: ttlSeconds }));
}
