import { TransformationType } from 'class-transformer';
import type { ClassTransformOptions } from 'class-transformer';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import type { TransformMetadata } from 'class-transformer/types/interfaces/metadata/transform-metadata.interface';
import type { TypeMetadata } from 'class-transformer/types/interfaces/metadata/type-metadata.interface';
import { getMetadataStorage, ValidationArguments, ValidationTypes, ValidatorConstraintInterface } from 'class-validator';
import type { ValidatorOptions } from 'class-validator';
import type { ConstraintMetadata } from 'class-validator/types/metadata/ConstraintMetadata';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { VALIDATOR_OPTIONS } from './validator-options';

/**
 * The fast path of DtoValidationPipe for bodies that pass: it builds the instance class-transformer's
 * `plainToInstance` would build and runs the DTO's class-validator constraints with the semantics of `validate`
 * under VALIDATOR_OPTIONS (whitelist, forbidNonWhitelisted, forbidUnknownValues) and no other options, without
 * class-transformer's deep copies and class-validator's per-object metadata lookups and error objects. The
 * class-validator decorators stay the only definition of the rules: this file reads their metadata and calls their
 * constraint instances.
 *
 * It reads both libraries' internals (class-transformer's metadata storage, the metadata types) and mirrors their
 * executors, so package.json pins class-validator and class-transformer to exact versions. An upgrade of either must
 * pass the differential specs (dto-fast-path.spec.ts, and ingest-batch.fast-path.spec.ts in libs/ingest) first.
 *
 * It only ever answers "valid, here is the instance" or "not sure": a body it refuses, or anything it does not model
 * exactly (unknown keys, values of an unexpected shape, decorators it does not support), goes through the full
 * class-transformer + class-validator path, which produces the error details. Its constraints and transforms may
 * therefore run twice on a refused body; they must be pure, as class-validator's own are.
 */

type DtoClass = new () => object;
type Plain = Record<string, unknown>;

/** class-transformer's options for `plainToInstance(type, value)` with no options (its defaultOptions). */
const TRANSFORM_OPTIONS: ClassTransformOptions = Object.freeze({
  enableCircularCheck: false,
  enableImplicitConversion: false,
  excludeExtraneousValues: false,
  exposeDefaultValues: false,
  exposeUnsetFields: true,
  ignoreDecorators: false,
});

/** The keys class-transformer skips when it copies an object; a parsed body may carry them as own properties. */
const SKIPPED_KEYS = new Set(['__proto__', 'constructor']);

interface Check {
  metadata: ValidationMetadata;
  constraints: ConstraintMetadata[];
  /**
   * The arguments handed to the constraints, refilled for each value: a body is checked synchronously from start to
   * end, and one object per check and event was the fast path's largest allocation.
   */
  args: ValidationArguments;
}

interface CompiledProperty {
  name: string;
  /** @ValidateIf: the property is validated only when every one of them says so. */
  conditions: Array<(object: object, value: unknown) => boolean>;
  /** Custom (and isDefined) constraints, which is what every built-in decorator registers. */
  checks: Check[];
  /** @ValidateNested. */
  nested: boolean;
  /** class-transformer's @Type, and its @Transform functions for plain-to-class without groups. */
  type?: TypeMetadata;
  transforms: TransformMetadata[];
}

interface CompiledClass {
  dto: DtoClass;
  properties: CompiledProperty[];
  byName: Map<string, CompiledProperty>;
}

/** null: this class uses something the fast path does not model; every body of it takes the full path. */
const compiled = new Map<unknown, CompiledClass | null>();

const NOT_SURE = Symbol('not sure');
type Verdict = boolean | typeof NOT_SURE;

function compile(dto: unknown): CompiledClass | null {
  if (compiled.has(dto)) return compiled.get(dto)!;
  const result = typeof dto === 'function' ? compileClass(dto as DtoClass) : null;
  compiled.set(dto, result);
  return result;
}

