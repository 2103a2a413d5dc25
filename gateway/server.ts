// Assembles a gateway instance (routes source, health checks, lifecycle client, metrics, the request
// handler) and serves it; `close()` stops everything it started.
import { randomInt } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "../lib/logger.ts";
import { createGatewayHandler } from "./handler.ts";
import { createAuthenticator } from "./auth.ts";
import { Backends } from "./backends.ts";
import { resolveSettings, type GatewayConfig } from "./config.ts";
import type { GatewayCore } from "./core.ts";
import { trustedProxies } from "./forwarded.ts";
import { HeldQueries, TicketSealer } from "./held/queries.ts";
import { ActivityReporter, httpLifecycleApi, ResumeCoordinator, type LifecycleApi } from "./lifecycle-api-client.ts";
import { GatewayMetrics } from "./metrics.ts";
import { createProxyEngine } from "./proxy.ts";
import { createQueryIdGenerator, heldCoordinatorIdOf } from "./query-id.ts";
import { RateLimiter } from "./rate-limit.ts";
import type { RoutesSource } from "./routes-source.ts";
import { RoutesReader } from "./routes-reader.ts";
import { StatementMemory } from "./statement-memory.ts";
import { StatusAccess } from "./status.ts";
import { InFlightQueries, QueryOwners, StickyRoutes } from "./sticky.ts";
import type { WorkerLink } from "./workers.ts";

export interface GatewayOptions {
  routesSource: RoutesSource;
  config?: GatewayConfig;
  env?: NodeJS.ProcessEnv;
  port?: number;
  host?: string;
  /** Lifecycle API base URL (resume, activity); without it held statements wait for the operator alone. */
  lifecycleUrl?: string;
  lifecycleToken?: () => string | undefined;
  lifecycleApi?: LifecycleApi;
  logger?: Logger;
  /** Set in a worker process of `xtrinode gateway --workers N` (workers.ts). */
  worker?: WorkerLink;
}

export interface RunningGateway {
  url: string;
  core: GatewayCore;
  server: http.Server;
  /** Stops accepting; requests in progress get up to `drainMs` (default 0) before sockets are closed. */
  close(drainMs?: number): Promise<void>;
}

/**
 * Closes the connection of a request whose body is still arriving after `deadlineMs`. A statement
 * body being read is answered sooner by its own timeout (statements.bodyTimeoutMs, a Trino
 * error); this also covers bodies nobody reads (a 401 or an unrouted request answered at once,
 * whose body Node drains for as long as it trickles in).
 */
function cutSlowBody(req: http.IncomingMessage, deadlineMs: number): void {
  if (req.complete || (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined)) return;
  const timer = setTimeout(() => req.socket.destroy(), deadlineMs);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
  req.once("close", () => clearTimeout(timer));
}

/**
 * A token-bucket limit as one of `workers` processes applies it: 1/N of the rate and of the burst
 * (at least 1 token), so the N per-worker budgets add up to the configured limit.
 */
