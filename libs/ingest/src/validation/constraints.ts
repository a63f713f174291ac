import { Injectable } from '@nestjs/common';
import {
  registerDecorator,
  ValidationArguments,
  ValidationOptions,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { AppConfig, InjectConfig, rfc3339EpochMs } from '#platform';
import { eventTypeDefinition } from '../event-types';
import { describeJsonObjectProblem, JsonShapeLimits } from './json-shape';
import { codePointLength, isStorableText } from './text';

/** A string of `min` to `max` code points that PostgreSQL can store (no U+0000, no unpaired surrogate). */
export function IsStorableString(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isStorableString',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && isStorableText(value) && codePointLength(value) >= min && codePointLength(value) <= max,
        defaultMessage: ({ property, value }: ValidationArguments) => {
          if (typeof value !== 'string') return `${property} must be a string`;
          if (!isStorableText(value)) return `${property} must not contain U+0000 or unpaired surrogates`;
          return `${property} must be ${min} to ${max} characters long`;
        },
      },
    });
}

/** How many letters, digits, "_", "." and "-" a `customEventName` has, starting with a letter. */
export const CUSTOM_EVENT_NAME_LENGTH = { min: 1, max: 64 } as const;
// The u flag counts code points.
export const CUSTOM_EVENT_NAME = new RegExp(String.raw`^\p{L}[\p{L}\p{Nd}_.-]{0,${CUSTOM_EVENT_NAME_LENGTH.max - 1}}$`, 'u');

/** `customEventName` is required exactly when the event's type asks for it, and refused otherwise. */
export function IsCustomEventNameForType(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isCustomEventNameForType',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown, args: ValidationArguments) => customEventNameProblem(value, args) === undefined,
        defaultMessage: (args: ValidationArguments) => customEventNameProblem(args.value, args) ?? '',
      },
    });
}

function customEventNameProblem(value: unknown, { object, property }: ValidationArguments): string | undefined {
  const type = (object as { type?: unknown }).type;
  const required = eventTypeDefinition(type)?.requiresCustomEventName === true;
  if (!required) return value === undefined ? undefined : `${property} is only allowed when type is Custom`;
  if (value === undefined) return `${property} is required when type is ${String(type)}`;
  if (typeof value !== 'string' || !CUSTOM_EVENT_NAME.test(value)) {
    const { min, max } = CUSTOM_EVENT_NAME_LENGTH;
    return `${property} must be ${min} to ${max} letters, digits, "_", "." or "-", starting with a letter`;
  }
  return undefined;
}

/** What is wrong with `value` as an RFC 3339 date-time with an offset (`timestamp`, `sent_at`); undefined: nothing. */
function rfc3339Problem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be an RFC 3339 date-time string';
  if (rfc3339EpochMs(value) === undefined) {
    return 'must be an RFC 3339 date-time with an offset (Z or ±hh:mm) and a UTC year from 0001 to 9999';
  }
  return undefined;
}

/** `sent_at`: an RFC 3339 date-time with an offset, as `timestamp` is (any distance from now: see MAX_APPLIED_CLOCK_SKEW_MS). */
export function IsRfc3339DateTime(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isRfc3339DateTime',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) => rfc3339Problem(value) === undefined,
        defaultMessage: ({ property, value }: ValidationArguments) => `${property} ${rfc3339Problem(value) ?? ''}`,
      },
    });
}

/**
 * How far a batch's `sent_at` may be from the server's clock for its events' timestamps to be judged by the device's
 * clock. Beyond it (a clock reset to 1970, a `sent_at` of year 9999) the batch is not refused: its timestamps are
 * judged by the server's clock, exactly as without `sent_at`, so a client cannot move the window further than this,
 * and a static example or a device with a broken clock loses nothing by sending `sent_at`. The worker still stores
 * the offset as measured.
 */
export const MAX_APPLIED_CLOCK_SKEW_MS = 365 * 24 * 3600 * 1000;

/**
 * The device's clock offset from ours in ms (`sent_at` − now) when `sent_at` is a valid date-time within
 * MAX_APPLIED_CLOCK_SKEW_MS of now; undefined otherwise (no correction).
 */
export function clockSkewToApply(sentAt: unknown, now = Date.now()): number | undefined {
  if (typeof sentAt !== 'string') return undefined;
  const sentAtMs = rfc3339EpochMs(sentAt);
  if (sentAtMs === undefined) return undefined;
  const skew = sentAtMs - now;
  return Math.abs(skew) <= MAX_APPLIED_CLOCK_SKEW_MS ? skew : undefined;
}

/** The clock offset each event's timestamp is corrected by, set by its batch's @AppliesClockSkew. */
const appliedClockSkew = new WeakMap<object, number>();

