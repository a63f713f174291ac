import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc16, keySlot } from './key-slot';

describe('keySlot: the Redis Cluster hash slot', () => {
  it('matches the values the Redis Cluster specification documents', () => {
    // "123456789" is the CRC16/XMODEM check value (0x31C3); both slots are quoted in the cluster specification.
    assert.equal(crc16('123456789'), 0x31c3);
    assert.equal(keySlot('123456789'), 12739);
    assert.equal(keySlot('foo'), 12182);
    assert.equal(keySlot('bar'), 5061);
  });

  it('hashes only the hash tag when there is a non-empty one', () => {
    assert.equal(keySlot('{foo}:bar'), keySlot('foo'));
    assert.equal(keySlot('x{foo}y{z}'), keySlot('foo'));
    assert.equal(keySlot('{}foo'), crc16('{}foo') % 16384, 'an empty tag hashes the whole key');
    assert.equal(keySlot('{bar'), crc16('{bar') % 16384);
    assert.equal(keySlot('{playsmart}:ingest:abc'), keySlot('playsmart'));
    assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
  });
});
