import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileTypeValidator } from '@nestjs/common';
import fastifyStatic from '@fastify/static';
import Fastify, { FastifyInstance } from 'fastify';

// package.json's "overrides" hold three packages at the last major that still supports Node 20 (their next majors
// declare Node >= 22), below the ranges their dependents ask for. Nothing in the service calls these paths, so a
// release of a dependent that needs the newer API would only show here. Drop the overrides, and this file, with
// Node 20.

describe('packages held back for Node 20 by package.json overrides, through the code that uses them', () => {
  let app: FastifyInstance;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'playsmart-overrides-'));
    writeFileSync(join(dir, 'report.txt'), 'text');
    app = Fastify();
    await app.register(fastifyStatic, { root: dir, serve: false });
    app.get('/download', (_request, reply) => reply.download('report.txt', 'résumé 2026.txt'));
    app.get('/cookie', (request) => ({ cookie: request.headers.cookie }));
    await app.ready();
  });

  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('file-type: @nestjs/common FileTypeValidator detects a type from its magic number', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d494844520000000100000001080600000000', 'hex');
    const validator = new FileTypeValidator({ fileType: 'image/png' });
    assert.equal(await validator.isValid({ mimetype: 'image/png', size: png.length, buffer: png }), true);
    const pdf = Buffer.from('%PDF-1.7\n');
    const declaredOnly = { mimetype: 'image/png', size: pdf.length, buffer: pdf };
    assert.equal(await validator.isValid(declaredOnly), false);
    assert.match(validator.buildErrorMessage(declaredOnly), /current file type is application\/pdf/);
  });

  it("cookie: Fastify's inject (light-my-request) writes the cookies it is given", async () => {
    const response = await app.inject({ method: 'GET', url: '/cookie', cookies: { sid: 'a b', theme: 'dark' } });
    assert.deepEqual(response.json(), { cookie: 'sid=a%20b; theme=dark' });
  });

  it("content-disposition: @fastify/static's reply.download names the file, with a fallback for non-ASCII", async () => {
    const response = await app.inject({ method: 'GET', url: '/download' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, 'text');
    assert.equal(
      response.headers['content-disposition'],
      `attachment; filename="r?sum? 2026.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.txt`,
    );
  });
});
