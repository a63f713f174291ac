import { ApiProperty, ApiResponse, HeadersObject } from '@nestjs/swagger';
import { errorBody, ErrorBody, ErrorDetail } from './api-error';
import { ErrorReason, ErrorStatus, reasonMeaning, reasonOf } from './error-reasons';

// The error envelope (ErrorBody) as the OpenAPI document describes it: one schema, which every error response of
// every operation references.

export class ErrorDetailDto implements ErrorDetail {
  @ApiProperty({
    description: 'The failing field, in bracket form; `""` is the body as a whole.',
    example: 'events[1].type',
  })
  field: string;

  @ApiProperty({ description: 'What is wrong with it.', example: 'type must be one of the following values: SessionStarted, ...' })
  message: string;
}

type EnvelopeError = ErrorBody['error'];

export class ErrorDto implements EnvelopeError {
  @ApiProperty({ description: "The HTTP status's name.", example: 'BAD_REQUEST' })
  code: string;

  @ApiProperty({
    description:
      'Why: a fixed reason in snake_case, sometimes followed by `: ` and a detail (`body_too_large: the limit is ' +
      '1048576 bytes`). Each response lists the reasons it can give.',
    example: 'invalid_payload',
  })
  message: string;

  @ApiProperty({ type: [ErrorDetailDto], required: false, description: 'With `invalid_payload`: every failing field.' })
  details?: ErrorDetailDto[];
}

export class ErrorEnvelopeDto implements ErrorBody {
  @ApiProperty({ type: ErrorDto })
  error: ErrorDto;
}

/** One example of an error response: a reason (message) of its status, with the details a 400 lists. */
export interface ErrorExample<S extends ErrorStatus> {
  message: ErrorReason<S>;
  details?: ErrorDetail[];
  /** The example's name and label, for a reason shown more than once; the reason by default. */
  summary?: string;
}

export interface ApiErrorResponseOptions<S extends ErrorStatus> {
  /** What the reasons have in common (what to do, mostly); the meaning of each is listed after it. */
  description?: string;
  /** One example a reason, at least: every reason the operation can answer with this status. */
  examples: readonly (ErrorReason<S> | ErrorExample<S>)[];
  headers?: HeadersObject;
}

/**
 * Documents an error status of an operation: the envelope's schema, one example per reason (Swagger UI lists them by
 * name), and a description that lists every reason with its meaning from ERROR_REASONS.
 */
export function ApiErrorResponse<S extends ErrorStatus>(
  status: S,
  { description, examples, headers }: ApiErrorResponseOptions<S>,
): MethodDecorator & ClassDecorator {
  const entries = examples.map((example) => (typeof example === 'string' ? { message: example } : example));
  const names = entries.map(({ message, summary }) => summary ?? reasonOf(message));
  if (new Set(names).size !== names.length)
    throw new Error(`${status}: two examples named alike (${names.join(', ')}): give one a summary`);
  const reasons = [...new Set(entries.map(({ message }) => reasonOf(message)))];
  const meanings = reasons.map((reason) => `- \`${reason}\`: ${reasonMeaning(status, reason)}`);
  return ApiResponse({
    status,
    description: [...(description === undefined ? [] : [description, '']), ...meanings].join('\n'),
    type: ErrorEnvelopeDto,
    headers,
    examples: Object.fromEntries(
      entries.map(({ message, details }, index) => [
        names[index],
        { summary: names[index], value: errorBody<S>(status, message, details) },
      ]),
    ),
  });
}
