import { ArgumentMetadata, Injectable, PipeTransform, Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, ValidationError } from 'class-validator';
import { AppConfig } from '../config/app-config';
import { InjectConfig } from '../config/config.module';
import { ApiError, ErrorDetail, fieldPath } from '../errors/api-error';
import { acceptedInstance } from './dto-fast-path';
import { precheckOf } from './precheck.decorator';
import { nestedValidation, VALIDATE_NESTED_BY } from './validate-nested-by.decorator';
import { VALIDATOR_OPTIONS } from './validator-options';

const SCALAR_TYPES: ReadonlySet<unknown> = new Set([String, Boolean, Number, Array, Object]);

/**
 * The global validation pipe: a body is accepted when it passes its DTO's @Precheck, then the DTO's class-validator
 * decorators under VALIDATOR_OPTIONS (unknown properties refused everywhere, nested customdata DTOs included), whether
 * the fast path or class-transformer builds the instance. Every failing field is reported with its path in bracket
 * form (`events[1].type`).
 */
@Injectable()
export class DtoValidationPipe implements PipeTransform {
  constructor(@InjectConfig() private readonly config: AppConfig) {}

  async transform(value: unknown, { metatype, type }: ArgumentMetadata): Promise<unknown> {
    if (type !== 'body' || metatype === undefined || SCALAR_TYPES.has(metatype)) return value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw ApiError.invalidPayload([{ field: '', message: 'body must be a JSON object' }]);
    }
    const prechecked = precheckOf(metatype)?.(value as Record<string, unknown>, this.config.limits) ?? [];
    if (prechecked.length > 0) throw ApiError.invalidPayload(prechecked);

    // Most bodies pass: the fast path builds and checks them from the same decorators without class-transformer's
    // deep copies. A body it does not accept, or cannot judge, takes the full path, which reports every failing field.
    const accepted = acceptedInstance(metatype as Type<object>, value, VALIDATOR_OPTIONS);
    if (accepted !== undefined) return accepted;

    const instance = plainToInstance(metatype as Type<object>, value);
    const errors = await validate(instance, VALIDATOR_OPTIONS);
    if (errors.length > 0) throw ApiError.invalidPayload(toDetails(errors, instance));
    return instance;
  }
}

/** The details of class-validator's `errors` for `object`, the instance (or nested value) they are about. */
export function toDetails(errors: ValidationError[], object: unknown, parentPath = '', out: ErrorDetail[] = []): ErrorDetail[] {
  for (const error of errors) {
    // class-validator names array items by their index; an unknown property is always an object key, digits or not.
    const isIndex = parentPath !== '' && /^\d+$/.test(error.property) && error.constraints?.whitelistValidation === undefined;
    const path = fieldPath(parentPath, isIndex ? Number(error.property) : error.property);
    const { [VALIDATE_NESTED_BY]: nestedMessage, ...constraints } = error.constraints ?? {};
    const messages = Object.values(constraints);
    // A @ValidateNestedBy object is reported as a @ValidateNested one is: by its failing fields.
    const nested = nestedMessage === undefined ? undefined : nestedValidation(object, error.property);
    if (nestedMessage !== undefined && !nested?.errors.length) messages.push(nestedMessage);
    for (const message of messages) out.push({ field: path, message });
    // A property that is itself wrong (events that is not an array) says all there is; its children are noise.
    if (messages.length > 0) continue;
    if (nested !== undefined) toDetails(nested.errors, nested.instance, path, out);
    else if (error.children !== undefined) toDetails(error.children, childOf(object, error.property), path, out);
  }
  return out;
}

const childOf = (object: unknown, property: string): unknown =>
  typeof object === 'object' && object !== null ? (object as Record<string, unknown>)[property] : undefined;
