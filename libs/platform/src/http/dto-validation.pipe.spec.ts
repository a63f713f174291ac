import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from 'class-transformer';
import { IsArray, IsIn, IsInt, IsOptional, IsString, Min, ValidateNested } from 'class-validator';
import { loadConfig } from '../config/app-config';
import { ApiError, ErrorBody, ErrorDetail } from '../errors/api-error';
import { DtoValidationPipe } from './dto-validation.pipe';
import { Precheck } from './precheck.decorator';
import { ValidateNestedBy } from './validate-nested-by.decorator';

const pipe = new DtoValidationPipe(loadConfig({ NODE_ENV: 'test' }));

const transform = (body: object, metatype: new () => object): Promise<unknown> => pipe.transform(body, { type: 'body', metatype });

/** The details of the 400 the pipe answers `body` with. */
async function refusal(body: object, metatype: new () => object): Promise<ErrorDetail[]> {
  let details: ErrorDetail[] | undefined;
  await assert.rejects(transform(body, metatype), (error: unknown) => {
    assert.ok(error instanceof ApiError && error.getStatus() === 400, `a 400, got ${String(error)}`);
    details = (error.getResponse() as ErrorBody).error.details;
    return true;
  });
  return details ?? [];
}

describe('DtoValidationPipe', () => {
  describe('prechecks', () => {
    let calls = 0;
    const stopOnName = (raw: Record<string, unknown>): ErrorDetail[] => {
      calls++;
      return raw.name === 'stop' ? [{ field: 'name', message: 'stopped before validation' }] : [];
    };

    @Precheck(stopOnName)
    class PrecheckedDto {
      @IsString()
      name: string;
    }

    class ExtendingDto extends PrecheckedDto {}

    class NamedLikeAPrecheckDto {
      @IsString()
      name: string;

      static precheck(): ErrorDetail[] {
        calls++;
        return [{ field: 'name', message: 'a method is not a precheck' }];
      }
    }

    it('runs the precheck @Precheck gives a DTO, and its details alone refuse the body', async () => {
      assert.deepEqual(await refusal({ name: 'stop', extra: 1 }, PrecheckedDto), [{ field: 'name', message: 'stopped before validation' }]);
      assert.ok((await transform({ name: 'go' }, PrecheckedDto)) instanceof PrecheckedDto);
    });

    it('runs it for a DTO that extends the prechecked one', async () => {
      assert.deepEqual(await refusal({ name: 'stop' }, ExtendingDto), [{ field: 'name', message: 'stopped before validation' }]);
    });

    it('does not take a static method named precheck for one', async () => {
      calls = 0;
      assert.ok((await transform({ name: 'stop' }, NamedLikeAPrecheckDto)) instanceof NamedLikeAPrecheckDto);
      assert.equal(calls, 0);
    });
  });

  describe('@ValidateNestedBy', () => {
    class TaxDto {
      @IsIn([0, 7, 19])
      rate: number;
    }

    class PriceDto {
      @IsInt()
      @Min(0)
      price: number;

      @IsOptional()
      @ValidateNested()
      @Type(() => TaxDto)
      tax?: TaxDto;
    }

    class LineDto {
      @IsIn(['priced', 'free'])
      kind: string;

      @ValidateNestedBy((line: LineDto) => (line.kind === 'priced' ? PriceDto : undefined))
      detail?: unknown;
    }

    class OrderDto {
      @IsString()
      customer: string;

      @IsArray()
      @ValidateNested({ each: true })
      @Type(() => LineDto)
      lines: LineDto[];
    }

    const order = (...details: unknown[]) => ({
      customer: 'c',
      lines: details.map((detail, index) => ({ kind: index === 0 ? 'free' : 'priced', detail })),
    });

    it('accepts a value its class accepts, and any value where no class applies', async () => {
      const result = (await transform(order('anything', { price: 3, tax: { rate: 7 } }, undefined), OrderDto)) as OrderDto;
      assert.ok(result instanceof OrderDto);
      assert.deepEqual(result.lines[1].detail, { price: 3, tax: { rate: 7 } });
    });

    it('reports the failing fields below the property, unknown ones too, with the rest of the body', async () => {
      const body = { ...order(null, { price: -1, discount: 2 }, { price: 1, tax: { rate: 5 } }), customer: 1 };
      assert.deepEqual(
        (await refusal(body, OrderDto)).map((detail) => detail.field),
        ['customer', 'lines[1].detail.discount', 'lines[1].detail.price', 'lines[2].detail.tax.rate'],
      );
      assert.deepEqual((await refusal(order(null, { price: 1, discount: 2 }), OrderDto))[0], {
        field: 'lines[1].detail.discount',
        message: 'property discount should not exist',
      });
    });

    it('refuses a value that is not an object with one message on the property', async () => {
      for (const detail of ['x', null, [{ price: 1 }]]) {
        assert.deepEqual(await refusal(order(null, detail), OrderDto), [{ field: 'lines[1].detail', message: 'detail must be an object' }]);
      }
    });
  });
});
