import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './local-services';

/** The repository root, from dist/support. */
export const ROOT = join(__dirname, '..', '..');

export type Role = 'all-in-one' | 'gateway' | 'worker';

const START_SCRIPT: Record<Role, string> = { 'all-in-one': 'start:prod', gateway: 'start:gateway:prod', worker: 'start:worker:prod' };

/**
 * How `npm run start:*:prod` starts a role: the variables it sets, its Node flags and its entry point, read from
 * package.json so that the tests and the benchmark run each service exactly as production does.
 */
export function startCommand(role: Role): { env: Record<string, string>; nodeArgs: string[]; entry: string } {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = scripts[START_SCRIPT[role]].split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const [name, ...value] = words.shift()!.split('=');
    env[name] = value.join('=');
  }
  // `exec` makes node the process npm signals (npm forwards SIGTERM to its child, which would otherwise be a shell).
  if (words[0] === 'exec') words.shift();
  if (words[0] !== 'node' || words.length < 2) throw new Error(`${START_SCRIPT[role]} is not "[VAR=value …] exec node [flags] <entry>"`);
  return { env, nodeArgs: words.slice(1, -1), entry: words[words.length - 1] };
}

/** Resolves once `child` has exited (at once if it already has), to its exit code, or null when a signal ended it. */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface StartOptions {
  /** Extra Node flags, after the start script's own (--cpu-prof, …). */
  nodeArgs?: readonly string[];
  /** The health check that says the service has started: /health/live, or /health/ready (its dependencies too). */
  readyPath?: '/health/live' | '/health/ready';
  timeoutMs?: number;
}

// Enough to say why a process failed, bounded for a long benchmark.
const OUTPUT_KEPT = 4 * 1024 * 1024;

/** A built service in its own process, started as its start script does, with the environment given. */
export class ServiceProcess {
  private output = '';

  private constructor(
    readonly role: Role,
    private readonly child: ChildProcess,
    readonly url: string,
    /** The operations listener: /metrics, Bull Board, the docs. */
    readonly opsUrl: string,
  ) {
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > OUTPUT_KEPT) this.output = this.output.slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Started with exactly `env`, over what its start script sets. */
  static async start(role: Role, env: Record<string, string>, options: StartOptions = {}): Promise<ServiceProcess> {
    const { readyPath = '/health/ready', timeoutMs = 60_000 } = options;
    const { env: scriptEnv, nodeArgs, entry } = startCommand(role);
    const port = await freePort();
    const opsPort = await freePort();
    const child = spawn(process.execPath, [...nodeArgs, ...(options.nodeArgs ?? []), entry], {
      cwd: ROOT,
      // The caller's environment wins over the script's (the tests run the :prod scripts with NODE_ENV=test).
      env: { HOST: '127.0.0.1', PORT: String(port), OPS_PORT: String(opsPort), ...scriptEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(role, child, `http://127.0.0.1:${port}`, `http://127.0.0.1:${opsPort}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${role} exited with ${child.exitCode} while starting:\n${service.output}`);
      const ready = await fetch(`${service.url}${readyPath}`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return service;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${role} not ready within ${timeoutMs} ms:\n${service.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get logs(): string {
    return this.output;
  }

  /** Still running: it has neither exited nor been ended by a signal. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves to the exit code, or null when a signal ended the process. */
  exited(): Promise<number | null> {
    return exited(this.child);
  }

  /** SIGKILL, unless it has already exited. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await exited(this.child);
  }

  /** SIGTERM (graceful: a CPU profile, when asked for, is written on the way out), SIGKILL after `graceMs`. */
  async terminate(graceMs = 20_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited(this.child);
    clearTimeout(timer);
  }
}