function compileClass(dto: DtoClass): CompiledClass | null {
  // class-transformer: no exposure rules (they change which keys are copied); property-level @Type and @Transform only.
  if (
    defaultMetadataStorage.getStrategy(dto) !== 'none' ||
    defaultMetadataStorage.getExposedMetadatas(dto).length > 0 ||
    defaultMetadataStorage.getExcludedMetadatas(dto).length > 0
  ) {
    return null;
  }
  const storage = getMetadataStorage();
  // The same call ValidationExecutor makes for `validate(object, options)` without groups.
  const grouped = storage.groupByPropertyName(storage.getTargetValidationMetadatas(dto, '', false, false, undefined));
  const properties: CompiledProperty[] = [];
  for (const [name, metadatas] of Object.entries(grouped)) {
    const property: CompiledProperty = { name, conditions: [], checks: [], nested: false, transforms: [] };
    for (const metadata of metadatas) {
      switch (metadata.type) {
        case ValidationTypes.CUSTOM_VALIDATION:
        case ValidationTypes.IS_DEFINED: {
          const constraints = storage.getTargetValidatorConstraints(metadata.constraintCls);
          if (constraints.some((constraint) => constraint.async)) return null;
          const args = {
            // The object is of this class (compile() was given its constructor), so this is its constructor's name.
            targetName: dto.name,
            property: metadata.propertyName,
            object: {},
            value: undefined,
            constraints: metadata.constraints,
          };
          property.checks.push({ metadata, constraints, args });
          break;
        }
        case ValidationTypes.NESTED_VALIDATION:
          property.nested = true;
          break;
        case ValidationTypes.CONDITIONAL_VALIDATION:
          property.conditions.push(metadata.constraints[0] as (object: object, value: unknown) => boolean);
          break;
        case ValidationTypes.WHITELIST:
          break;
        default:
          return null;
      }
    }
    const type = defaultMetadataStorage.findTypeMetadata(dto, name);
    if (type?.options?.discriminator !== undefined) return null;
    property.type = type;
    property.transforms = defaultMetadataStorage
      .findTransformMetadatas(dto, name, TransformationType.PLAIN_TO_CLASS)
      .filter((metadata) => !metadata.options?.groups?.length);
    properties.push(property);
  }
  return { dto, properties, byName: new Map(properties.map((property) => [property.name, property])) };
}

const isPlainObject = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/** Whether an object tree has a key class-transformer would drop when copying it. */
function hasSkippedKeys(root: object): boolean {
  const stack: object[] = [root];
  while (stack.length > 0) {
    const value = stack.pop()!;
    for (const key of Object.keys(value)) {
      if (SKIPPED_KEYS.has(key)) return true;
      const child = (value as Plain)[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return false;
}

/** A deep copy of parsed JSON (plain objects, arrays and primitives), as class-transformer makes of untyped values. */
function copyJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value as unknown[]) {
      const copy = copyJson(item);
      if (copy === NOT_SURE) return NOT_SURE;
      items.push(copy);
    }
    return items;
  }
  if (!isPlainObject(value)) return NOT_SURE;
  const copy: Plain = {};
  for (const key of Object.keys(value)) {
    const item = copyJson(value[key]);
    if (item === NOT_SURE) return NOT_SURE;
    copy[key] = item;
  }
  return copy;
}

/**
 * What `plainToInstance(dto, raw)` returns, for the shapes modelled here; NOT_SURE otherwise. A value a @Transform
 * decides (as `customdata` keeps the parsed object) is never copied first: that deep copy is what the fast path saves.
 */
function build(raw: unknown, dtoClass: CompiledClass): object | typeof NOT_SURE {
  if (!isPlainObject(raw)) return NOT_SURE;
  const instance = new dtoClass.dto() as Plain;
  const prototype = dtoClass.dto.prototype as object;
  for (const key of Object.keys(raw)) {
    const property = dtoClass.byName.get(key);
    // An unknown key is refused by the whitelist; the full path says so.
    if (property === undefined || SKIPPED_KEYS.has(key)) return NOT_SURE;
    // class-transformer does not overwrite methods or accessors.
    if (Object.getOwnPropertyDescriptor(prototype, key) !== undefined || typeof instance[key] === 'function') return NOT_SURE;
    let value = raw[key];
    if (property.type !== undefined) {
      if (typeof value !== 'object' || value === null) return NOT_SURE;
      const target = compile(property.type.typeFunction({ newObject: instance, object: raw, property: key }));
      if (target === null) return NOT_SURE;
      if (Array.isArray(value)) {
        const reflected: unknown = property.type.reflectedType;
        if (reflected !== undefined && reflected !== Array) return NOT_SURE;
        const items: unknown[] = [];
        for (const item of value as unknown[]) {
          const built = build(item, target);
          if (built === NOT_SURE) return NOT_SURE;
          items.push(built);
        }
        value = items;
      } else {
        const built = build(value, target);
        if (built === NOT_SURE) return NOT_SURE;
        value = built;
      }
    } else if (typeof value === 'object' && value !== null) {
      // class-transformer copies an untyped object or array (dropping __proto__ and constructor keys, and failing on
      // some of them); a @Transform, such as customdata's, may then keep the parsed value instead of the copy.
      if (hasSkippedKeys(value)) return NOT_SURE;
      if (property.transforms.length === 0) {
        const copy = copyJson(value);
        if (copy === NOT_SURE) return NOT_SURE;
        value = copy;
      }
    }
    for (const transform of property.transforms) {
      value = transform.transformFn({ value, key, obj: raw, type: TransformationType.PLAIN_TO_CLASS, options: TRANSFORM_OPTIONS });
    }
    instance[key] = value;
  }
  return instance;
}

