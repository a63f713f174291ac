import { Injectable } from '@nestjs/common';
import { AppConfig, InjectConfig } from '#platform';
import { ClientConfigDto } from './dto/client-config.dto';
import { MAX_EVENTS_PER_BATCH } from './dto/ingest-batch.dto';
import { EVENT_TYPE_NAMES, eventTypeDefinition } from './event-types';
import { CUSTOM_EVENT_NAME, CUSTOM_EVENT_NAME_LENGTH } from './validation/constraints';
import { FORBIDDEN_KEY_NAMES } from './validation/json-shape';

/**
 * What the body around `events` may take at most: `{"user_id":…,"game_id":…,"events":…}` with a user_id of 128 code
 * points each escaped as two \uXXXX escapes (1536 bytes) and a game_id of 255 bytes comes to 1828 bytes.
 */
export const ENVELOPE_HEADROOM_BYTES = 2048;

/** The bytes the `events` array of one request may take so that the body stays within `bodyLimitBytes`. */
export function maxBatchBytes(bodyLimitBytes: number): number {
  // BODY_LIMIT may be as low as 1 KiB: then half of it is left to the events, whatever the envelope holds.
  return bodyLimitBytes - Math.min(ENVELOPE_HEADROOM_BYTES, Math.floor(bodyLimitBytes / 2));
}

/** The stricter of the maximum age and the retention, in seconds; null when neither is set. */
function maxAgeSeconds(...limitsMs: Array<number | undefined>): number | null {
  const set = limitsMs.filter((ms) => ms !== undefined);
  return set.length === 0 ? null : Math.min(...set) / 1000;
}

/**
 * The answer of GET /ingest/client-config: the configured batching policy (CLIENT_*) and the rules validation applies,
 * each read from where validation reads it. Built per request (a few objects), so that it names the catalogue as it is.
 */
@Injectable()
export class ClientConfigService {
  private readonly fixed: Omit<ClientConfigDto, 'event_types'>;

  constructor(@InjectConfig() config: AppConfig) {
    const { client, limits, bodyLimitBytes } = config;
    this.fixed = {
      enabled: client.enabled,
      flush_at: client.flushAt,
      flush_interval_ms: client.flushIntervalMs,
      max_batch_events: MAX_EVENTS_PER_BATCH,
      max_batch_bytes: maxBatchBytes(bodyLimitBytes),
      custom_event_name: {
        pattern: CUSTOM_EVENT_NAME.source,
        min_length: CUSTOM_EVENT_NAME_LENGTH.min,
        max_length: CUSTOM_EVENT_NAME_LENGTH.max,
      },
      customdata_limits: {
        max_bytes: limits.customdataMaxBytes,
        max_depth: limits.customdataMaxDepth,
        max_keys: limits.customdataMaxKeys,
        max_array_items: limits.customdataMaxItems,
        forbidden_keys: [...FORBIDDEN_KEY_NAMES],
      },
      timestamp: {
        max_future_seconds: limits.timestampMaxFutureMs / 1000,
        max_age_seconds: maxAgeSeconds(limits.timestampMaxAgeMs, limits.retentionMs),
      },
    };
  }

  answer(): ClientConfigDto {
    const event_types = EVENT_TYPE_NAMES.map((name) => ({
      name,
      requires_custom_event_name: eventTypeDefinition(name)?.requiresCustomEventName === true,
    }));
    // In the DTO's order: the policy, then the catalogue, then the rules (a copy: the caller may change it).
    const { custom_event_name, customdata_limits, timestamp, ...policy } = structuredClone(this.fixed);
    return { ...policy, event_types, custom_event_name, customdata_limits, timestamp };
  }
}
