import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, registerDecorator, validateSync, ValidationArguments, ValidationError } from 'class-validator';
import { VALIDATOR_OPTIONS } from './validator-options';

/** The class a property's value must satisfy, chosen from the object holding it; undefined: no class, no check. */
export type NestedClassSelector<T extends object = object> = (object: T) => Type<object> | undefined;

/** The constraint's name, the key of its message in a ValidationError's constraints. */
export const VALIDATE_NESTED_BY = 'validateNestedBy';

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null && !Array.isArray(value);

function validateAs(type: Type<object>, value: object): { instance: object; errors: ValidationError[] } {
  const instance = plainToInstance(type, value);
  return { instance, errors: validateSync(instance, VALIDATOR_OPTIONS) };
}

/**
 * @ValidateNested with the class chosen per object (`customdata` by its event's type), which class-validator cannot
 * express: where `select` names a class, a value other than undefined must be an object (not an array) that
 * class-transformer builds into that class and class-validator accepts with VALIDATOR_OPTIONS, as the rest of the
 * body. DtoValidationPipe reports what is wrong with it field by field below the property
 * (`events[2].customdata.price`), as it does for @ValidateNested. The nested class's constraints must be synchronous.
 */
export function ValidateNestedBy<T extends object>(select: NestedClassSelector<T>): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: VALIDATE_NESTED_BY,
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [select],
      validator: {
        validate: (value: unknown, { object }: ValidationArguments) => {
          const type = select(object as T);
          // As for @ValidateNested, a missing value is for @IsDefined or @IsOptional to judge.
          if (type === undefined || value === undefined) return true;
          return isObject(value) && validateAs(type, value).errors.length === 0;
        },
        defaultMessage: ({ property }: ValidationArguments) => `${property} must be an object`,
      },
    });
}

/**
 * The instance built from `object[property]` and class-validator's errors for it, when that property is a
 * @ValidateNestedBy one whose class applies and its value is an object; undefined otherwise.
 */
export function nestedValidation(object: unknown, property: string): { instance: object; errors: ValidationError[] } | undefined {
  if (!isObject(object)) return undefined;
  const storage = getMetadataStorage();
  const metadata = storage
    .getTargetValidationMetadatas(object.constructor, '', false, false, undefined)
    .find((candidate) => candidate.name === VALIDATE_NESTED_BY && candidate.propertyName === property);
  const type = (metadata?.constraints[0] as NestedClassSelector | undefined)?.(object);
  const value = (object as Record<string, unknown>)[property];
  return type === undefined || !isObject(value) ? undefined : validateAs(type, value);
}
