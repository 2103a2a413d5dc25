// The operator process: leader election gates one active controller; metrics and health are served
// by every replica (a standby is healthy but not leading).
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import { checkRuntimeInput, renderCheckedRuntime, renderNamespace } from "../renderer/index.ts";
import { apiVersion } from "../schemas/api/index.ts";
import { apiReader } from "./cluster-reader.ts";
import { leaseName } from "./constants.ts";
import { Controller } from "./controller.ts";
import { startHealthServer, type HealthServer } from "./health-server.ts";
import { createClusterClient, describeError, type ClusterClient } from "./kube-client.ts";
import { LeaderElector } from "./leader.ts";
import { defaultLifecycleTimers, type LifecycleTimers } from "./lifecycle-decisions.ts";
import { createOperatorMetrics, type OperatorMetrics } from "./metrics.ts";
import type { PolicySource } from "./policy.ts";
import { RoutesPublisher } from "./routes-publisher.ts";
import { reconcileRuntime, type ReconcileContext, type ReconcileResult } from "./reconcile.ts";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  gatewayNamespace: string;
  policy: PolicySource;
  log: Logger;
  metricsPort?: number;
  metricsHost?: string;
  /** false: run the controller without a lease (a single replica, e.g. tests of the core loop). */
  leaderElection: false | { namespace: string; identity: string; leaseDurationMs: number; retryPeriodMs: number };
  resyncPeriodMs?: number;
  workers?: number;
  timers?: LifecycleTimers;
}

export interface RunningOperator {
  metrics: OperatorMetrics;
  healthPort?: number;
  isLeader(): boolean;
  /** Queues every known runtime now (what the periodic resync does). */
  resync(): Promise<void>;
  stop(): Promise<void>;
}

export function createReconcileContext(
  client: ClusterClient,
  options: Pick<OperatorOptions, "gatewayNamespace" | "policy" | "log" | "timers">,
  metrics?: OperatorMetrics,
): ReconcileContext {
  return {
    client,
    reader: apiReader(client, options.gatewayNamespace),
    renderer: { checkRuntime: checkRuntimeInput, renderCheckedRuntime, renderNamespace },
    policy: () => options.policy.current(),
    gatewayNamespace: options.gatewayNamespace,
    routes: new RoutesPublisher(client, { namespace: options.gatewayNamespace }),
    timers: options.timers ?? defaultLifecycleTimers,
    now: () => new Date(),
    log: options.log,
    counters: { onApplied: (kind, verb) => metrics?.objectsApplied.inc({ kind, verb }) },
  };
}

export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const metrics = createOperatorMetrics();
  const client = createClusterClient(options.kubeConfig);
  await options.policy.reload();
  const context = createReconcileContext(client, options, metrics);
  let controller: Controller | undefined;
  let transition = Promise.resolve();
  const startController = () => {
    transition = transition.then(async () => {
      controller = new Controller({
        kubeConfig: options.kubeConfig,
        context,
        metrics,
        workers: options.workers,
        resyncPeriodMs: options.resyncPeriodMs,
        onResync: () => options.policy.reload(),
      });
      await controller.start();
      const leading = controller;
      metrics.runtimeSource.current = () => leading.cachedRuntimes();
    });
  };
  const stopController = () => {
    transition = transition.then(async () => {
      metrics.runtimeSource.current = () => [];
      await controller?.stop();
      controller = undefined;
    });
  };

  let elector: LeaderElector | undefined;
  if (options.leaderElection) {
    elector = new LeaderElector(options.kubeConfig, {
      ...options.leaderElection,
      name: leaseName,
      log: options.log,
      onStartedLeading: () => {
        metrics.leader.set(1);
        startController();
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        stopController();
      },
    });
    elector.start();
  } else {
    metrics.leader.set(1);
    startController();
  }

  let health: HealthServer | undefined;
  if (options.metricsPort !== undefined) health = await startHealthServer(metrics.registry, options.metricsPort, options.metricsHost);

  return {
    metrics,
    healthPort: health?.port,
    isLeader: () => (elector ? elector.isLeader : true),
    resync: async () => {
      await transition;
      await controller?.resync();
    },
    async stop() {
      if (elector) await elector.stop();
      else stopController();
      await transition;
      await health?.close();
    },
  };
}

export interface ApplyPassResult {
  runtimes: Array<{ key: string; phase?: string; writes: number; error?: string }>;
  errors: number;
}

/** `xtrinode apply`: one reconcile of every XTrinode (following immediate requeues), then return. */
export async function reconcileAllOnce(context: ReconcileContext): Promise<ApplyPassResult> {
  const runtimes = await context.client.list(apiVersion, "XTrinode");
  const result: ApplyPassResult = { runtimes: [], errors: 0 };
  for (const runtime of runtimes) {
    const namespace = runtime.metadata!.namespace!;
    const name = runtime.metadata!.name!;
    const key = `${namespace}/${name}`;
    let writes = 0;
    try {
      let outcome: ReconcileResult | undefined;
      for (let pass = 0; pass < 5 && (outcome === undefined || outcome.requeueAfterMs === 0); pass++) {
        outcome = await reconcileRuntime(context, namespace, name);
        writes += outcome.writes;
      }
      result.runtimes.push({ key, phase: outcome?.phase, writes });
      if (outcome?.phase === "Error") result.errors++;
    } catch (error) {
      result.errors++;
      result.runtimes.push({ key, writes, error: describeError(error) });
    }
  }
  return result;
}
