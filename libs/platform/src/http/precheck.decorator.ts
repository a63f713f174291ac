import type { ValidationLimits } from '../config/app-config';
import type { ErrorDetail } from '../errors/api-error';

/**
 * Cheap checks on a raw body that DtoValidationPipe runs before class-transformer builds the DTO: any detail refuses
 * the body with those details alone.
 */
export type DtoPrecheck = (raw: Record<string, unknown>, limits: ValidationLimits) => ErrorDetail[];

const PRECHECKS = new WeakMap<object, DtoPrecheck>();

/** Gives a body DTO its precheck; a class that extends it has the same one unless it declares its own. */
export const Precheck =
  (check: DtoPrecheck): ClassDecorator =>
  (target) => {
    PRECHECKS.set(target, check);
  };

export function precheckOf(dto: unknown): DtoPrecheck | undefined {
  for (let type = dto; typeof type === 'function'; type = Object.getPrototypeOf(type)) {
    const check = PRECHECKS.get(type);
    if (check !== undefined) return check;
  }
  return undefined;
}
