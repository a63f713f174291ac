import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryFailedError } from 'typeorm';
import { DatabaseUnavailable } from './database-connection';
import { isDatabaseUnreachable } from './database-errors';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isDatabaseUnreachable', () => {
  it('recognises a database out of reach, however the driver says it', () => {
    for (const error of [
      withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      withCode('ECONNRESET', 'read ECONNRESET'),
      withCode('08006', 'connection failure'),
      withCode('57P01', 'terminating connection due to administrator command'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      new DatabaseUnavailable('PostgreSQL is not connected yet'),
      new QueryFailedError('INSERT …', [], withCode('ECONNRESET')),
      new QueryFailedError('INSERT …', [], new Error('Connection terminated unexpectedly')),
    ]) {
      assert.equal(isDatabaseUnreachable(error), true, String(error));
    }
  });

  it("does not excuse a batch's own failure: those spend attempts and end as failed jobs", () => {
    for (const error of [
      withCode('42P01', 'relation "events" does not exist'),
      withCode('22P02', 'invalid input syntax for type uuid'),
      withCode('57014', 'canceling statement due to statement timeout'),
      new QueryFailedError('INSERT …', [], withCode('23502', 'null value in column "type"')),
      new Error('batch 1: the job body does not match its user_id and count'),
      'a string',
      undefined,
    ]) {
      assert.equal(isDatabaseUnreachable(error), false, String(error));
    }
  });
});
