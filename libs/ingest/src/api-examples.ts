/** Examples shown in Swagger UI; the request is the API page's own. */
export const EXAMPLE_BATCH = {
  user_id: 'device-abc-123',
  game_id: 'com.example.stackblaster',
  events: [
    { type: 'LevelCompleted', timestamp: '2026-04-22T14:30:00+00:00', customdata: { level: 5, score: 4800, duration_seconds: 42 } },
    { type: 'AdImpression', timestamp: '2026-04-22T14:30:45+00:00', customdata: { ad_unit: 'post_level_interstitial' } },
    { type: 'Custom', customEventName: 'PowerUpUsed', timestamp: '2026-04-22T14:29:15+00:00', customdata: { power_up: 'shield' } },
  ],
};

export const ERROR_EXAMPLES = {
  400: {
    error: {
      code: 'BAD_REQUEST',
      message: 'invalid_payload',
      details: [{ field: 'events[1].type', message: 'type must be one of the following values: SessionStarted, ...' }],
    },
  },
  401: { error: { code: 'UNAUTHORIZED', message: 'token_expired' } },
  403: { error: { code: 'FORBIDDEN', message: 'user_id_mismatch' } },
  413: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'body_too_large: the limit is 1048576 bytes' } },
  415: { error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'content_type_must_be_application_json' } },
  429: { error: { code: 'TOO_MANY_REQUESTS', message: 'rate_limited' } },
  503: { error: { code: 'SERVICE_UNAVAILABLE', message: 'queue_unavailable' } },
} as const;

const EXAMPLE_BATCH_ID = '6f1c0b7e-3b9e-4a8e-9d6a-2f0c8f1e5a42';

/** `GET /ingest/batches/:batch_id`: one example per status. */
export const RECEIPT_EXAMPLES = {
  queued: { batch_id: EXAMPLE_BATCH_ID, status: 'queued', accepted: 3 },
  written: { batch_id: EXAMPLE_BATCH_ID, status: 'written', accepted: 3, written_at: '2026-04-22T14:31:02.117Z' },
  failed: { batch_id: EXAMPLE_BATCH_ID, status: 'failed', accepted: 3 },
} as const;

export const RECEIPT_ERROR_EXAMPLES = {
  400: { error: { code: 'BAD_REQUEST', message: 'invalid_payload', details: [{ field: 'batch_id', message: 'batch_id must be a UUID' }] } },
  404: { error: { code: 'NOT_FOUND', message: 'batch_not_found' } },
  503: { error: { code: 'SERVICE_UNAVAILABLE', message: 'database_unavailable' } },
} as const;
