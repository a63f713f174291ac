import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicAuthVerifier } from './basic-auth';

const basic = (credentials: string): string => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

describe('basicAuthVerifier', () => {
  const verify = basicAuthVerifier({ user: 'ops', password: 'pa:ss wörd' });

  it('accepts the configured user and password (the password may hold a colon)', () => {
    assert.equal(verify(basic('ops:pa:ss wörd')), true);
    assert.equal(verify(`basic  ${Buffer.from('ops:pa:ss wörd').toString('base64')}`), true);
  });

  it('refuses anything else', () => {
    for (const header of [
      undefined,
      '',
      'Basic',
      'Basic !!!',
      basic('ops'),
      basic('ops:'),
      basic('ops:pa:ss wörd '),
      basic('Ops:pa:ss wörd'),
      basic(':pa:ss wörd'),
      `Bearer ${Buffer.from('ops:pa:ss wörd').toString('base64')}`,
      `Basic ${'A'.repeat(5000)}`,
    ]) {
      assert.equal(verify(header), false, String(header));
    }
  });
});
