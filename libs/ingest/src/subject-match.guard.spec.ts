import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutionContext } from '@nestjs/common';
import { ApiError } from '#platform';
import { SubjectMatchGuard } from './subject-match.guard';

function contextFor(body: unknown, user: { sub: string; game?: string } | null = { sub: 'device-abc-123' }): ExecutionContext {
  const request = { body, user: user ?? undefined };
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

function assertForbidden(context: ExecutionContext, message = 'user_id_mismatch'): void {
  assert.throws(
    () => new SubjectMatchGuard().canActivate(context),
    (error: unknown) => {
      assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
      assert.equal(error.getStatus(), 403);
      assert.deepEqual(error.getResponse(), { error: { code: 'FORBIDDEN', message } });
      return true;
    },
  );
}

describe('SubjectMatchGuard', () => {
  it('lets a player send events as themselves', () => {
    assert.equal(new SubjectMatchGuard().canActivate(contextFor({ user_id: 'device-abc-123', events: [] })), true);
  });

  describe('answers 403 user_id_mismatch when user_id names someone else', () => {
    const mismatches: Array<[string, string]> = [
      ['another player', 'device-xyz-999'],
      ['a different case', 'DEVICE-ABC-123'],
      ['a prefix of the subject', 'device-abc'],
      ['the subject with trailing whitespace', 'device-abc-123 '],
      ['an empty string', ''],
    ];
    for (const [name, userId] of mismatches) {
      it(name, () => {
        assertForbidden(contextFor({ user_id: userId }));
      });
    }

    it('when the request carries no authenticated user', () => {
      assertForbidden(contextFor({ user_id: 'device-abc-123' }, null));
    });
  });

  describe('leaves bodies without a string user_id to validation', () => {
    const bodies: Array<[string, unknown]> = [
      ['no user_id', { game_id: 'com.example.x' }],
      ['a numeric user_id', { user_id: 42 }],
      ['a null user_id', { user_id: null }],
      ['an array user_id', { user_id: ['device-xyz-999'] }],
      ['an object user_id', { user_id: { sub: 'device-xyz-999' } }],
      ['a null body', null],
      ['no body', undefined],
      ['a string body', '{"user_id":"device-xyz-999"}'],
      ['an array body', [{ user_id: 'device-xyz-999' }]],
    ];
    for (const [name, body] of bodies) {
      it(name, () => {
        assert.equal(new SubjectMatchGuard().canActivate(contextFor(body)), true);
      });
    }
  });

  describe('with a token bound to a game (JWT_GAME_CLAIM)', () => {
    const player = { sub: 'device-abc-123', game: 'com.example.stackblaster' };

    it('lets the player send events for that game', () => {
      assert.equal(
        new SubjectMatchGuard().canActivate(contextFor({ user_id: 'device-abc-123', game_id: 'com.example.stackblaster' }, player)),
        true,
      );
    });

    it('answers 403 game_id_mismatch for another game, compared exactly', () => {
      for (const gameId of ['com.example.other', 'com.example.StackBlaster', 'com.example.stackblaster ', '']) {
        assertForbidden(contextFor({ user_id: 'device-abc-123', game_id: gameId }, player), 'game_id_mismatch');
      }
    });

    it('answers user_id_mismatch first when both differ', () => {
      assertForbidden(contextFor({ user_id: 'device-xyz-999', game_id: 'com.example.other' }, player), 'user_id_mismatch');
    });

    it('leaves a missing or non-string game_id to validation', () => {
      for (const gameId of [undefined, null, 42, ['com.example.other']]) {
        assert.equal(new SubjectMatchGuard().canActivate(contextFor({ user_id: 'device-abc-123', game_id: gameId }, player)), true);
      }
    });

    it('does not bind a token without the claim to any game', () => {
      assert.equal(new SubjectMatchGuard().canActivate(contextFor({ user_id: 'device-abc-123', game_id: 'com.example.other' })), true);
    });
  });
});
