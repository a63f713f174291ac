import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Pool } from 'pg';
import { queueShards, type QueueShard } from '#pipeline';
import { keySlot } from '#platform';
import { Answer, sendBatch, Traffic, writtenOnce } from './support/batch-traffic';
import { ServiceProcess, startService } from './support/processes';
import { ask, RedisClusterNodes, SentinelGroup } from './support/redis-topologies';
import { createTestDatabase, eventually, TEST_SECRET } from './support/test-app';

// The scaled-out deployment, end to end: two gateway and two worker processes, started as `npm run start:gateway:prod`
// and `start:worker:prod` start them, with QUEUE_SHARDS=6 and REDIS_WAIT_REPLICAS=1, on a Redis Cluster of three
// masters with a replica each, and on Sentinel (a primary, two replicas, three sentinels). Under load through both
// gateways the test SIGKILLs a worker (restarted, as an orchestrator would) and a gateway (not), kills the Redis
// primary holding shard 0, and lets the restarted worker drop a partition older than EVENTS_RETENTION_DAYS. Every batch
// answered 202 must be stored exactly once, the counters of buffered events must come back to 0, and on the Cluster
// the shards' keys must be spread over every master.

const SHARDS = 6;
/** A month older than the retention, whose partition the maintenance must drop. */
const EXPIRED_PARTITION = 'events_p20200101';

interface Topology {
  env: Record<string, string>;
  /** Kills the Redis primary holding `shard`, and resolves once another serves it (with a replica for WAIT 1). */
  failPrimary(shard: QueueShard): Promise<void>;
  /** A command on one key (the first argument), sent to the primary serving it now. */
  command(...command: [string, string, ...(string | number)[]]): Promise<unknown>;
  stop(): Promise<void>;
}

async function clusterTopology(): Promise<Topology & { cluster: RedisClusterNodes }> {
  const cluster = await RedisClusterNodes.start();
  return {
    cluster,
    env: { REDIS_CLUSTER_NODES: cluster.addresses },
    async failPrimary(shard) {
      const primary = await cluster.primaryOf(shard.slot!);
      const survivor = cluster.nodes.find((node) => node !== primary)!;
      await primary.kill();
      const promoted = await eventually(async () => {
        const now = await cluster.primaryOf(shard.slot!, survivor.port).catch(() => undefined);
        return now !== undefined && now !== primary ? now : undefined;
      }, 30_000);
      // Back as the promoted one's replica, so that WAIT 1 can be met on its shards again.
      await primary.restart();
      await eventually(
        async () => (/connected_slaves:1/.test(String(await ask(promoted.port, 'INFO', 'replication'))) ? true : undefined),
        30_000,
      );
    },
    async command(...command) {
      const primary = await cluster.primaryOf(keySlot(command[1]));
      return ask(primary.port, ...command);
    },
    stop: () => cluster.stop(),
  };
}

async function sentinelTopology(): Promise<Topology> {
  const group = await SentinelGroup.start();
  return {
    env: { REDIS_SENTINELS: group.addresses, REDIS_SENTINEL_MASTER: SentinelGroup.MASTER },
    async failPrimary() {
      // Every shard is on the one primary; its second replica follows the promoted one.
      await group.primary.kill();
      const promoted = await eventually(async () => {
        const port = await group.currentPrimaryPort();
        return port !== group.primary.port ? port : undefined;
      }, 30_000);
      await eventually(
        async () => (/connected_slaves:1/.test(String(await ask(promoted, 'INFO', 'replication'))) ? true : undefined),
        30_000,
      );
    },
    async command(...command) {
      return ask(await group.currentPrimaryPort(), ...command);
    },
    stop: () => group.stop(),
  };
}

