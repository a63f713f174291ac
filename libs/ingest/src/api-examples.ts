import { ACCEPTED_ENCODINGS, ApiErrorResponse, ErrorReason } from '#platform';

/** Examples shown in Swagger UI; the request is the API page's own. */
export const EXAMPLE_BATCH = {
  user_id: 'device-abc-123',
  game_id: 'com.example.stackblaster',
  sent_at: '2026-04-22T14:31:00+00:00',
  events: [
    { type: 'LevelCompleted', timestamp: '2026-04-22T14:30:00+00:00', customdata: { level: 5, score: 4800, duration_seconds: 42 } },
    { type: 'AdImpression', timestamp: '2026-04-22T14:30:45+00:00', customdata: { ad_unit: 'post_level_interstitial' } },
    { type: 'Custom', customEventName: 'PowerUpUsed', timestamp: '2026-04-22T14:29:15+00:00', customdata: { power_up: 'shield' } },
  ],
};

const EXAMPLE_BATCH_ID = '6f1c0b7e-3b9e-4a8e-9d6a-2f0c8f1e5a42';

/** `GET /ingest/batches/:batch_id`: one example per status. */
export const RECEIPT_EXAMPLES = {
  queued: { batch_id: EXAMPLE_BATCH_ID, status: 'queued', accepted: 3 },
  written: { batch_id: EXAMPLE_BATCH_ID, status: 'written', accepted: 3, written_at: '2026-04-22T14:31:02.117Z' },
  failed: { batch_id: EXAMPLE_BATCH_ID, status: 'failed', accepted: 3 },
} as const;

const integerHeader = (description: string) => ({ description, schema: { type: 'integer' } });

/** Sent with every answer of a rate-limited route; they describe the most restrictive of the caller's buckets. */
export const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': integerHeader('Requests the bucket holds when full (its burst).'),
  'RateLimit-Remaining': integerHeader('Requests left right now.'),
  'RateLimit-Reset': integerHeader('Seconds until the bucket is full again.'),
};

const RETRY_AFTER = { 'Retry-After': integerHeader('Seconds to wait before retrying (at least 1).') };

// The error responses both routes document alike. Each lists every reason it can answer with (ERROR_REASONS).

export const unauthorized = () =>
  ApiErrorResponse(401, {
    description: 'The token is checked before a byte of the body is read.',
    examples: ['missing_token', 'token_expired', 'invalid_token'],
    headers: {
      'WWW-Authenticate': {
        description: '`Bearer error="invalid_request"` without a token, `Bearer error="invalid_token"` otherwise.',
        schema: { type: 'string' },
      },
    },
  });

export const unsupportedMediaType = () =>
  ApiErrorResponse(415, {
    description: 'Decided from the headers alone, before the token or the body.',
    examples: ['content_type_must_be_application_json', 'unsupported_content_encoding'],
    headers: {
      'Accept-Encoding': {
        description: `With \`unsupported_content_encoding\`: the codings a body may have, \`${ACCEPTED_ENCODINGS}\`.`,
        schema: { type: 'string' },
      },
    },
  });

/** A 429 with the reasons of `examples`; the RateLimit-* headers describe the most restrictive bucket. */
export const tooManyRequests = (examples: readonly ErrorReason<429>[]) =>
  ApiErrorResponse(429, {
    description: 'Retry after Retry-After seconds.',
    examples,
    headers: { ...RATE_LIMIT_HEADERS, ...RETRY_AFTER },
  });

/** A 503 with the reasons of `examples`: all of them are worth a retry, after Retry-After seconds. */
export const serviceUnavailable = (examples: readonly ErrorReason<503>[]) =>
  ApiErrorResponse(503, { description: 'Retry after Retry-After seconds.', examples, headers: RETRY_AFTER });
