import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Exclude, plainToInstance, Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Validate,
  ValidateIf,
  ValidateNested,
  validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import fc from 'fast-check';
import { acceptedInstance } from './dto-fast-path';
import { ValidateNestedBy } from './validate-nested-by.decorator';
import { VALIDATOR_OPTIONS } from './validator-options';

// DTOs that use every kind of decorator the fast path models, and two it does not.

@ValidatorConstraint({ name: 'even' })
class EvenConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'number' && value % 2 === 0;
  }
}

class PriceDto {
  @IsInt()
  @Max(100)
  amount: number;

  @IsOptional()
  @IsIn(['EUR', 'USD'])
  currency?: string;
}

class ItemDto {
  @IsString()
  @IsIn(['a', 'b', 'c'])
  kind: string;

  @ValidateIf((item: ItemDto) => item.count !== undefined)
  @IsInt()
  @Max(10)
  count?: number;

  @IsOptional()
  @Validate(EvenConstraint)
  even?: number;

  // Kept as parsed, as IngestEventDto keeps customdata.
  @ValidateIf((item: ItemDto) => item.data !== undefined)
  @Validate(EvenConstraint, { each: true })
  @Transform(({ obj }: { obj: { data?: unknown } }) => obj.data)
  data?: unknown;

  // Checked against the class its kind chooses, as customdata is against its event type's DTO.
  @ValidateNestedBy((item: ItemDto) => (item.kind === 'c' ? PriceDto : undefined))
  price?: unknown;
}

class BodyDto {
  @IsString()
  @MaxLength(8)
  name: string;

  @IsArray()
  @ArrayMaxSize(3)
  @ValidateNested({ each: true })
  @Type(() => ItemDto)
  items: ItemDto[];

  @IsOptional()
  @ValidateNested()
  @Type(() => ItemDto)
  main?: ItemDto;

  @IsOptional()
  @IsString({ each: true })
  tags?: string[];
}

class ExcludingDto {
  @IsString()
  name: string;

  @Exclude()
  @IsOptional()
  secret?: string;
}

/** What the full path (class-transformer, then class-validator) makes of a body: the instance, or null when refused. */
async function fullPath(type: new () => object, body: object): Promise<object | null> {
  let instance: object;
  try {
    instance = plainToInstance(type, structuredClone(body));
  } catch {
    // class-transformer fails on some keys (a "constructor" that is not a function); the pipe's precheck refuses them.
    return null;
  }
  return (await validate(instance, VALIDATOR_OPTIONS)).length === 0 ? instance : null;
}

const validBody = () => ({
  name: 'x',
  items: [
    { kind: 'a', count: 2 },
    { kind: 'b', data: [2, 4] },
  ],
  main: { kind: 'c', even: 4, price: { amount: 3, currency: 'EUR' } },
  tags: ['t'],
});

