/**
 * Every reason an error answer gives by name (`error.message`), by status, with what it means. ApiError and errorBody
 * take only these for these statuses (a reason may be followed by `: ` and a detail), and the OpenAPI document lists
 * them from here with their meaning (ApiErrorResponse): a new reason is added here, or the code does not compile. A
 * status without an entry answers with its own name in lower case (`not_found`, `internal_error` for any 5xx the code
 * did not anticipate).
 */
export const ERROR_REASONS = {
  400: {
    invalid_payload:
      'The request is not valid: `details` lists every failing field. Field `""` is the body as a whole: empty, not ' +
      'JSON, not a JSON object, not UTF-8, nested too deeply, or not valid gzip/deflate data.',
    malformed_url: 'The URL has an invalid percent-encoding.',
  },
  401: {
    missing_token: 'No bearer token: no Authorization header, another scheme, or an empty token.',
    token_expired: "The token's `exp` has passed.",
    invalid_token:
      'Anything else wrong with the token: its signature or algorithm, a missing or wrong claim (`sub`, `exp`, `nbf`, ' +
      '`iss`, `aud`), a lifetime over JWT_MAX_LIFETIME_SECONDS, a `typ` other than JWT_TYPE, or its size.',
    admin_credentials_required: 'The queue dashboard asks for its Basic credentials (ADMIN_USER, ADMIN_PASSWORD).',
  },
  403: {
    user_id_mismatch: "`user_id` differs from the token's subject (`sub`).",
    game_id_mismatch: '`game_id` differs from the game the token is for (JWT_GAME_CLAIM).',
  },
  404: {
    batch_not_found: 'No such batch for this player: unknown, sent by another player, or its receipt has expired.',
  },
  413: {
    body_too_large: 'The body is over BODY_LIMIT, as sent or once decompressed; the message names the limit in bytes.',
  },
  414: {
    path_parameter_too_long: 'A path parameter is over 100 characters.',
  },
  415: {
    content_type_must_be_application_json:
      'The content type is not `application/json` (parameters such as `charset` are fine), or there is none.',
    unsupported_content_encoding:
      'The Content-Encoding is not `gzip`, `deflate` or `identity`, or names more than one coding; the answer carries ' +
      '`Accept-Encoding: gzip, deflate`.',
  },
  429: {
    rate_limited:
      'Too many requests, or events, from this player (`sub`); or too many requests from this client address, counted ' +
      'before authentication.',
    too_many_bytes_in_flight: 'This client address is sending more body bytes at once than BODY_BYTES_IN_FLIGHT_PER_CLIENT.',
    too_many_failed_logins: 'Too many failed logins to the queue dashboard from this client address.',
  },
  503: {
    buffer_full: 'BUFFER_MAX_EVENTS events are accepted and not yet written: no more are taken until the workers catch up.',
    queue_unavailable: 'Redis (the queue) did not answer in time, or refused the operation.',
    database_unavailable: 'PostgreSQL did not answer in time.',
    shutting_down: 'This instance is shutting down and closes the connection; a retry reaches another one.',
    not_ready: 'A dependency of the readiness check is down; the message names it.',
  },
} as const;

type Catalogue = typeof ERROR_REASONS;

/** A status that has named reasons. */
export type ErrorStatus = keyof Catalogue;

/**
 * A reason `status` may give: one of its catalogued reasons, alone or followed by `: ` and a detail (`body_too_large:
 * the limit is 1048576 bytes`). Any string for a status without catalogued reasons, or one not known when compiling.
 */
export type ErrorReason<S extends number = ErrorStatus> = S extends ErrorStatus
  ? (keyof Catalogue[S] & string) | `${keyof Catalogue[S] & string}: ${string}`
  : string;

/** The catalogued reason a message starts with: `body_too_large: the limit is 1048576 bytes` -> `body_too_large`. */
export function reasonOf(message: string): string {
  const colon = message.indexOf(':');
  return colon === -1 ? message : message.slice(0, colon);
}

/** What a catalogued reason of `status` means, or undefined for one that is not catalogued. */
export function reasonMeaning(status: number, message: string): string | undefined {
  const reasons: Readonly<Record<string, string>> | undefined = (ERROR_REASONS as Readonly<Record<number, Record<string, string>>>)[status];
  return reasons === undefined || !Object.hasOwn(reasons, reasonOf(message)) ? undefined : reasons[reasonOf(message)];
}

/** The reason of every 413: the filter words it from the configured limit. */
export function bodyTooLarge(limitBytes: number): ErrorReason<413> {
  return `body_too_large: the limit is ${limitBytes} bytes`;
}
