import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiErrorResponse } from './error-envelope.dto';
import { bodyTooLarge, ERROR_REASONS, reasonMeaning, reasonOf } from './error-reasons';

describe('ERROR_REASONS', () => {
  it('a message is its reason, alone or followed by ": " and a detail', () => {
    assert.equal(reasonOf('buffer_full'), 'buffer_full');
    assert.equal(reasonOf(bodyTooLarge(1024)), 'body_too_large');
    assert.equal(bodyTooLarge(1024), 'body_too_large: the limit is 1024 bytes');
  });

  it("gives a catalogued reason's meaning, and none for anything else", () => {
    assert.equal(reasonMeaning(503, 'shutting_down'), ERROR_REASONS[503].shutting_down);
    assert.equal(reasonMeaning(503, 'not_ready: redis down'), ERROR_REASONS[503].not_ready);
    assert.equal(reasonMeaning(503, 'rate_limited'), undefined, 'a reason of another status');
    assert.equal(reasonMeaning(418, 'teapot'), undefined, 'a status without reasons');
    assert.equal(reasonMeaning(400, 'toString'), undefined, "not an object's inherited property");
  });

  it('every reason is snake_case and says what it means', () => {
    for (const [status, reasons] of Object.entries(ERROR_REASONS)) {
      for (const [reason, meaning] of Object.entries(reasons)) {
        assert.match(reason, /^[a-z]+(_[a-z]+)*$/, `${status} ${reason}`);
        assert.match(meaning, /^\S.*\.$/, `${status} ${reason}`);
      }
    }
  });

  it('ApiErrorResponse refuses two examples of one name: the second would hide the first', () => {
    assert.throws(() => ApiErrorResponse(400, { examples: ['invalid_payload', 'invalid_payload'] }), /two examples named alike/);
    assert.doesNotThrow(() => ApiErrorResponse(400, { examples: ['invalid_payload', { message: 'invalid_payload', summary: 'another' }] }));
  });
});