const isThenable = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

/**
 * The constraint instances of one validation, as class-validator's container hands them out (looked up once per body
 * rather than once per value: the container answers the same within one call).
 */
type Validators = Map<ConstraintMetadata, ValidatorConstraintInterface>;

function validatorFor(constraint: ConstraintMetadata, validators: Validators): ValidatorConstraintInterface {
  let validator = validators.get(constraint);
  if (validator === undefined) {
    validator = constraint.instance;
    validators.set(constraint, validator);
  }
  return validator;
}

function conditionsHold(property: CompiledProperty, object: object, value: unknown): boolean {
  for (const condition of property.conditions) if (!condition(object, value)) return false;
  return true;
}

/** ValidationExecutor.execute under VALIDATOR_OPTIONS, reduced to its verdict. */
function accepts(object: object, dtoClass: CompiledClass | null, validators: Validators): Verdict {
  if (dtoClass === null) return NOT_SURE;
  // forbidUnknownValues: an object whose class has no constraints at all is refused.
  if (dtoClass.properties.length === 0) return false;
  // whitelist + forbidNonWhitelisted.
  for (const key of Object.keys(object)) if (!dtoClass.byName.has(key)) return false;
  for (const property of dtoClass.properties) {
    const value = (object as Plain)[property.name];
    if (!conditionsHold(property, object, value)) continue;
    for (const { metadata, constraints, args } of property.checks) {
      if (metadata.validateIf !== undefined && !metadata.validateIf(object, value)) continue;
      args.object = object;
      args.value = value;
      for (const constraint of constraints) {
        const validator = validatorFor(constraint, validators);
        if (metadata.each && (Array.isArray(value) || value instanceof Set || value instanceof Map)) {
          if (!Array.isArray(value)) return NOT_SURE;
          for (const item of value as unknown[]) {
            const valid = validator.validate(item, args);
            if (isThenable(valid)) return NOT_SURE;
            if (!valid) return false;
          }
        } else {
          const valid = validator.validate(value, args);
          if (isThenable(valid)) return NOT_SURE;
          if (!valid) return false;
        }
      }
    }
    if (property.nested && value !== undefined) {
      const verdict = nestedAccepts(value, validators);
      if (verdict !== true) return verdict;
    }
  }
  return true;
}

/** ValidationExecutor.nestedValidations: arrays item by item (nested arrays too), objects by their own class. */
function nestedAccepts(value: unknown, validators: Validators): Verdict {
  if (value instanceof Set || value instanceof Map) return NOT_SURE;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      if (item === undefined) continue;
      const verdict = nestedAccepts(item, validators);
      if (verdict !== true) return verdict;
    }
    return true;
  }
  if (value instanceof Object) {
    const constructor = (value as { constructor?: unknown }).constructor;
    return typeof constructor === 'function' ? accepts(value, compile(constructor), validators) : NOT_SURE;
  }
  return false;
}

/**
 * The instance `plainToInstance(dto, raw)` builds, when class-validator would accept it with `options`, which must be
 * VALIDATOR_OPTIONS itself; undefined when the body is refused or the fast path cannot tell, and the full path must run.
 */
export function acceptedInstance(dto: DtoClass, raw: object, options: Readonly<ValidatorOptions>): object | undefined {
  if (options !== VALIDATOR_OPTIONS) {
    throw new TypeError('the validation fast path models VALIDATOR_OPTIONS only: validate with other options on the full path');
  }
  const dtoClass = compile(dto);
  if (dtoClass === null) return undefined;
  try {
    const instance = build(raw, dtoClass);
    if (instance === NOT_SURE) return undefined;
    return accepts(instance, dtoClass, new Map()) === true ? instance : undefined;
  } catch {
    // A constraint or transform that throws throws again on the full path, which reports it as it always has.
    return undefined;
  }
}