export function workerShare(limits: { ratePerSecond: number; burst: number }, workers: number): { ratePerSecond: number; burst: number } {
  return { ratePerSecond: limits.ratePerSecond / workers, burst: Math.max(1, Math.floor(limits.burst / workers)) };
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const logger = options.logger ?? createLogger("gateway");
  const settings = resolveSettings(options.config, options.env);
  const worker = options.worker;
  const workers = worker?.count ?? 1;
  // With --workers, one bcrypt thread per worker unless configured (the default of one per spare
  // core is for a single process; every worker would start that many).
  if (worker && options.config?.auth?.passwordVerification?.workers === undefined)
    settings.passwordVerification = { ...settings.passwordVerification, workers: 1 };
  if (worker) {
    // The config describes the pod: each worker holds its share of the statement memory (never
    // less than one statement of statements.maxBytes) and of held.maxQueries.
    settings.statements = {
      ...settings.statements,
      memoryBudgetBytes: Math.max(settings.statements.maxBytes, Math.floor(settings.statements.memoryBudgetBytes / workers)),
    };
    settings.held = { ...settings.held, maxQueries: Math.max(1, Math.ceil(settings.held.maxQueries / workers)) };
  }
  const routes = new RoutesReader(logger);
  const backends = new Backends(settings.health, logger);
  const sticky = new StickyRoutes(settings.sticky);
  const inFlight = new InFlightQueries(settings.sticky.maxQueries, settings.sticky.queryIdleMs);
  const statementMemory = new StatementMemory(settings.statements.memoryBudgetBytes);
  const held = new HeldQueries(settings.held.maxQueries, settings.held.maxAgeMs, statementMemory);
  const tickets = new TicketSealer((options.env ?? process.env).XTRINODE_GATEWAY_TICKET_KEY || undefined);
  const lifecycleApi =
    options.lifecycleApi ??
    (options.lifecycleUrl ? httpLifecycleApi(options.lifecycleUrl, options.lifecycleToken ?? (() => undefined)) : undefined);
  // passwordChecks is read at scrape time, once `auth` exists.
  const metrics = new GatewayMetrics({
    routes,
    backends,
    inFlight,
    held,
    sticky,
    statementMemory,
    passwordChecks: () => auth.passwordChecks(),
  });
  const auth = createAuthenticator(settings.auth, {
    throttle: settings.loginThrottle,
    verification: settings.passwordVerification,
    onLogin: (outcome) => metrics.logins.inc({ outcome }),
  });
  const resume = new ResumeCoordinator(lifecycleApi, logger, (runtime, outcome) => {
    const [namespace, name] = runtime.split("/");
    metrics.resumeCalls.inc({ namespace, runtime: name, outcome });
  });
  let wake: () => void = () => undefined;
  let change = new Promise<void>((resolve) => (wake = resolve));
  const notify = () => {
    wake();
    change = new Promise<void>((resolve) => (wake = resolve));
  };
  const core: GatewayCore = {
    settings,
    logger,
    routes,
    backends,
    sticky,
    owners: new QueryOwners(settings.sticky.maxQueries),
    lookupBudget: new RateLimiter(
      workerShare({ ratePerSecond: settings.sticky.lookupsPerSecond, burst: settings.sticky.lookupBurst }, workers),
    ),
    inFlight,
    held,
    statementMemory,
    tickets,
    resume,
    activity: new ActivityReporter(lifecycleApi, settings.activityIntervalMs, logger),
    auth,
    statusAccess: new StatusAccess(options.config?.admin),
    rateLimiter: settings.rateLimit
      ? new RateLimiter(workerShare({ ratePerSecond: settings.rateLimit.queriesPerSecond, burst: settings.rateLimit.burst }, workers))
      : undefined,
    metrics,
    proxy: createProxyEngine(300_000),
    trusted: trustedProxies(settings.trustedProxies),
    // A random start keeps held ids of replicas apart (they are told apart by slug anyway); the
    // coordinator-id part names the worker process holding the statement.
    newHeldId: createQueryIdGenerator(heldCoordinatorIdOf(worker?.index ?? 0), undefined, randomInt(100_000)),
    nextChange: () => change,
  };
  if (worker) {
    worker.shareCoordinators(sticky);
    metrics.exposition = worker.aggregateMetrics(metrics.registry);
  }
  routes.onChange((table) => {
    backends.sync(table.routes.filter((route) => route.state !== "REMOVED"));
    notify();
  });
  backends.onChange(notify);

  await options.routesSource.start((text, origin) => routes.apply(text, origin));
  backends.start();
  const sweeper = setInterval(() => {
    const now = Date.now();
    inFlight.sweep(now);
    for (const dropped of held.sweep(now, settings.held.abandonAfterMs)) {
      logger.info(
        { event: "held-abandoned", queryId: dropped.id, runtime: `${dropped.namespace}/${dropped.name}` },
        "held statement abandoned: client stopped polling",
      );
    }
  }, 1000);
  sweeper.unref();

  const handler = createGatewayHandler(core);
  const bodyDeadlineMs = settings.statements.bodyTimeoutMs + 5000;
  const server = http.createServer((req, res) => {
    cutSlowBody(req, bodyDeadlineMs);
    if (worker?.forwardHeld(req, res, () => handler(req, res))) return;
    handler(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  // Follow-ups of statements this worker holds, forwarded by the others (never forwarded again).
  const internal = worker
    ? await worker.listenInternal((req, res) => {
        cutSlowBody(req, bodyDeadlineMs);
        handler(req, res);
      })
    : undefined;
  logger.info(
    { event: worker ? "worker-started" : "listening", url, heldTickets: tickets.shared ? "shared-key" : "per-replica" },
    "gateway listening",
  );
  if (worker && internal) worker.listening(url, worker.internalPort(internal));
  if (!tickets.shared)
    logger.info(
      { event: "held-tickets-per-replica" },
      "no XTRINODE_GATEWAY_TICKET_KEY: a poll of a held statement must reach the replica holding it (set the same key on every replica to let them adopt each other's)",
    );
  return {
    url,
    core,
    server,
    async close(drainMs = 0) {
      clearInterval(sweeper);
      options.routesSource.stop();
      backends.stop();
      const servers = internal ? [server, internal] : [server];
      const closed = Promise.all(servers.map((listening) => new Promise<void>((resolve) => listening.close(() => resolve()))));
      for (const listening of servers) listening.closeIdleConnections();
      const drained = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), drainMs).unref()),
      ]);
      if (!drained) for (const listening of servers) listening.closeAllConnections();
      await closed;
      worker?.close();
      core.proxy.close();
      await auth.close();
    },
  };
}
