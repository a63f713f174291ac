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

// 1 to 64 letters, digits, "_", "." and "-", starting with a letter; the u flag counts code points.
export const CUSTOM_EVENT_NAME = /^\p{L}[\p{L}\p{Nd}_.-]{0,63}$/u;

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
    return `${property} must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter`;
  }
  return undefined;
}

/** An RFC 3339 timestamp with an offset, within the configured future and age bounds. */
@ValidatorConstraint({ name: 'rfc3339Timestamp' })
@Injectable()
export class TimestampConstraint implements ValidatorConstraintInterface {
  constructor(@InjectConfig() private readonly config: AppConfig) {}

  validate(value: unknown): boolean {
    return this.problem(value) === undefined;
  }

  defaultMessage({ property, value }: ValidationArguments): string {
    return `${property} ${this.problem(value) ?? ''}`;
  }

  problem(value: unknown, now = Date.now()): string | undefined {
    if (typeof value !== 'string') return 'must be an RFC 3339 date-time string';
    const epochMs = rfc3339EpochMs(value);
    if (epochMs === undefined) {
      return 'must be an RFC 3339 date-time with an offset (Z or ±hh:mm) and a UTC year from 0001 to 9999';
    }
    const { timestampMaxFutureMs, timestampMaxAgeMs } = this.config.limits;
    if (epochMs > now + timestampMaxFutureMs) {
      return `must not be more than ${timestampMaxFutureMs / 1000} seconds in the future`;
    }
    if (timestampMaxAgeMs !== undefined && epochMs < now - timestampMaxAgeMs) {
      return `must not be more than ${timestampMaxAgeMs / 1000} seconds in the past`;
    }
    return undefined;
  }
}

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
