// The controller loop: informers feed runtime keys into the work queue; workers reconcile them
// one key at a time, retry failures with backoff, requeue on timers, and resync periodically.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { OwnedObjectCache } from "./apply.ts";
import { catalogPlural, group, ownerLabel, prunableKinds, routesConfigMapName, routesDataKey, runtimePlural, version, type KindRef } from "./constants.ts";
import type { KubeObject } from "./diff.ts";
import { customResourceInformer, namedConfigMapInformer, ownedObjectInformer, resilientInformer, secretInformer, type ResilientInformer } from "./informers.ts";
import { parseRoutes } from "./routes.ts";
import { describeError } from "./kube-client.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { reconcileRuntime, type ReconcileContext } from "./reconcile.ts";
import { WorkQueue } from "./workqueue.ts";

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  context: ReconcileContext;
  metrics: OperatorMetrics;
  workers?: number;
  resyncPeriodMs?: number;
  /** Called at each resync, e.g. to reload the policy. */
  onResync?: () => Promise<void>;
}

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

export class Controller implements OwnedObjectCache {
  readonly queue = new WorkQueue();
  private readonly options: ControllerOptions;
  private readonly informers: ResilientInformer[] = [];
  private readonly runtimes: ResilientInformer;
  private readonly owned = new Map<string, ResilientInformer>();
  private readonly context: ReconcileContext;
  /** Secret key (namespace/name) → runtime keys that reference it, learned while reconciling. */
  private readonly secretUsers = new Map<string, Set<string>>();
  private resyncTimer: NodeJS.Timeout | undefined;
  private workers: Promise<void>[] = [];
  private running = false;

  constructor(options: ControllerOptions) {
    this.options = options;
    const { kubeConfig } = options;
    const log = options.context.log;
    this.runtimes = resilientInformer("xtrinodes", customResourceInformer(kubeConfig, group, version, runtimePlural, "XTrinode"), log);
    const catalogs = resilientInformer("xtrinodecatalogs", customResourceInformer(kubeConfig, group, version, catalogPlural, "XTrinodeCatalog"), log);
    const secrets = resilientInformer("secrets", secretInformer(kubeConfig), log);
    this.informers.push(this.runtimes, catalogs, secrets);
    for (const kind of prunableKinds) {
      const informer = resilientInformer(kind.plural, ownedObjectInformer(kubeConfig, kind), log);
      this.owned.set(`${kind.apiVersion}/${kind.kind}`, informer);
      this.informers.push(informer);
    }
    // The routes ConfigMap, so an unchanged runtime needs no read of the (large) routes document.
    const routes = resilientInformer("routes", namedConfigMapInformer(kubeConfig, options.context.gatewayNamespace, routesConfigMapName), log);
    this.informers.push(routes);
    const routesCache = () => {
      if (!routes.synced()) return undefined;
      const configMap = routes.informer.get(routesConfigMapName, options.context.gatewayNamespace) as { data?: Record<string, string> } | undefined;
      return parseRoutes(configMap?.data?.[routesDataKey]);
    };
    this.context = { ...options.context, ownedCache: this, routesCache };

    this.runtimes.informer.on("change", (object) => this.queue.add(keyOf(object)));
    // A catalog change re-reconciles the runtimes of its namespace; those whose rendered objects do
    // not change write nothing, the rest roll only the Deployments whose checksums changed.
    catalogs.informer.on("change", (catalog) => {
      for (const runtime of this.runtimes.informer.list(catalog.metadata?.namespace)) this.queue.add(keyOf(runtime));
    });
    secrets.informer.on("change", (secret) => {
      for (const key of this.secretUsers.get(keyOf(secret)) ?? []) this.queue.add(key);
    });
    const owned = (object: KubernetesObject) => {
      const runtime = object.metadata?.labels?.[ownerLabel];
      if (runtime) this.queue.add(`${object.metadata?.namespace ?? ""}/${runtime}`);
    };
    // Changes to anything we own (Deployment readiness, node pool phase, an edited or deleted
    // object) requeue its runtime.
    for (const informer of this.owned.values()) informer.informer.on("change", owned);
  }

  /** OwnedObjectCache: informer contents for synced kinds, so a reconcile needs no list requests. */
  list(kind: KindRef, namespace: string, runtime: string): KubeObject[] | undefined {
    const informer = this.owned.get(`${kind.apiVersion}/${kind.kind}`);
    if (!informer?.synced()) return undefined;
    return informer.informer
      .list(namespace)
      .filter((o) => o.metadata?.labels?.[ownerLabel] === runtime)
      .map((o) => ({ ...(JSON.parse(JSON.stringify(o)) as KubeObject), apiVersion: kind.apiVersion, kind: kind.kind }));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { log } = this.context;
    // Optional kinds (Cluster API) may be missing: an informer that cannot start keeps retrying.
    await Promise.all(this.informers.map((i) => i.start().catch((error) => log.warn({ informer: i.name, error: describeError(error) }, "informer start failed; retrying"))));
    const count = this.options.workers ?? 4;
    this.workers = Array.from({ length: count }, () => this.work());
    const resyncMs = this.options.resyncPeriodMs ?? 5 * 60_000;
    this.resyncTimer = setInterval(() => void this.resync(), resyncMs);
    this.resyncTimer.unref();
    log.info({ workers: count, resyncMs }, "controller started");
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.informers.map((i) => i.stop().catch(() => undefined)));
    await Promise.all(this.workers);
  }

  async resync(): Promise<void> {
    try {
      await this.options.onResync?.();
    } catch (error) {
      this.options.context.log.warn({ error: describeError(error) }, "resync hook failed");
    }
    for (const runtime of this.runtimes.informer.list()) this.queue.add(keyOf(runtime));
  }

  private async work(): Promise<void> {
    const { metrics } = this.options;
    const context = this.context;
    for (;;) {
      const key = await this.queue.get();
      metrics.queueDepth.set(this.queue.depth);
      if (key === undefined) return;
      const [namespace, name] = key.split("/");
      const end = metrics.reconcileDuration.startTimer();
      try {
        const result = await reconcileRuntime(context, namespace, name);
        end({ outcome: "success" });
        metrics.reconcileTotal.inc({ outcome: "success" });
        this.rememberSecrets(key, result.secretNames);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined && this.running) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        end({ outcome: "error" });
        metrics.reconcileTotal.inc({ outcome: "error" });
        const retryInMs = this.running ? this.queue.addRateLimited(key) : undefined;
        context.log.warn({ runtime: key, error: describeError(error), retryInMs }, "reconcile failed");
      } finally {
        this.queue.done(key);
        metrics.queueDepth.set(this.queue.depth);
      }
    }
  }

  private rememberSecrets(runtimeKey: string, secretNames: string[]): void {
    for (const users of this.secretUsers.values()) users.delete(runtimeKey);
    for (const secret of secretNames) {
      let users = this.secretUsers.get(secret);
      if (!users) this.secretUsers.set(secret, (users = new Set()));
      users.add(runtimeKey);
    }
  }
}
