import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootTestApp, exampleBatch, postEvents, postOutcome, TestApp, tokenFor } from './support/test-app';

const PLAYER = 'device-abc-123';
const GAME = 'com.example.stackblaster';
const forGame = (game: unknown) => tokenFor(PLAYER, {}, { game_id: game });

describe('JWT_GAME_CLAIM: a token bound to a game posts events for that game only', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({ env: { JWT_GAME_CLAIM: 'game_id' } });
  });
  after(async () => {
    await t.close();
  });

  it('accepts a batch for the game the token names', async () => {
    assert.deepEqual(await postOutcome(t, forGame(GAME)), [202, undefined]);
  });

  it('answers 403 game_id_mismatch for another game', async () => {
    const response = await postEvents(t, { ...exampleBatch(), game_id: 'com.example.other' }, forGame(GAME));
    assert.equal(response.statusCode, 403);
    assert.deepEqual(response.json(), { error: { code: 'FORBIDDEN', message: 'game_id_mismatch' } });
  });

  it('checks the game before validation, and leaves a non-string game_id to validation', async () => {
    const invalid = { ...exampleBatch(), game_id: 'com.example.other', events: [] };
    assert.deepEqual(await postOutcome(t, forGame(GAME), invalid), [403, 'game_id_mismatch']);
    const numeric = await postEvents(t, { ...exampleBatch(), game_id: 42 }, forGame(GAME));
    assert.equal(numeric.statusCode, 400);
    const fields = numeric.json<{ error: { details: Array<{ field: string }> } }>().error.details.map((d) => d.field);
    assert.deepEqual([...new Set(fields)], ['game_id']);
  });

  it('refuses a token whose game claim is not a non-empty string', async () => {
    for (const game of ['', 42, [GAME]])
      assert.deepEqual(await postOutcome(t, forGame(game)), [401, 'invalid_token'], JSON.stringify(game));
  });

  it('leaves a token without the claim unbound', async () => {
    assert.deepEqual(await postOutcome(t, tokenFor(PLAYER), { ...exampleBatch(), game_id: 'com.example.other' }), [202, undefined]);
  });
});

describe('JWT_REQUIRE_GAME_CLAIM=true', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({ env: { JWT_GAME_CLAIM: 'game_id', JWT_REQUIRE_GAME_CLAIM: 'true' } });
  });
  after(async () => {
    await t.close();
  });

  it('refuses a token without the game claim with 401 invalid_token', async () => {
    assert.deepEqual(await postOutcome(t, tokenFor(PLAYER)), [401, 'invalid_token']);
  });

  it('accepts a token with it', async () => {
    assert.deepEqual(await postOutcome(t, forGame(GAME)), [202, undefined]);
  });
});