describe(
  'scaled out: 2 gateways and 2 workers, QUEUE_SHARDS=6, through a worker, a gateway and a Redis primary killed',
  { timeout: 300_000 },
  () => {
    let database: { url: string; drop: () => Promise<void> };
    let db: Pool;

    before(async () => {
      database = await createTestDatabase();
      db = new Pool({ connectionString: database.url, max: 2 });
    });
    after(async () => {
      await db.end();
      await database.drop();
    });

    async function run(t: TestContext, topology: Topology, prefix: string): Promise<void> {
      const env = {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: database.url,
        JWT_SECRET: TEST_SECRET,
        RATE_LIMIT_PER_SUB_PER_SECOND: '0',
        RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '0',
        RATE_LIMIT_PER_IP_PER_SECOND: '0',
        QUEUE_PREFIX: prefix,
        QUEUE_SHARDS: String(SHARDS),
        REDIS_WAIT_REPLICAS: '1',
        // A killed worker's jobs are taken up within seconds, and counted batches never queued are released within seconds.
        WORKER_LOCK_DURATION_MS: '2000',
        BUFFER_RECONCILE_INTERVAL_SECONDS: '1',
        EVENTS_RETENTION_DAYS: '365',
        ...topology.env,
      };
      const shards = queueShards({ prefix, shards: SHARDS });
      const workers: ServiceProcess[] = await Promise.all([startService('worker', env), startService('worker', env)]);
      const gateways: ServiceProcess[] = await Promise.all([startService('gateway', env), startService('gateway', env)]);
      try {
        for (const gateway of gateways) {
          await eventually(async () => ((await sendBatch(gateway.url)).status === 202 ? true : undefined), 15_000);
        }
        const traffic = new Traffic(gateways.map((gateway) => gateway.url));
        const { answers } = traffic;
        traffic.start();
        await traffic.more(40);

        // A worker dies holding jobs; the orchestrator starts it again, and its partition maintenance drops the expired
        // partition created meanwhile (with a row in it).
        workers[0].kill('SIGKILL');
        await workers[0].exited();
        await db.query(
          `CREATE TABLE ${EXPIRED_PARTITION} PARTITION OF events FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')`,
        );
        await db.query(
          `INSERT INTO events (user_id, event_id, game_id, type, occurred_at, received_at, batch_id) VALUES ('old', $1, 'com.a.b', 'LevelStarted', '2020-01-15', now(), $2)`,
          [randomUUID(), randomUUID()],
        );
        workers[0] = await startService('worker', env);
        await traffic.more(40);

        // A gateway dies with requests in flight; the load balancer stops sending it more.
        const [, killedGateway] = gateways;
        killedGateway.kill('SIGKILL');
        traffic.targets.splice(traffic.targets.indexOf(killedGateway.url), 1);
        await killedGateway.exited();
        await traffic.more(40);

        const killedAt = Date.now();
        await topology.failPrimary(shards[0]);
        const failedOverAt = Date.now();
        await traffic.more(80);
        await eventually(() => Promise.resolve(answers.slice(-40).every((answer) => answer.status === 202) ? true : undefined), 60_000);
        await traffic.stop();

        const unexpected = answers.filter((answer) => answer.status !== 202 && answer.status !== 503 && answer.url !== killedGateway.url);
        assert.deepEqual(
          unexpected.map((answer) => `${answer.status} after ${Math.round(answer.ms)} ms at +${answer.at - killedAt} ms`),
          [],
          'every answer of a live gateway is 202 or 503 (0: none within 2.5 s)',
        );
        const refused = answers.filter((answer) => answer.status === 503);
        const accepted = answers.filter((answer) => answer.status === 202).map((answer) => answer.batchId!);
        const window =
          refused.length === 0
            ? 'no 503'
            : `${refused.length} 503s from +${Math.min(...refused.map((a) => a.at)) - killedAt} ms to +${Math.max(...refused.map((a) => a.at)) - killedAt} ms`;
        t.diagnostic(
          `${answers.length} batches, ${accepted.length} answered 202; primary killed, replaced after ${failedOverAt - killedAt} ms; ${window}; ` +
            `${answers.filter((answer) => answer.status === 0).length} unanswered (the killed gateway's); slowest answer ` +
            `${Math.round(Math.max(...answers.map((answer: Answer) => answer.ms)))} ms`,
        );

        await writtenOnce(db, accepted, 60_000);
        // And a batch a gateway counted in shard 4 and died before queueing, as its reserve script leaves it.
        await topology.command('SET', `${shards[4].counterKey}:reserved:${randomUUID()}`, '5');
        await topology.command('INCRBY', shards[4].counterKey, 5);
        const counters = () => Promise.all(shards.map(async (shard) => Number((await topology.command('GET', shard.counterKey)) ?? 0)));
        await eventually(async () => ((await counters()).every((count) => count === 0) ? true : undefined), 30_000);
        await eventually(async () => {
          const { rows } = await db.query(`SELECT 1 FROM pg_class WHERE relname = $1`, [EXPIRED_PARTITION]);
          return rows.length === 0 ? true : undefined;
        }, 30_000);
        for (const service of [gateways[0], ...workers]) {
          assert.ok(service.alive, `${service.role} ${service.pid} still runs`);
          assert.equal((await fetch(`${service.url}/health/ready`)).status, 200, `${service.role} ${service.pid} is ready`);
        }
      } finally {
        await Promise.all([...gateways, ...workers].map((service) => service.stop()));
      }
    }

    it('on a Redis Cluster of 3 masters and 3 replicas: the shards stay two per master, each master holds keys of its shards', async (t) => {
      const topology = await clusterTopology();
      const prefix = `scale-${randomUUID().slice(0, 8)}`;
      try {
        await run(t, topology, prefix);
        const { cluster } = topology;
        const shards = queueShards({ prefix, shards: SHARDS });
        const perPrimary = new Map<number, number>();
        for (const shard of shards) {
          const primary = await cluster.primaryOf(shard.slot!);
          perPrimary.set(primary.port, (perPrimary.get(primary.port) ?? 0) + 1);
          const keys = Number(await ask(primary.port, 'CLUSTER', 'COUNTKEYSINSLOT', shard.slot!));
          assert.ok(keys > 0, `shard ${shard.index} has keys on its master ${primary.port}`);
        }
        assert.deepEqual([...perPrimary.values()], [2, 2, 2], `shards per master: ${JSON.stringify([...perPrimary])}`);
      } finally {
        await topology.stop();
      }
    });

    it('on Sentinel with a primary, 2 replicas and 3 sentinels', async (t) => {
      const topology = await sentinelTopology();
      try {
        await run(t, topology, `scale-${randomUUID().slice(0, 8)}`);
      } finally {
        await topology.stop();
      }
    });
  },
);
