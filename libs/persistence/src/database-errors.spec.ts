import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryFailedError } from 'typeorm';
import { DatabaseUnavailable } from './database-connection';
import { describeDatabaseError, isDatabaseUnreachable } from './database-errors';

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

describe('describeDatabaseError', () => {
  it('says the SQLSTATE and the names involved, never the message, the detail, the statement or its parameters', () => {
    const refused = Object.assign(new Error('new row for relation "events" violates check constraint "refuse"'), {
      code: '23514',
      table: 'events',
      constraint: 'refuse',
      detail: 'Failing row contains (device-abc-123, {"note": "secret"}).',
    });
    const described = describeDatabaseError(new QueryFailedError('INSERT …', ['device-abc-123', '{"note":"secret"}'], refused));
    assert.equal(described, 'SQLSTATE 23514 (table events, constraint refuse)');
    assert.equal(describeDatabaseError(withCode('22P02', 'invalid input syntax for type uuid: "secret"')), 'SQLSTATE 22P02');
    assert.equal(describeDatabaseError(new Error('wrapped', { cause: withCode('42P01') })), 'SQLSTATE 42P01');
    assert.equal(describeDatabaseError(withCode('XX000')), 'SQLSTATE XX000');
  });

  it('is undefined for an error without a SQLSTATE, Node socket codes included', () => {
    for (const error of [new Error('Connection terminated unexpectedly'), withCode('EPIPE'), withCode('ECONNRESET'), 'text', undefined]) {
      assert.equal(describeDatabaseError(error), undefined, String(error));
    }
  });
});
