// Which backend owns a query, learned without shared state between replicas (transactions: transactions.ts):
// the coordinator-id part of every query id seen in responses maps to the backend that answered;
// a replica meeting an unknown coordinator id asks the candidate backends `HEAD /v1/query/{id}`.
// Everything is in bounded maps, so memory does not grow with the number of queries.
import { BoundedMap } from "./bounded-map.ts";
import { backendRequest } from "./backend-http.ts";
import { coordinatorIdOf } from "./query-id.ts";

export class StickyRoutes {
  private readonly coordinators: BoundedMap<string, string>;
  private readonly lookups = new Map<string, Promise<{ owner?: string; conclusive: boolean }>>();
  /** Coordinator ids no backend claimed recently: not asked again for a while (no probe storms). */
  private readonly unclaimed = new BoundedMap<string, number>(10_000);
  private readonly unclaimedForMs = 2000;
  lookupCount = 0;

  constructor(limits: { maxCoordinators: number }) {
    this.coordinators = new BoundedMap(limits.maxCoordinators);
  }

  learnQuery(queryId: string, backend: string): void {
    const coordinatorId = coordinatorIdOf(queryId);
    if (coordinatorId && this.coordinators.peek(coordinatorId) !== backend) this.coordinators.set(coordinatorId, backend);
  }

  coordinatorCount(): number {
    return this.coordinators.size;
  }

  /** The backend owning `queryId` if already learned (no lookup). */
  knownOwner(queryId: string): string | undefined {
    const coordinatorId = coordinatorIdOf(queryId);
    return coordinatorId ? this.coordinators.get(coordinatorId) : undefined;
  }

  /**
   * The backend owning `queryId`: from the map, else by asking `candidates` (first 200 or 403 wins:
   * a coordinator that denies viewing the query still has it). `identity` (X-Trino-User, and the
   * client's credentials when passed through) goes with the lookup: Trino authenticates /v1/query.
   */
  async ownerOf(queryId: string, candidates: string[], timeoutMs: number, identity: Record<string, string> = {}): Promise<string | undefined> {
    const coordinatorId = coordinatorIdOf(queryId);
    if (!coordinatorId) return undefined;
    const known = this.knownOwner(queryId);
    if (known) return known;
    if ((this.unclaimed.peek(coordinatorId) ?? 0) > Date.now()) return undefined;
    let lookup = this.lookups.get(coordinatorId);
    if (!lookup) {
      lookup = this.ask(queryId, candidates, timeoutMs, identity).finally(() => this.lookups.delete(coordinatorId));
      this.lookups.set(coordinatorId, lookup);
    }
    const { owner, conclusive } = await lookup;
    if (owner) this.coordinators.set(coordinatorId, owner);
    // Remembered as unclaimed only when every backend said so: not on a 401 to these credentials.
    else if (conclusive) this.unclaimed.set(coordinatorId, Date.now() + this.unclaimedForMs);
    return owner;
  }

  private ask(queryId: string, candidates: string[], timeoutMs: number, identity: Record<string, string>): Promise<{ owner?: string; conclusive: boolean }> {
    this.lookupCount++;
    const path = `/v1/query/${encodeURIComponent(queryId)}`;
    return new Promise((resolve) => {
      let pending = candidates.length;
      let conclusive = true;
      if (pending === 0) resolve({ conclusive });
      for (const backend of candidates) {
        backendRequest(backend, "HEAD", path, identity, undefined, timeoutMs)
          .then((response) => {
            if (response.status === 200 || response.status === 403) resolve({ owner: backend, conclusive: true });
            else if (response.status === 401) conclusive = false;
          })
          .catch(() => undefined)
          .finally(() => {
            if (--pending === 0) resolve({ conclusive });
          });
      }
    });
  }
}

export interface TrackedQuery {
  runtime: string;
  backend: string;
  lastSeenMs: number;
}

/**
 * Queries in flight through this replica (the query pressure): added when a response carries a
 * nextUri, removed when one arrives without it, on DELETE, after `idleMs` without a poll, or when
 * evicted for space. Counts per runtime and backend are kept alongside.
 */
export class InFlightQueries {
  private readonly queries: BoundedMap<string, TrackedQuery>;
  readonly perRuntime = new Map<string, number>();
  readonly perBackend = new Map<string, number>();
  private readonly idleMs: number;

  constructor(maxQueries: number, idleMs: number) {
    this.idleMs = idleMs;
    this.queries = new BoundedMap(maxQueries, (_id, query) => this.count(query, -1));
  }

  private count(query: TrackedQuery, delta: number): void {
    for (const [map, key] of [[this.perRuntime, query.runtime], [this.perBackend, query.backend]] as const) {
      const next = (map.get(key) ?? 0) + delta;
      if (next > 0) map.set(key, next);
      else map.delete(key);
    }
  }

  get size(): number {
    return this.queries.size;
  }

  get(queryId: string): TrackedQuery | undefined {
    return this.queries.peek(queryId);
  }

  /** Records that `queryId` is still running (a response carried a nextUri). */
  running(queryId: string, runtime: string, backend: string, nowMs = Date.now()): void {
    const existing = this.queries.get(queryId);
    if (existing) {
      existing.lastSeenMs = nowMs;
      return;
    }
    const query = { runtime, backend, lastSeenMs: nowMs };
    this.queries.set(queryId, query);
    this.count(query, +1);
  }

  finished(queryId: string): void {
    const query = this.queries.peek(queryId);
    if (!query) return;
    this.queries.delete(queryId);
    this.count(query, -1);
  }

  sweep(nowMs = Date.now()): void {
    for (const [id, query] of this.queries.entriesList()) if (nowMs - query.lastSeenMs > this.idleMs) this.finished(id);
  }
}
