import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE_NAMES, EVENT_TYPES } from '#ingest';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { bootTestApp, deletePrefix, postEvents, TestApp, tokenFor } from './support/test-app';

const ROOT = join(__dirname, '..', '..');
const COMMITTED = join(ROOT, 'openapi.json');
const STALE = 'Run `npm run openapi` and commit openapi.json';

function generator(args: string[]) {
  return spawnSync(process.execPath, ['dist/scripts/generate-openapi.js', ...args], {
    cwd: ROOT,
    // No configuration at all: the generator connects to nothing and reads no variable.
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

interface Example {
  summary: string;
  value: { error: { code: string; message: string; details?: unknown[] } };
}
interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: { $ref?: string }; examples?: Record<string, Example> }>;
}
interface Operation {
  description?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: { enum?: string[] } }>;
  responses: Record<string, Response>;
}
interface Document {
  info: { description: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
}

const ENVELOPE = '#/components/schemas/ErrorEnvelopeDto';

/** `error.code` is the status's name. */
const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

const committedDocument = JSON.parse(readFileSync(COMMITTED, 'utf8')) as Document;
const ingest = committedDocument.paths['/ingest/events'].post;
const receipt = committedDocument.paths['/ingest/batches/{batch_id}'].get;
const json = (response: Response) => response.content?.['application/json'];

async function servedDocument(t: TestApp): Promise<unknown> {
  const response = await t.inject({ method: 'GET', url: '/docs-json' });
  assert.equal(response.statusCode, 200);
  return response.json();
}

describe('openapi.json: the committed OpenAPI document', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('equals the document the all-in-one service serves at /docs-json', async () => {
    const committed: unknown = JSON.parse(readFileSync(COMMITTED, 'utf8'));
    assert.deepEqual(await servedDocument(t), committed, `openapi.json is out of date. ${STALE}.`);
  });

  it('equals the document the gateway serves at /docs-json', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    // The gateway reads receipts only and starts without a database.
    const gateway = await bootTestApp({ rootModule: GatewayModule, shared: { databaseUrl: 'postgres://nobody@127.0.0.1:1/none', prefix } });
    try {
      assert.deepEqual(
        await servedDocument(gateway),
        JSON.parse(readFileSync(COMMITTED, 'utf8')),
        `openapi.json is out of date. ${STALE}.`,
      );
    } finally {
      await deletePrefix(gateway.redis, prefix);
      await gateway.close();
    }
  });

  it('is formatted as the generator writes it: 2-space indentation and a final newline', () => {
    const text = readFileSync(COMMITTED, 'utf8');
    assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  });

