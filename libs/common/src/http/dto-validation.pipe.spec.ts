import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IsString } from 'class-validator';
import { loadConfig } from '../config/app-config';
import { ApiError, ErrorBody, ErrorDetail } from '../errors/api-error';
import { DtoValidationPipe } from './dto-validation.pipe';
import { Precheck } from './precheck.decorator';

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
});
