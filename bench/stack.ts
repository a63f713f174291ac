import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client } from 'pg';

/** The repository root, from dist/bench. */
export const ROOT = join(__dirname, '..', '..');

export type Role = 'all-in-one' | 'gateway' | 'worker';

const ENTRY: Record<Role, string> = {
  'all-in-one': 'dist/src/main.js',
  gateway: 'dist/apps/gateway/src/main.js',
  worker: 'dist/apps/worker/src/main.js',
};

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A built service entry point (`npm run start:*:prod`) in its own process, with exactly the environment given. */
export class ServiceProcess {
  private output = '';

  private constructor(
    readonly role: Role,
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    const keep = (chunk: Buffer) => {
      // The last 64 KiB are enough to say why a process failed.
      this.output = (this.output + chunk.toString()).slice(-65_536);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  static async start(role: Role, env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<ServiceProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [...nodeArgs, ENTRY[role]], {
      cwd: ROOT,
      // Only what is listed here: the benchmark's own environment never leaks into the service's configuration.
      env: { HOST: '127.0.0.1', PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(role, child, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${role} exited with ${child.exitCode} while starting:\n${service.output}`);
      const ready = await fetch(`${service.url}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return service;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${role} not ready within 60 s:\n${service.output}`);
      }
      await sleep(100);
    }
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get logs(): string {
    return this.output;
  }

  /** SIGTERM (graceful: a CPU profile, when asked for, is written on the way out), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await exited(this.child);
    clearTimeout(timer);
  }
}

/** The bare node:http server of the HTTP ceiling, in its own process. */
export class CeilingServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<CeilingServer> {
    const child = fork(join(__dirname, 'http-ceiling-server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: { port: number }) => resolve(message.port));
      child.once('exit', (code) => reject(new Error(`the HTTP ceiling server exited with ${code}`)));
    });
    return new CeilingServer(child, `http://127.0.0.1:${port}`);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async stop(): Promise<void> {
    this.child.disconnect();
    this.child.kill('SIGTERM');
    await exited(this.child);
  }
}

export interface MemoryStatus {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** The kernel's high-water mark of the resident set since the process started, MiB. */
  hwmMiB: number;
}

/** VmRSS and VmHWM from /proc/<pid>/status (Linux); undefined elsewhere or once the process is gone. */
export function memoryOf(pid: number): MemoryStatus | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const rss = kib('VmRSS');
    const hwm = kib('VmHWM');
    return Number.isNaN(rss) ? undefined : { rssMiB: rss / 1024, hwmMiB: hwm / 1024 };
  } catch {
    return undefined;
  }
}

/** User + system CPU time a process has used so far, in seconds (/proc/<pid>/stat, USER_HZ = 100); 0 elsewhere. */
export function cpuSecondsOf(pid: number): number {
  try {
    // The command name (field 2) may contain spaces: the fields after it start at the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const MIB_IN_MB = 1.048_576;

/** Polls the resident set of some processes and keeps the highest value seen for each. */
export class RssSampler {
  private readonly peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly processes: ReadonlyArray<{ name: string; pid: number }>,
    intervalMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    for (const { name, pid } of this.processes) {
      const memory = memoryOf(pid);
      if (memory !== undefined) this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, memory.rssMiB * MIB_IN_MB));
    }
  }

  /** Peak sampled RSS per process, MB (10^6 bytes, as the targets are given). */
  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample();
    return Object.fromEntries([...this.peaks].map(([name, mb]) => [name, Math.round(mb)]));
  }
}

/** A fresh database (`bench_<random>`) on the server of `adminUrl`, and the function that drops it. */
export async function createDatabase(adminUrl: string, label: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `bench_${label}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Removes every Redis key under a queue prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
