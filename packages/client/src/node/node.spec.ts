import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { failure, FakeClock, harness, InspectableStorage } from '../testing/fakes.js';
import { FileStorage } from './file-storage.js';
import { nodeLifecycle } from './lifecycle.js';

describe('@playsmart/client/node', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  async function scratch(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'playsmart-client-'));
    dirs.push(dir);
    return dir;
  }

  it('FileStorage: nothing saved is null; a save replaces the file whole, through a temporary file renamed over it', async () => {
    const dir = await scratch();
    const path = join(dir, 'queues', 'device-abc-123.json');
    const storage = new FileStorage(path);
    assert.equal(await storage.load(), null);
    await storage.save('{"v":1}');
    await Promise.all([storage.save('{"v":2}'), storage.save('{"v":3}')]);
    assert.equal(await storage.load(), '{"v":3}');
    assert.deepEqual(await readdir(join(dir, 'queues')), ['device-abc-123.json'], 'no temporary file left');
  });

  it('a restart on the same file sends the saved events with their event_ids', async () => {
    const path = join(await scratch(), 'queue.json');
    const clock = new FakeClock();
    const first = harness({ flushAt: 3, storage: new FileStorage(path) }, { clock });
    first.server.events = () => failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable');
    const ids = [
      first.client.track('SessionStarted'),
      first.client.track('LevelStarted'),
      first.client.track('LevelCompleted', { level: 5 }),
    ];
    await first.client.flush();
    await first.client.shutdown({ timeoutMs: 1000 });
    const saved = JSON.parse(await readFile(path, 'utf8')) as { events: { event_id: string }[] };
    assert.deepEqual(
      saved.events.map((event) => event.event_id),
      ids,
    );

    const second = harness({ storage: new FileStorage(path) }, { clock, storage: new InspectableStorage() });
    await second.client.flush();
    assert.deepEqual(second.server.sentIds, [ids]);
    await second.client.shutdown();
    assert.deepEqual((JSON.parse(await readFile(path, 'utf8')) as { events: unknown[] }).events, []);
  });

  it("nodeLifecycle: the process's beforeExit flushes the queue; shutdown() stops listening", async () => {
    const process = new EventEmitter();
    const { client, server } = harness({ flushAt: 100, lifecycle: nodeLifecycle(process as unknown as NodeJS.Process) });
    client.track('SessionEnded');
    assert.equal(process.listenerCount('beforeExit'), 1);
    process.emit('beforeExit', 0);
    await client.shutdown();
    assert.equal(server.posts.length, 1);
    assert.equal(process.listenerCount('beforeExit'), 0);
  });
});
