// `xtrinode gateway --workers N`: N worker processes (node:cluster) share the listening port; the
// primary process serves no request. What is shared and what is per worker (gateway/README.md,
// "Workers"):
// - routes: the primary runs the routes source (file or ConfigMap: one watch per pod, and only the
//   primary loads the Kubernetes client) and sends every text to every worker;
// - stickiness: a coordinator id one worker learns is sent to all (query owners stay per worker,
//   read once from the coordinator when another worker needs one);
// - held statements: a held id names its worker (query-id.ts); a follow-up reaching another worker
//   is forwarded to it over loopback (a per-worker listener on 127.0.0.1, with a per-pod secret).
//   When that worker is gone, the lowest-numbered live worker answers and adopts the statement from
//   the sealed ticket in its nextUri (the primary gives the workers one ticket key);
// - metrics: /metrics on any worker answers the aggregate of all (prom-client AggregatorRegistry);
// - per worker by design: rate limits and coordinator-lookup budgets (each worker gets 1/N of the
//   rate and burst, so the sum is the configured limit), login back-off, health checks, breakers,
//   resume and activity calls (idempotent), the status endpoint (the answering worker's view).
import cluster, { type Worker } from "node:cluster";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import os from "node:os";
import type { AddressInfo } from "node:net";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Logger } from "../lib/logger.ts";
import { withoutHopByHop, withoutHopByHopRaw } from "./backend-http.ts";
import { heldWorkerOf, maxGatewayWorkers } from "./query-id.ts";
import { checkRequestTarget } from "./request-target.ts";
import type { RoutesSource } from "./routes-source.ts";

/** Environment of a worker process (set by the primary). */
const workerIndexEnv = "XTRINODE_GATEWAY_WORKER_INDEX";
const workerCountEnv = "XTRINODE_GATEWAY_WORKER_COUNT";
const workerSecretEnv = "XTRINODE_GATEWAY_WORKER_SECRET";
export const ticketKeyEnv = "XTRINODE_GATEWAY_TICKET_KEY";
/** Headers of a follow-up forwarded to the worker holding its statement. */
const secretHeader = "x-xtrinode-worker-secret";
const peerHeader = "x-xtrinode-worker-peer";

/** Messages between the primary and the workers (the `xt` field tells them from prom-client's). */
type PrimaryMessage =
  | { xt: "routes"; text?: string; origin?: string }
  | { xt: "peers"; ports: Record<number, number> }
  | { xt: "coordinator"; coordinatorId: string; backend: string }
  | { xt: "metrics"; id: number; text?: string; error?: string }
  | { xt: "shutdown" };
type WorkerMessage =
  | { xt: "routes-request" }
  | { xt: "listening"; index: number; url: string; internalPort: number }
  | { xt: "coordinator"; coordinatorId: string; backend: string }
  | { xt: "metrics-request"; id: number };

/**
 * CPUs this container may use: os.availableParallelism() (the CPU affinity), lowered to the cgroup
 * CPU quota when one is set (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), rounded up.
 */
export function usableCpus(readText: (file: string) => string | undefined = readIfPresent): number {
  let cpus = os.availableParallelism();
  const v2 = readText("/sys/fs/cgroup/cpu.max")?.trim().split(/\s+/);
  let quota: number | undefined;
  if (v2 && v2[0] !== "max" && Number(v2[0]) > 0 && Number(v2[1]) > 0) quota = Number(v2[0]) / Number(v2[1]);
  else {
    const v1Quota = Number(readText("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")?.trim());
    const v1Period = Number(readText("/sys/fs/cgroup/cpu/cpu.cfs_period_us")?.trim());
    if (v1Quota > 0 && v1Period > 0) quota = v1Quota / v1Period;
  }
  if (quota !== undefined) cpus = Math.min(cpus, Math.ceil(quota));
  return Math.max(1, Math.min(maxGatewayWorkers, cpus));
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** `--workers` as given: a whole number in 1..64. */
export function parseWorkerCount(text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > maxGatewayWorkers)
    throw new Error(`--workers: "${text}" is not a whole number from 1 to ${maxGatewayWorkers} (default: the CPUs this container may use)`);
  return count;
}

export function isGatewayWorker(): boolean {
  return cluster.isWorker && process.env[workerIndexEnv] !== undefined;
}

// ---- primary ---------------------------------------------------------------------------------------

export interface PrimaryOptions {
  workers: number;
  routesSource: RoutesSource;
  logger: Logger;
}

/**
 * Runs the primary: the routes source, N workers (replaced when one dies), aggregated metrics,
 * and SIGTERM/SIGINT: every worker drains and stops, then the primary exits.
 */
