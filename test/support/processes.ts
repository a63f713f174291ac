import { ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../support/local-services';
import { exited, Role, ServiceProcess } from '../../support/service-process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
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

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
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
 * A TCP proxy that a test can cut (refusing and dropping every connection) and restore on the same port, or make
 * slow: from a matching chunk on, what that connection's client sends is held back until release().
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private holdMatcher?: (chunk: Buffer) => boolean;
  private readonly held = new Map<Socket, Buffer[]>();

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetPort);
    await proxy.restore();
    return proxy;
  }

  async restore(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((client) => {
      const upstream = new Socket();
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      upstream.connect(this.targetPort, '127.0.0.1');
      client.on('data', (chunk: Buffer) => {
        const held = this.held.get(upstream);
        if (held !== undefined) held.push(chunk);
        else if (this.holdMatcher?.(chunk) === true) this.held.set(upstream, [chunk]);
        else upstream.write(chunk);
      });
      upstream.pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
  }

  /** Holds back each connection's traffic to the target from the first chunk `matches` accepts. */
  holdWhen(matches: (chunk: Buffer) => boolean): void {
    this.holdMatcher = matches;
  }

  /** Sends everything held back, in order, and stops holding. */
  release(): void {
    this.holdMatcher = undefined;
    for (const [upstream, chunks] of this.held) for (const chunk of chunks) upstream.write(chunk);
    this.held.clear();
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
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

export { ServiceProcess };
