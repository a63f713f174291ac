import { ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../support/local-services';
import { exited, Role, ServiceProcess } from '../../support/service-process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A private redis-server with an append-only file fsynced on every write, so a killed server loses nothing. */
export class PrivateRedis {
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'playsmart-redis-'));

  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[],
  ) {}

  /**
   * On a free port, or on `port` (one a service was told to use before Redis was there), with `extraArgs` added to
   * the command line (users, TLS). With `--port 0 --tls-port <port>` it listens for TLS only.
   */
  static async start(port?: number, extraArgs: readonly string[] = []): Promise<PrivateRedis> {
    const redis = new PrivateRedis(port ?? (await freePort()), extraArgs);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    await waitUntil(() => canConnect(this.port), 10_000, 'redis-server');
  }

  async kill(): Promise<void> {
    if (this.child === undefined) return;
    const child = this.child;
    this.child = undefined;
    child.kill('SIGKILL');
    await exited(child);
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * How a TcpProxy breaks the link: `refuse` stops listening and closes every connection (a server that is down);
 * `reset` answers every connection, open or new, with a TCP RST; `blackhole` keeps connections open and delivers
 * nothing either way until healed (a partition, a stuck load balancer, a paused VM), then delivers what it held, as
 * TCP's retransmissions would; `{ delayMs }` delivers everything that much later, in order.
 */
export type ProxyFault = 'refuse' | 'reset' | 'blackhole' | { delayMs: number };

export function describeFault(fault: ProxyFault): string {
  return typeof fault === 'string' ? fault : `${fault.delayMs} ms of added latency`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One direction of a proxied connection: forwards chunks in order, now, later, or once released. */
class Direction {
  private readonly held: Buffer[] = [];
  private sending = Promise.resolve();

  constructor(private readonly to: Socket) {}

  send(chunk: Buffer, fault: ProxyFault | undefined, hold = false): void {
    if (hold || fault === 'blackhole' || this.held.length > 0) {
      this.held.push(chunk);
      return;
    }
    const at = Date.now() + (typeof fault === 'object' ? fault.delayMs : 0);
    // Chained, so that a chunk never overtakes one sent before it with a delay.
    this.sending = this.sending.then(async () => {
      if (at > Date.now()) await sleep(at - Date.now());
      if (!this.to.destroyed) this.to.write(chunk);
    });
  }

  /** Sends what was held, in order, under `fault`. */
  flush(fault: ProxyFault | undefined): void {
    for (const chunk of this.held.splice(0)) this.send(chunk, fault);
  }
}

interface Link {
  client: Socket;
  upstream: Socket;
  toUpstream: Direction;
  toClient: Direction;
  /** The client's traffic is held from a chunk holdWhen() matched until release(). */
  holding: boolean;
}

/**
 * A TCP proxy in front of a real service, which a test breaks (ProxyFault) and heals on the same port, or makes hold
 * back one command: from a matching chunk on, what that connection's client sends is held until release().
 */
export class TcpProxy {
  private server?: Server;
  private readonly links = new Set<Link>();
  private fault?: ProxyFault;
  private holdMatcher?: (chunk: Buffer) => boolean;

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetPort);
    await proxy.listen();
    return proxy;
  }

  /** Breaks the link, for the connections open now and those made until heal(). */
  async break(fault: ProxyFault): Promise<void> {
    this.fault = fault;
    if (fault === 'refuse') {
      const server = this.server;
      this.server = undefined;
      for (const link of this.links) this.drop(link);
      if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    } else if (fault === 'reset') {
      for (const link of this.links) this.drop(link, true);
    }
  }

  /** Mends the link: listens again if it refused, and delivers what a blackhole held. */
  async heal(): Promise<void> {
    this.fault = undefined;
    await this.listen();
    for (const link of this.links) {
      link.toUpstream.flush(undefined);
      link.toClient.flush(undefined);
    }
  }

  /** Holds back each connection's traffic to the target from the first chunk `matches` accepts. */
  holdWhen(matches: (chunk: Buffer) => boolean): void {
    this.holdMatcher = matches;
  }

  /** Sends everything held back, in order, and stops holding. */
  release(): void {
    this.holdMatcher = undefined;
    for (const link of this.links) {
      link.holding = false;
      link.toUpstream.flush(this.fault);
    }
  }

  /** Refuses and closes everything (as break('refuse')); restore() listens again. */
  cut(): Promise<void> {
    return this.break('refuse');
  }

  restore(): Promise<void> {
    return this.heal();
  }

  private async listen(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
  }

  private accept(client: Socket): void {
    const upstream = new Socket();
    const link: Link = { client, upstream, toUpstream: new Direction(upstream), toClient: new Direction(client), holding: false };
    this.links.add(link);
    for (const socket of [client, upstream]) socket.on('error', () => socket.destroy());
    client.once('close', () => {
      upstream.destroy();
      this.links.delete(link);
    });
    upstream.once('close', () => client.destroy());
    if (this.fault === 'reset') {
      this.drop(link, true);
      return;
    }
    upstream.connect(this.targetPort, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      if (!link.holding && this.holdMatcher?.(chunk) === true) link.holding = true;
      link.toUpstream.send(chunk, this.fault, link.holding);
    });
    upstream.on('data', (chunk: Buffer) => link.toClient.send(chunk, this.fault));
  }

  private drop(link: Link, reset = false): void {
    if (reset) link.client.resetAndDestroy();
    else link.client.destroy();
    link.upstream.destroy();
    this.links.delete(link);
  }
}

/** A service started as its `npm run start:*:prod` script does, ready once /health/live answers, logging warnings. */
export function startService(role: Role, env: Record<string, string>): Promise<ServiceProcess> {
  return ServiceProcess.start(
    role,
    { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env },
    { readyPath: '/health/live', timeoutMs: 30_000 },
  );
}

export { freePort, ServiceProcess };
