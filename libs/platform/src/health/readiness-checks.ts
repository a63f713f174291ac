import { Injectable } from '@nestjs/common';

/** Resolves when the dependency answers; any rejection (or no answer within a second) reports it down. */
export type ReadinessProbe = () => Promise<unknown>;

/**
 * What `GET /health/ready` checks besides Redis, which every process uses. A module whose work depends on something
 * more adds its probe when it initialises (a writer's PersistenceModule adds `database`), so each process checks exactly what
 * it depends on: the gateway Redis only, the worker and the all-in-one Redis and PostgreSQL.
 */
@Injectable()
export class ReadinessChecks {
  private readonly probes = new Map<string, ReadinessProbe>();

  add(name: string, probe: ReadinessProbe): void {
    if (this.probes.has(name)) throw new Error(`readiness check "${name}" is already registered`);
    this.probes.set(name, probe);
  }

  entries(): ReadonlyMap<string, ReadinessProbe> {
    return this.probes;
  }
}