  it('npm run openapi:check passes on the committed file and fails, with a hint, on a stale one', () => {
    const ok = generator(['--check']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /up to date/);

    const dir = mkdtempSync(join(tmpdir(), 'playsmart-openapi-'));
    try {
      const stale = join(dir, 'openapi.json');
      const document = JSON.parse(readFileSync(COMMITTED, 'utf8')) as { paths: Record<string, unknown> };
      delete document.paths['/ingest/events'];
      writeFileSync(stale, `${JSON.stringify(document, null, 2)}\n`);
      const failed = generator(['--check', '--file', stale]);
      assert.equal(failed.status, 1);
      assert.match(failed.stderr, /is out of date/);
      assert.ok(failed.stderr.includes('Run `npm run openapi` and commit'), failed.stderr);
      assert.match(failed.stderr, /\+ POST \/ingest\/events \(not in the committed file\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('its error examples are what the service answers', () => {
    /** The documented example named `name` of `status`. */
    const documented = (operation: Operation, status: number, name: string) => {
      const example = json(operation.responses[String(status)])?.examples?.[name];
      assert.ok(example, `no example ${name} for ${status}`);
      return example.value;
    };

    function assertAnswers(response: Awaited<ReturnType<TestApp['inject']>>, operation: Operation, name: string): void {
      assert.deepEqual(response.json(), documented(operation, response.statusCode, name), response.body);
    }

    it('415 for another content type or coding', async () => {
      const token = tokenFor('device-abc-123');
      assertAnswers(await postEvents(t, '{}', token, { 'content-type': 'text/plain' }), ingest, 'content_type_must_be_application_json');
      const encoded = await postEvents(t, '{}', token, { 'content-encoding': 'br' });
      assertAnswers(encoded, ingest, 'unsupported_content_encoding');
      assert.equal(encoded.headers['accept-encoding'], 'gzip, deflate');
    });

    it('401 without a token, 413 over the (default) limit', async () => {
      assertAnswers(await postEvents(t, '{}'), ingest, 'missing_token');
      assertAnswers(await postEvents(t, 'x'.repeat(1024 * 1024 + 1), tokenFor('device-abc-123')), ingest, 'body_too_large');
    });

    it('400 malformed_url, 414 and 404 on GET /ingest/batches/{batch_id}', async () => {
      const authorization = `Bearer ${tokenFor('device-abc-123')}`;
      const get = (url: string) => t.inject({ method: 'GET', url, headers: { authorization } });
      assertAnswers(await get('/ingest/batches/%ZZ'), receipt, 'malformed_url');
      assertAnswers(await get(`/ingest/batches/${'a'.repeat(150)}`), receipt, 'path_parameter_too_long');
      assertAnswers(await get(`/ingest/batches/${randomUUID()}`), receipt, 'batch_not_found');
    });
  });
});

describe('openapi.json: what it tells a client', () => {
  const operations = Object.entries(committedDocument.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
  );
  const errorResponses = operations.flatMap(({ name, operation }) =>
    Object.entries(operation.responses)
      .filter(([status]) => Number(status) >= 400)
      .map(([status, response]) => ({ name: `${name} ${status}`, status: Number(status), response })),
  );
  /** The messages of a response's examples, in order. */
  const messages = (response: Response) => Object.values(json(response)?.examples ?? {}).map((example) => example.value.error.message);

  it('describes the error envelope once, as a schema of its own', () => {
    const { schemas } = committedDocument.components;
    assert.deepEqual(schemas.ErrorEnvelopeDto.properties, { error: { $ref: '#/components/schemas/ErrorDto' } });
    assert.deepEqual(schemas.ErrorEnvelopeDto.required, ['error']);
    assert.deepEqual(Object.keys(schemas.ErrorDto.properties ?? {}), ['code', 'message', 'details']);
    assert.deepEqual(schemas.ErrorDto.required, ['code', 'message']);
    assert.deepEqual(schemas.ErrorDetailDto.required, ['field', 'message']);
  });

  it('every error response of every operation references the envelope, and describes and exemplifies the same reasons', () => {
    assert.ok(errorResponses.length >= 13, `only ${errorResponses.length} error responses`);
    for (const { name, status, response } of errorResponses) {
      assert.deepEqual(Object.keys(response.content ?? {}), ['application/json'], name);
      assert.equal(json(response)?.schema?.$ref, ENVELOPE, `${name} does not reference the envelope`);
      const examples = Object.values(json(response)?.examples ?? {}).map(({ value }) => value);
      assert.ok(examples.length > 0, `${name} has no example`);
      for (const { error } of examples) assert.equal(error.code, STATUS_NAMES[status], `${name}: ${JSON.stringify(error)}`);
      // The description lists each reason with its meaning, as "- `reason`: meaning".
      const described = [...response.description.matchAll(/^- `(\w+)`: \S/gm)].map(([, reason]) => reason);
      const exemplified = [...new Set(examples.map(({ error }) => error.message.split(':')[0]))];
      assert.deepEqual(exemplified, described, name);
    }
  });

  it('POST /ingest/events: the 503 documents buffer_full, queue_unavailable and shutting_down, with Retry-After', () => {
    assert.deepEqual(messages(ingest.responses['503']).sort(), ['buffer_full', 'queue_unavailable', 'shutting_down']);
    assert.ok(ingest.responses['503'].headers?.['Retry-After']);
  });

  it('GET /ingest/batches/{batch_id}: the 503 documents database_unavailable, queue_unavailable and shutting_down', () => {
    assert.deepEqual(messages(receipt.responses['503']).sort(), ['database_unavailable', 'queue_unavailable', 'shutting_down']);
  });

  it('POST /ingest/events: the 415 documents both reasons, and Accept-Encoding', () => {
    assert.deepEqual(messages(ingest.responses['415']), ['content_type_must_be_application_json', 'unsupported_content_encoding']);
    assert.match(JSON.stringify(ingest.responses['415'].headers?.['Accept-Encoding']), /gzip, deflate/);
  });

  it('POST /ingest/events: every 401, 403 and 429 reason is documented', () => {
    assert.deepEqual(messages(ingest.responses['401']), ['missing_token', 'token_expired', 'invalid_token']);
    assert.deepEqual(messages(ingest.responses['403']), ['user_id_mismatch', 'game_id_mismatch']);
    assert.deepEqual(messages(ingest.responses['429']), ['rate_limited', 'too_many_bytes_in_flight']);
  });

  it('POST /ingest/events: compressed bodies are documented, in the description and as the Content-Encoding header', () => {
    assert.match(ingest.description ?? '', /Content-Encoding: gzip` or `deflate`/);
    assert.match(ingest.description ?? '', /both as sent and once\s+decompressed/);
    const header = ingest.parameters?.find((parameter) => parameter.in === 'header' && parameter.name === 'Content-Encoding');
    assert.ok(header, 'no Content-Encoding header parameter');
    assert.equal(header.required, false);
    assert.deepEqual(header.schema?.enum, ['gzip', 'deflate', 'identity']);
  });

  it('every event type of the catalogue is listed with its description', () => {
    const type = committedDocument.components.schemas.IngestEventDto.properties?.type as { enum: string[]; description: string };
    assert.deepEqual(type.enum, EVENT_TYPE_NAMES);
    for (const [name, { description }] of Object.entries(EVENT_TYPES))
      assert.ok(type.description.includes(`\`${name}\`: ${description}`), name);
  });

  it('the token hint is `npm run -s token`, whose output $(…) can capture (without -s npm prints its banner too)', () => {
    assert.match(committedDocument.info.description, /`npm run -s token -- <player-id>`/);
    assert.doesNotMatch(committedDocument.info.description, /npm run token/);
  });
});