/**
 * On a batch's `events`: has each event's timestamp judged by the batch's clock. class-validator hands an event's
 * constraints the event alone, never its batch; so this constraint, which sees the batch, computes the offset once
 * (clockSkewToApply of the batch's `sent_at`) and records it for each event instance, and TimestampConstraint reads
 * it there. It never refuses anything. It relies on what class-validator and the fast path both do: a property's own
 * constraints run before its @ValidateNested items are validated (the differential specs hold the two paths to each
 * other, and ingest-batch.dto.spec.ts checks the correction on both). Running it twice records the same offsets.
 */
export function AppliesClockSkew(sentAtProperty: string, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'appliesClockSkew',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (events: unknown, { object }: ValidationArguments) => {
          if (!Array.isArray(events)) return true;
          const skew = clockSkewToApply((object as Record<string, unknown>)[sentAtProperty]);
          if (skew === undefined) return true;
          for (const event of events as unknown[]) {
            if (typeof event === 'object' && event !== null) appliedClockSkew.set(event, skew);
          }
          return true;
        },
      },
    });
}

/**
 * An RFC 3339 timestamp with an offset, within the configured future and age bounds. When the event's batch has a
 * `sent_at` (see AppliesClockSkew), the bounds apply to the timestamp corrected by the device's clock offset:
 * timestamp − offset ≤ now + TIMESTAMP_MAX_FUTURE, and ≥ now − TIMESTAMP_MAX_AGE when that is set; that is, the
 * timestamp is judged against `sent_at` rather than against our clock. With EVENTS_RETENTION_DAYS, the timestamp as
 * sent must also be within the retention by our clock.
 */
@ValidatorConstraint({ name: 'rfc3339Timestamp' })
@Injectable()
export class TimestampConstraint implements ValidatorConstraintInterface {
  constructor(@InjectConfig() private readonly config: AppConfig) {}

  validate(value: unknown, args?: ValidationArguments): boolean {
    return this.problem(value, skewOf(args)) === undefined;
  }

  defaultMessage(args: ValidationArguments): string {
    return `${args.property} ${this.problem(args.value, skewOf(args)) ?? ''}`;
  }

  /** What is wrong with `value`, judged with the device's clock `skewMs` ahead of ours (undefined: our clock). */
  problem(value: unknown, skewMs?: number, now = Date.now()): string | undefined {
    // Parsed once: this runs for every event of every batch.
    const epochMs = typeof value === 'string' ? rfc3339EpochMs(value) : undefined;
    if (epochMs === undefined) return rfc3339Problem(value);
    const corrected = epochMs - (skewMs ?? 0);
    const clock = skewMs === undefined ? '' : ' by the device clock (sent_at)';
    const { timestampMaxFutureMs, timestampMaxAgeMs, retentionMs } = this.config.limits;
    if (corrected > now + timestampMaxFutureMs) {
      return `must not be more than ${timestampMaxFutureMs / 1000} seconds in the future${clock}`;
    }
    if (timestampMaxAgeMs !== undefined && corrected < now - timestampMaxAgeMs) {
      return `must not be more than ${timestampMaxAgeMs / 1000} seconds in the past${clock}`;
    }
    // The retention drops events by occurred_at as stored, uncorrected, by the database's clock: judged the same way,
    // so that no event is accepted that the next maintenance would drop.
    if (retentionMs !== undefined && epochMs < now - retentionMs) {
      return `must not be more than ${retentionMs / 1000} seconds in the past (EVENTS_RETENTION_DAYS: events older than ${retentionMs / 86_400_000} days are not kept)`;
    }
    return undefined;
  }
}

const skewOf = (args: ValidationArguments | undefined): number | undefined =>
  typeof args?.object === 'object' && args.object !== null ? appliedClockSkew.get(args.object) : undefined;

/**
 * `customdata`: a bounded JSON object. The DTO the catalogue may name for its event's type is checked by
 * IngestEventDto's @ValidateNestedBy.
 */
@ValidatorConstraint({ name: 'customdata' })
@Injectable()
export class CustomdataConstraint implements ValidatorConstraintInterface {
  private readonly limits: JsonShapeLimits;

  constructor(@InjectConfig() config: AppConfig) {
    const { customdataMaxBytes, customdataMaxDepth, customdataMaxKeys, customdataMaxItems } = config.limits;
    this.limits = { maxBytes: customdataMaxBytes, maxDepth: customdataMaxDepth, maxKeys: customdataMaxKeys, maxItems: customdataMaxItems };
  }

  validate(value: unknown): boolean {
    return describeJsonObjectProblem(value, this.limits) === undefined;
  }

  defaultMessage({ property, value }: ValidationArguments): string {
    return `${property} ${describeJsonObjectProblem(value, this.limits) ?? ''}`;
  }
}
