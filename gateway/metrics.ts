// Gateway metrics on one prom-client Registry per gateway instance. Per-runtime gauges are
// computed at scrape time from the live state, with a zero for every routed runtime, so
// xtrinode_gateway_query_pressure exists (as 0) for paused runtimes too: KEDA can scale from zero.
// With --workers N, /metrics answers the sum over the workers (workers.ts, prom-client's
// AggregatorRegistry): counters and per-worker amounts add up; what every worker sees alike (routes,
// backend health, breakers, the sticky map) is aggregated as noted on each.
import { Counter, Gauge, Registry } from "prom-client";
import type { Backends } from "./backends.ts";
import type { HeldQueries } from "./held/queries.ts";
import type { StatementMemory } from "./statement-memory.ts";
import type { RoutesReader } from "./routes-reader.ts";
import type { InFlightQueries, StickyRoutes } from "./sticky.ts";

export interface MetricSources {
  routes: RoutesReader;
  backends: Backends;
  inFlight: InFlightQueries;
  held: HeldQueries;
  sticky: StickyRoutes;
  statementMemory: StatementMemory;
  /** bcrypt checks run so far and queued or running now. */
  passwordChecks: () => { run: number; pending: number };
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"runtime" | "kind" | "status">;
  readonly resumeCalls: Counter<"namespace" | "runtime" | "outcome">;
  readonly rateLimited: Counter<"principal_kind">;
  readonly logins: Counter<"outcome">;
  readonly statementsRefused: Counter<"reason">;
  readonly heldResubmissions: Counter<"namespace" | "runtime">;
  /** Labelled children of `requests`, cached: a label lookup per request costs more than the count. */
  /** runtime → kind → status → counter child: looked up without building a key per request. */
  private readonly requestChildren = new Map<string, Map<string, Map<number, { inc(): void }>>>();
  /** The text /metrics answers: this registry, or with --workers every worker's, aggregated (workers.ts). */
  exposition: () => Promise<string> = () => this.registry.metrics();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "xtrinode_gateway_requests_total",
      help: "Requests by runtime (namespace/name, or a reason), kind (new, followup, other) and HTTP status.",
      labelNames: ["runtime", "kind", "status"],
      registers,
    });
    this.resumeCalls = new Counter({
      name: "xtrinode_gateway_resume_calls_total",
      help: "Lifecycle API resume calls by outcome (state answered, or error).",
      labelNames: ["namespace", "runtime", "outcome"],
      registers,
    });
    this.rateLimited = new Counter({
      name: "xtrinode_gateway_rate_limited_total",
      help: "New queries refused by the rate limit.",
      labelNames: ["principal_kind"],
      registers,
    });
    this.logins = new Counter({
      name: "xtrinode_gateway_logins_total",
      help: "Basic logins by outcome: verified (bcrypt), cached, invalid, throttled-user, throttled-address (backing off: 429), busy (too many password checks pending: 429).",
      labelNames: ["outcome"],
      registers,
    });
    this.statementsRefused = new Counter({
      name: "xtrinode_gateway_statements_refused_total",
      help: "New statements refused while reading their body: too-large, budget (statement memory full), timeout.",
      labelNames: ["reason"],
      registers,
    });
    this.heldResubmissions = new Counter({
      name: "xtrinode_gateway_held_resubmissions_total",
      help: "Held statements submitted again after the coordinator failed them with NO_NODES_AVAILABLE (they never ran: Trino's start-up race, trinodb/trino#2214).",
      labelNames: ["namespace", "runtime"],
      registers,
    });
    new Counter({
      name: "xtrinode_gateway_password_checks_total",
      help: "bcrypt password checks run (on worker threads).",
      registers,
      collect() {
        this.reset();
        this.inc(sources.passwordChecks().run);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_password_checks_pending",
      help: "bcrypt password checks queued or running.",
      registers,
      collect() {
        this.set(sources.passwordChecks().pending);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_statement_memory_bytes",
      help: "Bytes of statement bodies being received (buffered) or held while their runtime resumes (held); together bounded by statements.memoryBudgetBytes.",
      labelNames: ["kind"],
      registers,
      collect() {
        this.set({ kind: "buffered" }, sources.statementMemory.bytes("buffered"));
        this.set({ kind: "held" }, sources.statementMemory.bytes("held"));
      },
    });
    new Gauge({
      name: "xtrinode_gateway_statement_memory_budget_bytes",
      help: "statements.memoryBudgetBytes.",
      registers,
      collect() {
        this.set(sources.statementMemory.budgetBytes);
      },
    });

    const perRuntime = (counts: () => Map<string, number>) =>
      function (this: Gauge<"namespace" | "runtime">) {
        this.reset();
        const values = counts();
        for (const route of sources.routes.table.routes)
          values.set(`${route.namespace}/${route.name}`, values.get(`${route.namespace}/${route.name}`) ?? 0);
        for (const [key, value] of values) {
          const [namespace, runtime] = key.split("/");
          this.set({ namespace, runtime }, value);
        }
      };
    const sum = (a: Map<string, number>, b: Map<string, number>) => {
      const total = new Map(a);
      for (const [key, value] of b) total.set(key, (total.get(key) ?? 0) + value);
      return total;
    };
    new Gauge({
      name: "xtrinode_gateway_queries_in_flight",
      help: "Queries running through this gateway replica, per runtime.",
      labelNames: ["namespace", "runtime"],
      registers,
      collect: perRuntime(() => new Map(sources.inFlight.perRuntime)),
    });
    new Gauge({
      name: "xtrinode_gateway_queries_held",
      help: "Statements held while their runtime resumes, per runtime.",
      labelNames: ["namespace", "runtime"],
      registers,
      collect: perRuntime(() => sources.held.perRuntime()),
    });
    new Gauge({
      name: "xtrinode_gateway_query_pressure",
      help: "In-flight plus held queries per runtime (KEDA scales from this, also from zero).",
      labelNames: ["namespace", "runtime"],
      registers,
      collect: perRuntime(() => sum(sources.inFlight.perRuntime, sources.held.perRuntime())),
    });
    new Gauge({
      name: "xtrinode_gateway_backend_healthy",
      help: "1 when the backend passes active health checks (or is not yet probed), else 0 (with --workers: 0 when any worker sees it failing).",
      aggregator: "min",
      labelNames: ["backend"],
      registers,
      collect() {
        this.reset();
        for (const state of sources.backends.all())
          this.set({ backend: state.url }, state.health === "healthy" || state.health === "unknown" ? 1 : 0);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_backend_breaker_state",
      help: "Passive-ejection breaker per backend: 0 closed, 1 half-open, 2 open (ejected); with --workers the worst worker's.",
      aggregator: "max",
      labelNames: ["backend"],
      registers,
      collect() {
        this.reset();
        for (const state of sources.backends.all())
          this.set({ backend: state.url }, { closed: 0, "half-open": 1, open: 2 }[state.breaker.phase]);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_routes_generation",
      help: "Number of valid routes updates applied (with --workers: the least of the workers).",
      aggregator: "min",
      registers,
      collect() {
        this.set(sources.routes.generation);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_routes_last_good_age_seconds",
      help: "Seconds since the routes in force were applied (-1 before the first valid routes; with --workers: the oldest worker's).",
      aggregator: "max",
      registers,
      collect() {
        this.set(sources.routes.lastGoodAtMs === undefined ? -1 : (Date.now() - sources.routes.lastGoodAtMs) / 1000);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_routes_invalid_updates",
      help: "Routes updates rejected (invalid YAML, schema violations, no entries); last-good routes stayed in force.",
      aggregator: "max",
      registers,
      collect() {
        this.set(sources.routes.invalidUpdates);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_routes_rejected_since_last_good",
      help: "Routes updates rejected since the routes in force were applied (0: the latest delivery took effect). With a growing last-good age: the routes are stuck on an old version.",
      aggregator: "max",
      registers,
      collect() {
        this.set(sources.routes.rejectedSinceLastGood);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_queries_held_max",
      help: "Statements this replica holds at most (held.maxQueries per worker process, summed over the workers); beyond it new statements for resuming runtimes are refused.",
      registers,
      collect() {
        this.set(sources.held.maxQueries);
      },
    });
    new Gauge({
      name: "xtrinode_gateway_sticky_coordinators",
      help: "Entries of the coordinator-id → backend map (bounded; with --workers: the largest worker's, the workers share what they learn).",
      aggregator: "max",
      registers,
      collect() {
        this.set(sources.sticky.coordinatorCount());
      },
    });
  }

  /** Counts one answered request (runtime, kind and status are bounded label sets). */
  countRequest(runtime: string, kind: string, status: number): void {
    let byKind = this.requestChildren.get(runtime);
    if (!byKind) this.requestChildren.set(runtime, (byKind = new Map()));
    let byStatus = byKind.get(kind);
    if (!byStatus) byKind.set(kind, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) byStatus.set(status, (child = this.requests.labels({ runtime, kind, status: String(status) })));
    child.inc();
  }
}