describe('acceptedInstance (the validation pipe fast path)', () => {
  it('builds the instance class-transformer builds for a valid body', async () => {
    const body = validBody();
    const fast = acceptedInstance(BodyDto, structuredClone(body), VALIDATOR_OPTIONS);
    assert.ok(fast instanceof BodyDto);
    assert.ok(fast.items[0] instanceof ItemDto && fast.main instanceof ItemDto);
    assert.deepEqual(fast, await fullPath(BodyDto, body));
  });

  it('keeps the value a @Transform chooses (the parsed object itself, not a copy)', () => {
    const body = validBody();
    const fast = acceptedInstance(BodyDto, body, VALIDATOR_OPTIONS) as BodyDto;
    assert.equal(fast.items[1].data, body.items[1].data);
  });

  describe('leaves every body it does not accept to the full path', () => {
    const cases: Array<[string, unknown]> = [
      ['an unknown property', { ...validBody(), extra: 1 }],
      ['an unknown nested property', { ...validBody(), main: { kind: 'a', extra: 1 } }],
      ['a failing constraint', { ...validBody(), name: 'far too long' }],
      ['a failing nested constraint', { ...validBody(), items: [{ kind: 'z' }] }],
      ['a failing constraint on each item', { ...validBody(), tags: ['t', 3] }],
      ['a failing field of a @ValidateNestedBy object', { ...validBody(), main: { kind: 'c', price: { amount: 101 } } }],
      ['an unknown field of a @ValidateNestedBy object', { ...validBody(), main: { kind: 'c', price: { amount: 1, extra: 1 } } }],
      ['a @ValidateNestedBy value that is not an object', { ...validBody(), main: { kind: 'c', price: [{ amount: 1 }] } }],
      ['a nested value that is not an object', { ...validBody(), items: ['a'] }],
      [
        'a nested array of objects (class-transformer and class-validator accept it; the fast path does not model it)',
        { ...validBody(), items: [[{ kind: 'a' }]] },
      ],
      ['an own __proto__ key', JSON.parse('{"name":"x","items":[],"__proto__":{"a":1}}')],
      ['a constructor key', { ...validBody(), constructor: 'x' }],
    ];
    for (const [name, body] of cases) {
      it(name, () => {
        assert.equal(acceptedInstance(BodyDto, body as object, VALIDATOR_OPTIONS), undefined);
      });
    }
  });

  it('never takes a class that uses decorators it does not model', () => {
    assert.equal(acceptedInstance(ExcludingDto, { name: 'x' }, VALIDATOR_OPTIONS), undefined);
  });

  it('agrees with class-transformer + class-validator on arbitrary bodies', async () => {
    // Mostly valid values, so that both paths accept a good share of the bodies; sometimes invalid or missing ones.
    const usually = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) =>
      fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: invalid }, { weight: 1, arbitrary: fc.constant(undefined) });
    const scalar = fc.oneof(
      fc.constantFrom('a', 'z', '', 'far too long'),
      fc.integer({ min: -3, max: 12 }),
      fc.boolean(),
      fc.constant(null),
    );
    const defined = <T extends object>(record: fc.Arbitrary<T>) =>
      record.map((value) => Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)));
    const item = fc.oneof(
      {
        weight: 12,
        arbitrary: defined(
          fc.record({
            kind: usually(fc.constantFrom('a', 'b', 'c'), scalar),
            count: usually(fc.integer({ min: 0, max: 10 }), scalar),
            even: usually(fc.constantFrom(0, 2, 4), scalar),
            data: usually(
              fc.array(fc.constantFrom(2, 4), { maxLength: 3 }),
              fc.oneof(scalar, fc.dictionary(fc.constantFrom('k', 'constructor'), scalar)),
            ),
            price: usually(
              defined(
                fc.record({
                  amount: usually(fc.integer({ min: 0, max: 100 }), scalar),
                  currency: usually(fc.constantFrom('EUR', 'USD'), scalar),
                  other: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: scalar }),
                }),
              ),
              fc.oneof(scalar, fc.array(scalar, { maxLength: 2 })),
            ),
            other: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: scalar }),
          }),
        ),
      },
      { weight: 1, arbitrary: scalar },
    );
    const body = defined(
      fc.record({
        name: usually(fc.constantFrom('x', 'name'), scalar),
        items: usually(
          fc.array(item, { maxLength: 3 }),
          fc.oneof(item, fc.array(fc.array(item, { maxLength: 2 }), { maxLength: 2 }), fc.array(item, { minLength: 4, maxLength: 5 })),
        ),
        main: usually(item, scalar),
        tags: usually(fc.array(fc.constantFrom('t', 'u'), { maxLength: 3 }), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }))),
        extra: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: scalar }),
      }),
    );
    let valid = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const full = await fullPath(BodyDto, generated);
        const fast = acceptedInstance(BodyDto, structuredClone(generated), VALIDATOR_OPTIONS);
        if (full !== null) valid++;
        // Never more lenient than the full path, and when it answers, the same instance.
        if (fast !== undefined) {
          accepted++;
          assert.notEqual(full, null, 'the fast path accepted a body the full path refuses');
          assert.deepEqual(fast, full);
        }
      }),
      { numRuns: 3000 },
    );
    // It answers for 90 to 95 % of the valid bodies (about 700 in a run of 3000); the others use what it leaves to the
    // full path on purpose (a null `main`, nested arrays of items). Under 88 %, it has quietly stopped answering for some.
    assert.ok(valid >= 500, `only ${valid} of the generated bodies are valid`);
    assert.ok(accepted >= 0.88 * valid, `the fast path answered for ${accepted} of ${valid} valid bodies`);
  });

  it('refuses to run under options other than VALIDATOR_OPTIONS, even an equal copy', () => {
    for (const options of [{ ...VALIDATOR_OPTIONS }, { ...VALIDATOR_OPTIONS, whitelist: false }, {}]) {
      assert.throws(() => acceptedInstance(BodyDto, validBody(), options), TypeError);
    }
  });

  it('models VALIDATOR_OPTIONS, which nothing can change at run time', () => {
    assert.throws(() => Object.assign(VALIDATOR_OPTIONS, { whitelist: false }), TypeError);
    assert.throws(() => Object.assign(VALIDATOR_OPTIONS.validationError!, { value: true }), TypeError);
  });

  it('runs against the exact class-validator and class-transformer versions package.json pins', () => {
    // dist/libs/platform/src/http -> the repository.
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', '..', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of ['class-validator', 'class-transformer']) {
      const installed = (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
      assert.equal(manifest.dependencies[name], installed, `${name} is pinned to the installed ${installed}`);
    }
  });
});
