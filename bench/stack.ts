import { ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exited } from '../support/service-process';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
