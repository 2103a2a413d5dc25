// Which backend owns a query, learned without shared state between replicas (transactions: transactions.ts):
// the coordinator-id part of every query id seen in responses maps to the backend that answered;
// a replica meeting an unknown coordinator id asks the candidate backends `HEAD /v1/query/{id}`,
// and for a poll of a queued nextUri also `HEAD` of that nextUri (see ownerOf).
// Query owners (user, principal) are recorded from the POSTs this replica relays, else asked of the
// owning coordinator once per query.
// Everything is in bounded maps, so memory does not grow with the number of queries.
import { BoundedMap } from "./bounded-map.ts";
import http from "node:http";
import https from "node:https";
import { agentFor, backendAddress, backendRequest } from "./backend-http.ts";
import { coordinatorIdOf } from "./query-id.ts";

/** A new lookup may start (the asking client's lookup budget, see app.ts); false refuses it. */
export type LookupAdmission = () => boolean;

export class StickyRoutes {
  private readonly coordinators: BoundedMap<string, string>;
  private readonly lookups = new Map<string, Promise<{ owner?: string; conclusive: boolean }>>();
  /**
   * Coordinator ids no backend claimed recently: not asked again for a while, so junk follow-ups
   * cost backend requests at most once per coordinator id and period, however often they repeat.
   */
  private readonly unclaimed = new BoundedMap<string, number>(10_000);
  private readonly unclaimedForMs = 30_000;
  lookupCount = 0;
  /**
   * Told of every coordinator id this process learned itself (from an answer or a lookup), not of
   * those taught by `learnCoordinator`: with --workers, workers.ts shares them with the other workers.
   */
  onLearn: ((coordinatorId: string, backend: string) => void) | undefined;

  constructor(limits: { maxCoordinators: number }) {
    this.coordinators = new BoundedMap(limits.maxCoordinators);
  }

  learnQuery(queryId: string, backend: string): void {
    const coordinatorId = coordinatorIdOf(queryId);
    if (coordinatorId && this.coordinators.peek(coordinatorId) !== backend) {
      this.coordinators.set(coordinatorId, backend);
      this.onLearn?.(coordinatorId, backend);
    }
  }

  /** A coordinator id another worker process learned (no onLearn: it came from there). */
  learnCoordinator(coordinatorId: string, backend: string): void {
    if (this.coordinators.peek(coordinatorId) !== backend) this.coordinators.set(coordinatorId, backend);
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
   * a coordinator that denies viewing the query still has it). `identity` (X-Trino-User) goes with
   * the lookup: Trino authenticates /v1/query. One lookup per coordinator id at a time; a new one
   * only when `admit` allows it ("throttled" otherwise).
   *
   * `queuedPath`, for a poll of a queued nextUri: Trino creates the query only at the first poll of
   * that URI, and until then answers /v1/query/{id} with 410 as for an unknown query. So the
   * candidates are also asked `HEAD <queuedPath>` (the first poll itself, which creates the query
   * on its owner; Trino checks the slug, so any other coordinator answers 404). Its lookup and its
   * "unclaimed" memory are per path: the slug is what proves the client's claim.
   */
  async ownerOf(
    queryId: string,
    candidates: string[],
    timeoutMs: number,
    identity: Record<string, string> = {},
    admit: LookupAdmission = () => true,
    queuedPath?: string,
  ): Promise<string | undefined | "throttled"> {
    const coordinatorId = coordinatorIdOf(queryId);
    if (!coordinatorId) return undefined;
    const known = this.knownOwner(queryId);
    if (known) return known;
    // Different principals may ask different backends (their runtimes): what one set of backends
    // did not claim says nothing about another set.
    const key = `${coordinatorId}\u0000${candidates.join("\u0000")}${queuedPath ? `\u0000${queuedPath}` : ""}`;
    if ((this.unclaimed.peek(key) ?? 0) > Date.now()) return undefined;
    let lookup = this.lookups.get(key);
    if (!lookup) {
      if (!admit()) return "throttled";
      lookup = this.ask(queryId, candidates, timeoutMs, identity, queuedPath).finally(() => this.lookups.delete(key));
      this.lookups.set(key, lookup);
    }
    const { owner, conclusive } = await lookup;
    if (owner) {
      // Several waiters share one lookup: only the first records (and shares) the owner.
      if (this.coordinators.peek(coordinatorId) !== owner) {
        this.coordinators.set(coordinatorId, owner);
        this.onLearn?.(coordinatorId, owner);
      }
    }
    // Remembered as unclaimed only when every backend answered so: not on a 401 or an unreachable backend.
    else if (conclusive) this.unclaimed.set(key, Date.now() + this.unclaimedForMs);
    return owner;
  }