export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const { logger, workers: count } = options;
  const secret = randomBytes(32).toString("base64url");
  // One ticket key for all workers (a configured one is shared with other replicas too).
  const ticketKey = process.env[ticketKeyEnv] || randomBytes(36).toString("base64url");
  let routes: { text?: string; origin?: string } = {};
  const byIndex = new Map<number, Worker>();
  const ports = new Map<number, number>();
  const listening = new Set<number>();
  let stopping = false;
  let announced = false;
  const restartDelayMs = new Map<number, number>();

  const send = (worker: Worker, message: PrimaryMessage) => {
    if (worker.isConnected()) worker.send(message);
  };
  const broadcast = (message: PrimaryMessage, except?: Worker) => {
    for (const worker of byIndex.values()) if (worker !== except) send(worker, message);
  };
  const broadcastPeers = () => broadcast({ xt: "peers", ports: Object.fromEntries(ports) });

  await options.routesSource.start((text, origin) => {
    routes = { text, origin };
    broadcast({ xt: "routes", text, origin });
  });
  const aggregator = new AggregatorRegistry();

  const fork = (index: number) => {
    const worker = cluster.fork({
      [workerIndexEnv]: String(index),
      [workerCountEnv]: String(count),
      [workerSecretEnv]: secret,
      [ticketKeyEnv]: ticketKey,
    });
    byIndex.set(index, worker);
    worker.on("message", (message: WorkerMessage) => {
      switch (message?.xt) {
        case "routes-request":
          send(worker, { xt: "routes", ...routes });
          return;
        case "listening":
          ports.set(index, message.internalPort);
          listening.add(index);
          restartDelayMs.delete(index);
          logger.info({ event: "worker-listening", worker: index, pid: worker.process.pid }, "gateway worker listening");
          broadcastPeers();
          if (!announced && listening.size === count) {
            announced = true;
            logger.info({ event: "listening", url: message.url, workers: count }, "gateway listening");
          }
          return;
        case "coordinator":
          broadcast(message, worker);
          return;
        case "metrics-request":
          aggregator.clusterMetrics().then(
            (text) => send(worker, { xt: "metrics", id: message.id, text }),
            (error: Error) => send(worker, { xt: "metrics", id: message.id, error: error.message }),
          );
          return;
      }
    });
    worker.on("exit", (code, signal) => {
      if (byIndex.get(index) === worker) byIndex.delete(index);
      ports.delete(index);
      listening.delete(index);
      if (stopping) return;
      broadcastPeers();
      // Replaced under the same index (its held ids name it), later each time it dies again soon.
      const delayMs = restartDelayMs.get(index) ?? 1000;
      restartDelayMs.set(index, Math.min(30_000, delayMs * 2));
      logger.warn(
        { event: "worker-exited", worker: index, code, signal, restartInMs: delayMs },
        "gateway worker exited; starting a new one",
      );
      setTimeout(() => {
        if (!stopping) fork(index);
      }, delayMs).unref();
    });
  };
  for (let index = 0; index < count; index++) fork(index);

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: "stopping", signal, workers: byIndex.size }, "gateway stopping");
    options.routesSource.stop();
    for (const worker of byIndex.values()) send(worker, { xt: "shutdown" });
    // Workers drain for up to 10 s (as a single process does); then whatever is left is killed.
    const killer = setTimeout(() => {
      for (const worker of byIndex.values()) worker.process.kill("SIGKILL");
    }, 12_000);
    killer.unref();
    const exitWhenDone = () => {
      if (byIndex.size === 0) process.exit(0);
    };
    cluster.on("exit", exitWhenDone);
    exitWhenDone();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

// ---- worker ----------------------------------------------------------------------------------------

