import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode } from 'jsonwebtoken';
import { bootTestApp, postOutcome, TestApp, tokenFor } from './support/test-app';

const DAY = 86400;

describe('RFC 8725 token checks', () => {
  describe('maximum lifetime: 7 days by default', () => {
    let t: TestApp;
    before(async () => {
      t = await bootTestApp();
    });
    after(async () => {
      await t.close();
    });

    it('accepts a token that expires in 7 days', async () => {
      assert.deepEqual(await postOutcome(t, tokenFor('device-abc-123', { expiresIn: 7 * DAY })), [202, undefined]);
    });

    it('refuses a token valid for 8 days or 100 years', async () => {
      assert.deepEqual(await postOutcome(t, tokenFor('device-abc-123', { expiresIn: 8 * DAY })), [401, 'invalid_token']);
      assert.deepEqual(await postOutcome(t, tokenFor('device-abc-123', { expiresIn: 100 * 365 * DAY })), [401, 'invalid_token']);
    });
  });

  describe('a token verified a moment ago (its verification is remembered for the next batches)', () => {
    let t: TestApp;
    before(async () => {
      t = await bootTestApp({ env: { JWT_CLOCK_TOLERANCE_SECONDS: '0' } });
    });
    after(async () => {
      await t.close();
    });

    it('is refused as soon as it expires, as one never seen before would be', async () => {
      const token = tokenFor('device-abc-123', { expiresIn: 2 });
      const { exp } = decode(token) as { exp: number };
      assert.deepEqual(await postOutcome(t, token), [202, undefined]);
      assert.deepEqual(await postOutcome(t, token), [202, undefined]);
      await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
      assert.deepEqual(await postOutcome(t, token), [401, 'token_expired']);
    });
  });

  describe('JWT_TYPE=at+jwt and JWT_MAX_LIFETIME_SECONDS=3600', () => {
    let t: TestApp;
    before(async () => {
      t = await bootTestApp({ env: { JWT_TYPE: 'at+jwt', JWT_MAX_LIFETIME_SECONDS: '3600' } });
    });
    after(async () => {
      await t.close();
    });
    const typed = (typ: string, expiresIn = 600) => tokenFor('device-abc-123', { expiresIn, header: { alg: 'HS256', typ } });

    it('accepts typ at+jwt in any case, and application/at+jwt', async () => {
      for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt'])
        assert.deepEqual(await postOutcome(t, typed(typ)), [202, undefined], typ);
    });

    it('refuses typ JWT, or none', async () => {
      assert.deepEqual(await postOutcome(t, typed('JWT')), [401, 'invalid_token']);
      assert.deepEqual(await postOutcome(t, tokenFor('device-abc-123')), [401, 'invalid_token'], 'jsonwebtoken writes typ JWT by default');
      const noTyp = tokenFor('device-abc-123', { header: { alg: 'HS256', typ: undefined } });
      assert.equal(decode(noTyp, { complete: true })?.header.typ, undefined);
      assert.deepEqual(await postOutcome(t, noTyp), [401, 'invalid_token']);
    });

    it('refuses a token valid for longer than JWT_MAX_LIFETIME_SECONDS', async () => {
      assert.deepEqual(await postOutcome(t, typed('at+jwt', 3600)), [202, undefined]);
      assert.deepEqual(await postOutcome(t, typed('at+jwt', 7200)), [401, 'invalid_token']);
    });
  });
});