  private ask(
    queryId: string,
    candidates: string[],
    timeoutMs: number,
    identity: Record<string, string>,
    queuedPath?: string,
  ): Promise<{ owner?: string; conclusive: boolean }> {
    this.lookupCount++;
    // A 403 to /v1/query says "here, but not for you". Only 404 says "not here" for sure: Trino
    // answers 410 also for a query of its own not yet polled (so a 410 is never remembered as unclaimed).
    const probes: Array<{ path: string; claims: (status: number) => boolean }> = [
      { path: `/v1/query/${queryId}`, claims: (status) => status === 200 || status === 403 },
    ];
    if (queuedPath) probes.push({ path: queuedPath, claims: (status) => status === 200 });
    return new Promise((resolve) => {
      let pending = candidates.length * probes.length;
      let conclusive = true;
      if (pending === 0) resolve({ conclusive });
      for (const backend of candidates) {
        for (const probe of probes) {
          backendRequest(backend, "HEAD", probe.path, identity, undefined, timeoutMs)
            .then((response) => {
              if (probe.claims(response.status)) resolve({ owner: backend, conclusive: true });
              else if (response.status !== 404) conclusive = false;
            })
            .catch(() => {
              conclusive = false;
            })
            .finally(() => {
              if (--pending === 0) resolve({ conclusive });
            });
        }
      }
    });
  }
}

/** Who a query belongs to: its Trino user (X-Trino-User) and, when this replica saw it submitted, the authenticated principal. */
export interface QueryOwner {
  user: string;
  principal?: string;
}

/** How much of a coordinator's QueryInfo is read to find `session.user` (it comes first; the SQL comes later). */
const ownerInfoPrefixBytes = 64 * 1024;
const sessionStart = /"session"\s*:\s*\{/;
const jsonString = /"((?:[^"\\]|\\.)*)"/y;

/**
 * `session.user` of a (possibly cut) QueryInfo JSON text: the value of key "user" directly inside
 * the first "session" object (nested values such as the query span are skipped); undefined when the
 * text ends before it.
 */
export function sessionUserOf(text: string): string | undefined {
  const start = sessionStart.exec(text);
  if (!start) return undefined;
  let depth = 1;
  let expectKey = true; // at depth 1, the next string is a key
  for (let i = start.index + start[0].length; i < text.length && depth > 0; i++) {
    const char = text[i];
    if (char === '"') {
      jsonString.lastIndex = i;
      const match = jsonString.exec(text);
      if (!match) return undefined; // cut inside a string
      i = jsonString.lastIndex - 1;
      if (depth !== 1 || !expectKey) continue;
      expectKey = false;
      if (match[1] !== "user") continue;
      jsonString.lastIndex = text.indexOf('"', i + 1);
      const value = /^\s*:\s*$/.test(text.slice(i + 1, jsonString.lastIndex)) ? jsonString.exec(text) : null;
      if (!value) return undefined;
      try {
        return JSON.parse(`"${value[1]}"`) as string;
      } catch {
        return undefined;
      }
    }
    if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") depth--;
    else if (char === "," && depth === 1) expectKey = true;
  }
  return undefined;
}

/**
 * Owners of queries: recorded when this replica relays the answer to a POST (the sticky
 * bookkeeping), else asked once of the owning coordinator (`GET /v1/query/{id}`, reading only the
 * head of the QueryInfo for `session.user`) and remembered; a query the coordinator does not know
 * is remembered as such for a while. One backend request per query id at most (per period), never
 * a fan-out. Bounded like the other maps.
 */
export class QueryOwners {
  private readonly owners: BoundedMap<string, QueryOwner>;
  private readonly distinct = new BoundedMap<string, QueryOwner>(10_000);
  private readonly lookups = new Map<string, Promise<{ status: number; user?: string }>>();
  private readonly unknown = new BoundedMap<string, number>(10_000);
  private readonly unknownForMs = 30_000;
  lookupCount = 0;

  constructor(maxQueries: number) {
    this.owners = new BoundedMap(maxQueries);
  }

  record(queryId: string, owner: QueryOwner): void {
    this.owners.set(queryId, this.shared(owner));
  }

  /** One owner object per distinct (user, principal): the map then holds a reference per query, not a copy. */
  private shared(owner: QueryOwner): QueryOwner {
    const key = `${owner.user}\u0000${owner.principal ?? ""}`;
    const known = this.distinct.get(key);
    if (known) return known;
    this.distinct.set(key, owner);
    return owner;
  }

  known(queryId: string): QueryOwner | undefined {
    return this.owners.peek(queryId);
  }

  /**
   * The owner of `queryId` on `backend`: recorded, else asked of the coordinator as `asUser` (one
   * lookup per query at a time). Undefined when the coordinator does not know the query (or does
   * not tell its user).
   */
  async ownerOf(queryId: string, backend: string, asUser: string, timeoutMs: number): Promise<QueryOwner | undefined> {
    const known = this.owners.peek(queryId);
    if (known) return known;
    if ((this.unknown.peek(queryId) ?? 0) > Date.now()) return undefined;
    let lookup = this.lookups.get(queryId);
    if (!lookup) {
      this.lookupCount++;
      lookup = readQueryUser(backend, queryId, asUser, timeoutMs)
        .catch(() => ({ status: 0 }))
        .finally(() => this.lookups.delete(queryId));
      this.lookups.set(queryId, lookup);
    }
    const found = await lookup;
    if (found.user !== undefined) {
      const owner = this.shared({ user: found.user });
      this.owners.set(queryId, owner);
      return owner;
    }
    // Only "no such query" is remembered: a 403 to this user or a timeout says nothing for the next one.
    if (found.status === 404) this.unknown.set(queryId, Date.now() + this.unknownForMs);
    return undefined;
  }
}

