import type { ValidatorOptions } from 'class-validator';

/**
 * The class-validator options of every DTO validation: DtoValidationPipe's, @ValidateNestedBy's and the specs'.
 * Unknown properties are refused everywhere, so is an object whose class has no constraints, and the errors keep
 * neither the object nor its values. The pipe's fast path models exactly these and refuses to run under any others:
 * a change here is a change to dto-fast-path.ts, held to the full path by its differential specs.
 */
export const VALIDATOR_OPTIONS: Readonly<ValidatorOptions> = Object.freeze({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: Object.freeze({ target: false, value: false }),
});
