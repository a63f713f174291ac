import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeError } from './describe-error';

describe('describeError', () => {
  it('says the error and every cause in one line', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const error = new Error('batch 7 not written', { cause: new Error('query failed', { cause: refused }) });
    assert.equal(describeError(error), 'batch 7 not written: query failed: connect ECONNREFUSED 127.0.0.1:5432');
  });

  it('does not repeat a cause the message already quotes', () => {
    const cause = new Error('getaddrinfo ENOTFOUND keys.example');
    assert.equal(
      describeError(new Error(`GET /jwks failed: ${cause.message}`, { cause })),
      'GET /jwks failed: getaddrinfo ENOTFOUND keys.example',
    );
  });

  it('names what an AggregateError with an empty message holds (a refused connection to localhost)', () => {
    const error = new AggregateError(
      [
        Object.assign(new Error('connect ECONNREFUSED ::1:6390'), { code: 'ECONNREFUSED' }),
        new Error('connect ECONNREFUSED 127.0.0.1:6390'),
      ],
      '',
    );
    assert.equal(describeError(error), 'connect ECONNREFUSED ::1:6390; connect ECONNREFUSED 127.0.0.1:6390');
  });

  it('falls back to the code or the name of an error without a message, and says what a thrown non-error is', () => {
    assert.equal(describeError(Object.assign(new Error(''), { code: 'ECONNRESET' })), 'ECONNRESET');
    assert.equal(describeError(new TypeError('')), 'TypeError');
    assert.equal(describeError('timeout'), 'timeout');
    assert.equal(describeError({ code: 42 }), '{"code":42}');
    assert.equal(describeError(undefined), 'unknown error');
  });

  it('stops on a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    assert.equal(describeError(a), 'a: b');
  });
});