/** The status of `GET /v1/query/{id}` and, on 200, `session.user` read from at most the first 64 KiB of the answer. */
function readQueryUser(backend: string, queryId: string, asUser: string, timeoutMs: number): Promise<{ status: number; user?: string }> {
  const address = backendAddress(backend);
  return new Promise((resolve, reject) => {
    const request = (address.https ? https : http).request(
      {
        hostname: address.hostname,
        port: address.port,
        method: "GET",
        path: `/v1/query/${queryId}?pruned=true`,
        headers: { host: address.host, accept: "application/json", "x-trino-user": asUser },
        agent: agentFor(backend),
        timeout: timeoutMs,
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          response.resume();
          resolve({ status });
          return;
        }
        let head = "";
        const settle = () => {
          const user = sessionUserOf(head);
          resolve({ status, ...(user !== undefined ? { user } : {}) });
        };
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          head += chunk;
          if (sessionUserOf(head) !== undefined || head.length >= ownerInfoPrefixBytes) {
            head = head.slice(0, ownerInfoPrefixBytes);
            settle();
            request.destroy(); // the rest (SQL, stages) is not needed
          }
        });
        response.on("end", settle);
        response.on("error", () => resolve({ status: 0 }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end();
  });
}

export interface TrackedQuery {
  runtime: string;
  backend: string;
  lastSeenMs: number;
  /** When the query last moved to the end of the map: its first answer, then at most once per `reorderEveryMs`. */
  movedMs: number;
}

/**
 * Queries in flight through this replica (the query pressure): added when a response carries a
 * nextUri, removed when one arrives without it, on DELETE, after `idleMs` without a poll, or when
 * evicted for space (least recently polled first, to within `reorderEveryMs`). Counts per runtime
 * and backend are kept alongside.
 */
export class InFlightQueries {
  private readonly queries: BoundedMap<string, TrackedQuery>;
  readonly perRuntime = new Map<string, number>();
  readonly perBackend = new Map<string, number>();
  private readonly idleMs: number;
  /**
   * A poll moves its query to the end of the map at most this often. Moving it on every poll cost
   * ~7 µs per follow-up with 100,000 queries in flight (a delete and an insert in a large table,
   * and the table then holding the request's young copy of the id): 1.2× the minimal proxy's CPU
   * instead of 1.0× (bench/RESULTS.md, "Session 4").
   */
  readonly reorderEveryMs: number;

  constructor(maxQueries: number, idleMs: number) {
    this.idleMs = idleMs;
    this.reorderEveryMs = Math.min(1000, Math.floor(idleMs / 10));
    this.queries = new BoundedMap(maxQueries, (_id, query) => this.count(query, -1));
  }

  private count(query: TrackedQuery, delta: number): void {
    addToCount(this.perRuntime, query.runtime, delta);
    addToCount(this.perBackend, query.backend, delta);
  }

  get size(): number {
    return this.queries.size;
  }

  get(queryId: string): TrackedQuery | undefined {
    return this.queries.peek(queryId);
  }

  /** Records that `queryId` is still running (a response carried a nextUri). */
  running(queryId: string, runtime: string, backend: string, nowMs = Date.now()): void {
    const existing = this.queries.peek(queryId);
    if (existing) {
      existing.lastSeenMs = nowMs;
      if (nowMs - existing.movedMs >= this.reorderEveryMs) {
        this.queries.get(queryId); // to the end
        existing.movedMs = nowMs;
      }
      return;
    }
    const query = { runtime, backend, lastSeenMs: nowMs, movedMs: nowMs };
    this.queries.insertAbsent(queryId, query);
    this.count(query, +1);
  }

  finished(queryId: string): void {
    const query = this.queries.peek(queryId);
    if (!query) return;
    this.queries.delete(queryId);
    this.count(query, -1);
  }

  /**
   * Ends the queries idle for more than idleMs. The map is in the order of `movedMs`, and a query's
   * last poll is less than `reorderEveryMs` after its `movedMs`; so once a query was polled within
   * `idleMs - reorderEveryMs`, every query after it was polled within `idleMs`, and the walk stops
   * there instead of visiting every query each second. (After the clock steps back, idle ones behind
   * a newer one wait for that one: at most by the step.)
   */
  sweep(nowMs = Date.now()): void {
    for (const [id, query] of this.queries.liveEntries()) {
      const idleForMs = nowMs - query.lastSeenMs;
      if (idleForMs > this.idleMs) this.finished(id);
      else if (idleForMs <= this.idleMs - this.reorderEveryMs) break;
    }
  }
}

function addToCount(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
