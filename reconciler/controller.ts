// The controller loop: informers feed runtime keys into the work queue; workers reconcile them
// one key at a time, retry failures with backoff, requeue on timers, and resync periodically.
// A second, small queue keeps XTrinodeCatalog status (usedBy, Ready) current from the informer caches.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { OwnedObjectCache } from "./apply.ts";
import { group, ownerLabel, plurals, routesConfigMapName, routesDataKey, version } from "../schemas/api/index.ts";
import { prunableKinds, type KindRef } from "./constants.ts";
import type { KubeObject } from "./diff.ts";
import type { XTrinode, XTrinodeCatalog } from "../renderer/types.ts";
import { catalogStatus, runtimesConcerned } from "./catalog-status.ts";
import { pruneGuardrails } from "./guardrails.ts";
import { customResourceInformer, namedConfigMapInformer, ownedObjectInformer, resilientInformer, secretInformer, type ResilientInformer } from "./informers.ts";
import { sameStatus } from "./status.ts";
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
  /** Keys (namespace/name) of XTrinodeCatalogs whose status may be stale. */
  readonly catalogQueue = new WorkQueue();
  private readonly options: ControllerOptions;
  private readonly informers: ResilientInformer[] = [];
  private readonly runtimes: ResilientInformer;
  private readonly catalogs: ResilientInformer;
  private readonly secrets: ResilientInformer;
  /** Per runtime key: its spec.catalogs as last seen, so only a changed selection re-checks catalog users. */
  private readonly catalogSelections = new Map<string, string>();
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
    this.runtimes = resilientInformer("xtrinodes", customResourceInformer(kubeConfig, group, version, plurals.runtime, "XTrinode"), log);
    const catalogs = (this.catalogs = resilientInformer("xtrinodecatalogs", customResourceInformer(kubeConfig, group, version, plurals.catalog, "XTrinodeCatalog"), log));
    const secrets = (this.secrets = resilientInformer("secrets", secretInformer(kubeConfig), log));
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

    this.runtimes.informer.on("change", (object) => {
      this.queue.add(keyOf(object));
      this.onCatalogSelection(object);
    });
    this.runtimes.informer.on("delete", (object) => this.onCatalogSelection(object, true));
    // A catalog change re-reconciles the runtimes it concerns (mounted at their last reconcile, or
    // selecting it now); they roll only the Deployments whose checksums changed. A runtime whose own
    // reconcile is still writing its status.catalogs gets requeued by that status write anyway.
    catalogs.informer.on("change", (catalog) => {
      const namespace = catalog.metadata?.namespace;
      const { runtimes, catalogs } = this.cachedSpecs(namespace);
      for (const name of runtimesConcerned(catalog as unknown as XTrinodeCatalog, runtimes, catalogs)) this.queue.add(`${namespace}/${name}`);
      this.catalogQueue.add(keyOf(catalog));
    });
    secrets.informer.on("change", (secret) => {
      for (const key of this.secretUsers.get(keyOf(secret)) ?? []) this.queue.add(key);
      this.addCatalogsOf(secret.metadata?.namespace);
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
    this.workers = [...Array.from({ length: count }, () => this.work()), this.catalogWork()];
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
    this.catalogQueue.shutdown();
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
    for (const catalog of this.catalogs.informer.list()) this.catalogQueue.add(keyOf(catalog));
    const namespaces = new Set(this.runtimes.informer.list().map((runtime) => runtime.metadata?.namespace ?? ""));
    for (const namespace of namespaces) {
      try {
        await pruneGuardrails(this.context, namespace);
      } catch (error) {
        this.options.context.log.warn({ namespace, error: describeError(error) }, "guardrail prune failed; the next resync retries");
      }
    }
  }

  /** Every XTrinode as the informer holds it (for the per-runtime metrics). */
  cachedRuntimes(): XTrinode[] {
    return this.runtimes.informer.list() as unknown as XTrinode[];
  }

  /** The namespace's XTrinodes and XTrinodeCatalogs as the informers hold them. */
  private cachedSpecs(namespace: string | undefined): { runtimes: XTrinode[]; catalogs: XTrinodeCatalog[] } {
    return {
      runtimes: this.runtimes.informer.list(namespace) as unknown as XTrinode[],
      catalogs: this.catalogs.informer.list(namespace) as unknown as XTrinodeCatalog[],
    };
  }

  private addCatalogsOf(namespace: string | undefined): void {
    for (const catalog of this.catalogs.informer.list(namespace)) this.catalogQueue.add(keyOf(catalog));
  }

  /** A runtime that appeared, went, or changed its spec.catalogs may change its catalogs' usedBy. */
  private onCatalogSelection(runtime: KubernetesObject, deleted = false): void {
    const key = keyOf(runtime);
    const selection = deleted ? undefined : JSON.stringify((runtime as { spec?: { catalogs?: unknown } }).spec?.catalogs ?? null);
    if (this.catalogSelections.get(key) === selection) return;
    if (selection === undefined) this.catalogSelections.delete(key);
    else this.catalogSelections.set(key, selection);
    this.addCatalogsOf(runtime.metadata?.namespace);
  }

  /** Writes one XTrinodeCatalog's status from the informer caches when it differs; level-triggered like a runtime reconcile. */
  private async reconcileCatalog(namespace: string, name: string): Promise<void> {
    const catalog = this.catalogs.informer.get(name, namespace) as unknown as XTrinodeCatalog | undefined;
    if (!catalog) return; // deleted: nothing to report on
    const status = catalogStatus({
      catalog,
      ...this.cachedSpecs(namespace),
      secret: (secretName) => this.secrets.informer.get(secretName, namespace) as KubeObject | undefined,
      now: new Date(),
    });
    if (sameStatus(catalog.status, status)) return;
    await this.context.client.replaceStatus({ ...(catalog as unknown as KubeObject), status }, plurals.catalog);
  }

  private async catalogWork(): Promise<void> {
    for (;;) {
      const key = await this.catalogQueue.get();
      if (key === undefined) return;
      const [namespace, name] = key.split("/");
      try {
        await this.reconcileCatalog(namespace, name);
        this.catalogQueue.forget(key);
      } catch (error) {
        // A conflict (the catalog changed meanwhile) or an API error: the retry reads the caches again.
        const retryInMs = this.running ? this.catalogQueue.addRateLimited(key) : undefined;
        this.context.log.warn({ catalog: key, error: describeError(error), retryInMs }, "catalog status write failed");
      } finally {
        this.catalogQueue.done(key);
      }
    }
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
