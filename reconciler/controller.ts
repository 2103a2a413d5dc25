// The controller loop: informers feed runtime keys into the work queue; workers reconcile them
// one key at a time, retry failures with backoff, requeue on timers, and resync periodically.
// A second, small queue keeps XTrinodeCatalog status (usedBy, Ready) current from the informer caches.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { CachedReader } from "./cached-reader.ts";
import { guardrailKinds } from "./cluster-reader.ts";
import { group, guardrailsLabel, ownerLabel, plurals, routesConfigMapName, version } from "../schemas/api/index.ts";
import { prunableKinds } from "./constants.ts";
import type { KubeObject } from "./apply-decision.ts";
import type { XTrinode, XTrinodeCatalog } from "../renderer/types.ts";
import { catalogStatus, runtimesConcerned } from "./catalog-status.ts";
import { pruneGuardrails } from "./guardrails.ts";
import {
  customResourceInformer,
  labelledObjectInformer,
  namedConfigMapInformer,
  resilientInformer,
  secretInformer,
  type ResilientInformer,
} from "./informers.ts";
import { sameStatus } from "./status.ts";
import { describeError } from "./kube-client.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { reconcileRuntime, type ReconcileContext } from "./reconcile.ts";
import { RoutesPublisher } from "./routes-publisher.ts";
import { processQueue, WorkQueue, type KeyHandler } from "./workqueue.ts";

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

function splitKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}

export class Controller {
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
  private readonly reader: CachedReader;
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
    const watch = (name: string, informer: Parameters<typeof resilientInformer>[1]) => {
      const watched = resilientInformer(name, informer, log);
      this.informers.push(watched);
      return watched;
    };
    this.runtimes = watch("xtrinodes", customResourceInformer(kubeConfig, group, version, plurals.runtime, "XTrinode"));
    const catalogs = (this.catalogs = watch(
      "xtrinodecatalogs",
      customResourceInformer(kubeConfig, group, version, plurals.catalog, "XTrinodeCatalog"),
    ));
    const secrets = (this.secrets = watch("secrets", secretInformer(kubeConfig)));
    const owned = new Map(
      prunableKinds.map((kind) => [
        `${kind.apiVersion}/${kind.kind}`,
        watch(kind.plural, labelledObjectInformer(kubeConfig, kind, ownerLabel)),
      ]),
    );
    const guardrails = guardrailKinds.map((kind) =>
      watch(`guardrail ${kind.plural}`, labelledObjectInformer(kubeConfig, kind, guardrailsLabel)),
    );
    // The routes ConfigMap, so an unchanged runtime needs no read of the (large) routes document.
    const routes = watch("routes", namedConfigMapInformer(kubeConfig, options.context.gatewayNamespace, routesConfigMapName));
    this.reader = new CachedReader(
      { runtimes: this.runtimes, catalogs, secrets, routes, owned, guardrails },
      options.context.reader,
      options.context.client,
      options.context.gatewayNamespace,
    );
    const { client, gatewayNamespace } = options.context;
    // Route writes start from the watched ConfigMap too (a stale copy costs a 409 and a read).
    const publisher = new RoutesPublisher(client, { namespace: gatewayNamespace, cached: () => this.reader.routesConfigMap() });
    this.context = { ...options.context, reader: this.reader, routes: publisher };

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
      for (const name of runtimesConcerned(catalog as unknown as XTrinodeCatalog, runtimes, catalogs))
        this.queue.add(`${namespace}/${name}`);
      this.catalogQueue.add(keyOf(catalog));
    });
    secrets.informer.on("change", (secret) => {
      for (const key of this.secretUsers.get(keyOf(secret)) ?? []) this.queue.add(key);
      this.addCatalogsOf(secret.metadata?.namespace);
    });
    const ownedChanged = (object: KubernetesObject) => {
      const runtime = object.metadata?.labels?.[ownerLabel];
      if (runtime) this.queue.add(`${object.metadata?.namespace ?? ""}/${runtime}`);
    };
    // Changes to anything we own (Deployment readiness, node pool phase, an edited or deleted
    // object) requeue its runtime.
    for (const informer of owned.values()) informer.informer.on("change", ownedChanged);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { log } = this.context;
    // Optional kinds (Cluster API) may be missing: an informer that cannot start keeps retrying.
    await Promise.all(
      this.informers.map((i) =>
        i.start().catch((error) => log.warn({ informer: i.name, error: describeError(error) }, "informer start failed; retrying")),
      ),
    );
    const count = this.options.workers ?? 4;
    const running = () => this.running;
    this.workers = [
      ...Array.from({ length: count }, () => processQueue(this.queue, this.runtimeHandler(), running)),
      processQueue(this.catalogQueue, this.catalogHandler(), running),
    ];
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

  /** Runtime keys: one reconcile each (reconcile.ts), timed and counted in the metrics. */
  private runtimeHandler(): KeyHandler {
    const { metrics } = this.options;
    const context = this.context;
    return {
      reconcile: async (key) => {
        metrics.queueDepth.set(this.queue.depth);
        const [namespace, name] = splitKey(key);
        const end = metrics.reconcileDuration.startTimer();
        try {
          const result = await reconcileRuntime(context, namespace, name);
          end({ outcome: "success" });
          metrics.reconcileTotal.inc({ outcome: "success" });
          this.rememberSecrets(key, result.secretNames);
          return result.requeueAfterMs;
        } catch (error) {
          end({ outcome: "error" });
          metrics.reconcileTotal.inc({ outcome: "error" });
          // The retry reads the informer cache, not what a write of this reconcile answered.
          this.reader.forgetWritten(namespace, name);
          throw error;
        } finally {
          metrics.queueDepth.set(this.queue.depth);
        }
      },
      failed: (key, error, retryInMs) => context.log.warn({ runtime: key, error: describeError(error), retryInMs }, "reconcile failed"),
    };
  }

  /** Catalog keys: status from the informer caches; a conflict (the catalog changed meanwhile) or an API error is retried. */
  private catalogHandler(): KeyHandler {
    return {
      reconcile: async (key) => {
        await this.reconcileCatalog(...splitKey(key));
        return undefined;
      },
      failed: (key, error, retryInMs) =>
        this.context.log.warn({ catalog: key, error: describeError(error), retryInMs }, "catalog status write failed"),
    };
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