/** What a worker process knows about the others, and its link to the primary. */
export class WorkerLink {
  readonly index: number;
  readonly count: number;
  private readonly secret: Buffer;
  private ports = new Map<number, number>();
  private readonly metricsWaiting = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  private nextMetricsId = 0;
  private routesDeliver: ((text: string, origin: string) => void) | undefined;
  private firstRoutes: (() => void) | undefined;
  private coordinatorListener: ((coordinatorId: string, backend: string) => void) | undefined;
  private shutdownListener: (() => void) | undefined;
  /** Keep-alive connections to the other workers' loopback listeners. */
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.index = Number(env[workerIndexEnv]);
    this.count = Number(env[workerCountEnv]);
    this.secret = Buffer.from(env[workerSecretEnv] ?? "", "utf8");
    process.on("message", (message: PrimaryMessage) => this.receive(message));
    // The primary went away: nothing would stop this worker any more.
    process.on("disconnect", () => this.shutdownListener?.());
  }

  private receive(message: PrimaryMessage): void {
    switch (message?.xt) {
      case "routes":
        if (message.text !== undefined) this.routesDeliver?.(message.text, message.origin ?? "primary");
        this.firstRoutes?.();
        this.firstRoutes = undefined;
        return;
      case "peers":
        this.ports = new Map(Object.entries(message.ports).map(([index, port]) => [Number(index), port]));
        return;
      case "coordinator":
        this.coordinatorListener?.(message.coordinatorId, message.backend);
        return;
      case "metrics": {
        const waiting = this.metricsWaiting.get(message.id);
        this.metricsWaiting.delete(message.id);
        if (message.error !== undefined) waiting?.reject(new Error(message.error));
        else waiting?.resolve(message.text ?? "");
        return;
      }
      case "shutdown":
        this.shutdownListener?.();
        return;
    }
  }

  private send(message: WorkerMessage): void {
    if (process.connected) process.send!(message);
  }

  /** Routes as the primary's source delivers them; start() resolves once the current text (if any) arrived. */
  routesSource(): RoutesSource {
    return {
      start: (deliver) =>
        new Promise<void>((resolve) => {
          this.routesDeliver = deliver;
          this.firstRoutes = resolve;
          this.send({ xt: "routes-request" });
        }),
      stop: () => {
        this.routesDeliver = undefined;
      },
    };
  }

  /** Shares the coordinator ids this worker learns, and learns those of the others. */
  shareCoordinators(sticky: {
    onLearn: ((coordinatorId: string, backend: string) => void) | undefined;
    learnCoordinator(coordinatorId: string, backend: string): void;
  }): void {
    sticky.onLearn = (coordinatorId, backend) => this.send({ xt: "coordinator", coordinatorId, backend });
    this.coordinatorListener = (coordinatorId, backend) => sticky.learnCoordinator(coordinatorId, backend);
  }

  /** /metrics answers every worker's registry, aggregated by the primary. */
  aggregateMetrics(registry: Registry): () => Promise<string> {
    new AggregatorRegistry(); // answers the primary's requests for this worker's metrics
    AggregatorRegistry.setRegistries([registry]);
    return () =>
      new Promise<string>((resolve, reject) => {
        const id = this.nextMetricsId++;
        this.metricsWaiting.set(id, { resolve, reject });
        this.send({ xt: "metrics-request", id });
        setTimeout(() => {
          if (this.metricsWaiting.delete(id)) reject(new Error("the gateway primary did not answer a metrics request within 10 s"));
        }, 10_000).unref();
      });
  }

  onShutdown(listener: () => void): void {
    this.shutdownListener = listener;
  }

  listening(url: string, internalPort: number): void {
    this.send({ xt: "listening", index: this.index, url, internalPort });
  }

  /**
   * The worker that answers a follow-up of a statement held by worker `owner`: the owner while it
   * lives, else the lowest-numbered live worker (it adopts the statement from its ticket).
   */
  answeringWorker(owner: number): number {
    if (owner === this.index || this.ports.has(owner)) return owner;
    const live = [this.index, ...this.ports.keys()];
    return Math.min(...live);
  }

  /**
   * Forwards a follow-up of a statement another worker holds to that worker (true), or leaves it to
   * this one (false). Cheap for every other request: only targets naming a held id (`_gw0`) are parsed.
   */
  forwardHeld(req: IncomingMessage, res: ServerResponse, handleHere: () => void): boolean {
    const url = req.url ?? "";
    if (!url.includes("_gw0")) return false;
    const checked = checkRequestTarget(req.method, url);
    const queryId = checked.ok ? checked.target.queryId : undefined;
    const owner = queryId ? heldWorkerOf(queryId) : undefined;
    if (owner === undefined) return false;
    const answering = this.answeringWorker(owner);
    const port = this.ports.get(answering);
    if (answering === this.index || port === undefined) return false;
    const headers = {
      ...withoutHopByHop(req.headers),
      [secretHeader]: this.secret.toString("utf8"),
      [peerHeader]: req.socket.remoteAddress ?? "",
    };
    const upstream = http.request({ host: "127.0.0.1", port, method: req.method, path: url, headers, agent: this.agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, withoutHopByHopRaw(answer.rawHeaders));
      answer.pipe(res);
    });
    upstream.once("error", () => {
      // That worker died meanwhile: this one answers (and adopts the statement from its ticket).
      if (!res.headersSent) handleHere();
      else res.destroy();
    });
    res.once("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
    return true;
  }

  /**
   * The loopback listener other workers forward follow-ups to. Only requests carrying the pod's
   * worker secret are served, as if from the client's own address (the forwarding worker's peer).
   */
  async listenInternal(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      const secret = Buffer.from(String(req.headers[secretHeader] ?? ""), "utf8");
      if (this.secret.length === 0 || secret.length !== this.secret.length || !timingSafeEqual(secret, this.secret)) {
        res.writeHead(403, { "content-type": "text/plain" }).end("not a gateway worker\n");
        return;
      }
      const peer = String(req.headers[peerHeader] ?? "");
      delete req.headers[secretHeader];
      delete req.headers[peerHeader];
      // The gateway reads the client address from the socket (forwarded.ts); requests on one
      // connection come one after another, so the peer of the current one is set on it.
      Object.defineProperty(req.socket, "remoteAddress", { value: peer, configurable: true });
      handle(req, res);
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // exclusive: a worker's own port, not one shared through the primary.
      server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => resolve());
    });
    return server;
  }

  internalPort(server: http.Server): number {
    return (server.address() as AddressInfo).port;
  }

  close(): void {
    this.agent.destroy();
  }
}
