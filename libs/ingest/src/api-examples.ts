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
  503: { error: { code: 'SERVICE_UNAVAILABLE', message: 'queue_unavailable' } },
} as const;
