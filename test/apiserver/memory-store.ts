// An in-memory RuntimeStore for unit tests of the lifecycle core (no network). It follows the
// Kubernetes semantics the core relies on: resourceVersions, 409 on create-exists and stale update,
// merge patch with an optional resourceVersion precondition. Calls are counted; faults can be armed.
// Also the lifecycle core over such a store, with the settings every in-process test uses.
import type { XTrinode } from "../../schemas/generated/types.ts";
import { kubeUnavailable } from "../../apiserver/errors.ts";
import { mergePatch } from "../../schemas/api/index.ts";
import type { LeaseRecord } from "../../lib/lease.ts";
import type { CatalogRecord, MergePatch, RuntimeEvent, RuntimeStore, WriteResult } from "../../apiserver/store.ts";
import { LifecycleActions, type LifecycleOptions } from "../../apiserver/lifecycle-actions.ts";
import type { ApiServerMetrics } from "../../apiserver/metrics.ts";
import { silentLogger } from "../../lib/logger.ts";

type Op =
  | "getRuntime"
  | "listRuntimes"
  | "createRuntimeEvent"
  | "listRuntimeEvents"
  | "listCatalogs"
  | "patchRuntime"
  | "getLease"
  | "createLease"
  | "updateLease"
  | "deleteLease"
  | "ping";

export class MemoryStore implements RuntimeStore {
  private version = 0;
  readonly runtimes = new Map<string, XTrinode>();
  readonly leases = new Map<string, LeaseRecord>();
  /** Events by runtime key namespace/name, newest first. */
  readonly events = new Map<string, RuntimeEvent[]>();
  /** Catalogs by namespace. */
  readonly catalogs = new Map<string, CatalogRecord[]>();
  readonly calls: Op[] = [];
  /** Ops that fail with a 503 (as the Kubernetes adapter would on 500 / timeout). */
  readonly failing = new Set<Op>();
  /** Awaited before every call: lets tests hold calls in flight. */
  gate: Promise<void> = Promise.resolve();
  /** Awaited before calls of one kind only (after the gate). */
  readonly holds = new Map<Op, Promise<void>>();

  count(op: Op): number {
    return this.calls.filter((call) => call === op).length;
  }

  private async enter(op: Op): Promise<void> {
    this.calls.push(op);
    await this.gate;
    await this.holds.get(op);
    if (this.failing.has(op)) throw kubeUnavailable(`Kubernetes API unavailable: ${op} failed: HTTP 500`);
  }

  addRuntime(
    namespace: string,
    name: string,
    extra: { suspended?: boolean; routeState?: string; annotations?: Record<string, string> } = {},
  ): void {
    this.runtimes.set(`${namespace}/${name}`, {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name, namespace, annotations: extra.annotations, resourceVersion: String(++this.version) } as XTrinode["metadata"],
      spec: { lifecycle: { suspended: extra.suspended ?? true } },
      status: extra.routeState ? { routeState: extra.routeState as "RUNNING" } : undefined,
    });
  }

  async getRuntime(namespace: string, name: string): Promise<XTrinode | undefined> {
    await this.enter("getRuntime");
    const runtime = this.runtimes.get(`${namespace}/${name}`);
    return runtime ? structuredClone(runtime) : undefined;
  }

  async listRuntimes(namespace?: string): Promise<XTrinode[]> {
    await this.enter("listRuntimes");
    return [...this.runtimes.values()].filter((r) => !namespace || r.metadata.namespace === namespace).map((r) => structuredClone(r));
  }

  async patchRuntime(namespace: string, name: string, patch: MergePatch): Promise<WriteResult<XTrinode>> {
    await this.enter("patchRuntime");
    const key = `${namespace}/${name}`;
    const current = this.runtimes.get(key);
    if (!current) return { ok: false, reason: "notFound" };
    const wanted = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    const currentVersion = (current.metadata as { resourceVersion?: string }).resourceVersion;
    if (wanted !== undefined && wanted !== currentVersion) return { ok: false, reason: "conflict" };
    const next = mergePatch(current, patch) as XTrinode;
    (next.metadata as { resourceVersion?: string }).resourceVersion = String(++this.version);
    this.runtimes.set(key, next);
    return { ok: true, value: structuredClone(next) };
  }

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    await this.enter("getLease");
    const lease = this.leases.get(`${namespace}/${name}`);
    return lease ? { ...lease } : undefined;
  }

  async createLease(namespace: string, name: string, record: LeaseRecord): Promise<WriteResult<LeaseRecord>> {
    await this.enter("createLease");
    const key = `${namespace}/${name}`;
    if (this.leases.has(key)) return { ok: false, reason: "conflict" };
    const stored = { ...record, resourceVersion: String(++this.version) };
    this.leases.set(key, stored);
    return { ok: true, value: { ...stored } };
  }

  async updateLease(namespace: string, name: string, record: LeaseRecord): Promise<WriteResult<LeaseRecord>> {
    await this.enter("updateLease");
    const key = `${namespace}/${name}`;
    const current = this.leases.get(key);
    if (!current) return { ok: false, reason: "notFound" };
    if (current.resourceVersion !== record.resourceVersion) return { ok: false, reason: "conflict" };
    const stored = { ...record, resourceVersion: String(++this.version) };
    this.leases.set(key, stored);
    return { ok: true, value: { ...stored } };
  }

  async deleteLease(namespace: string, name: string, resourceVersion: string): Promise<WriteResult<void>> {
    await this.enter("deleteLease");
    const key = `${namespace}/${name}`;
    const current = this.leases.get(key);
    if (!current) return { ok: false, reason: "notFound" };
    if (current.resourceVersion !== resourceVersion) return { ok: false, reason: "conflict" };
    this.leases.delete(key);
    return { ok: true, value: undefined };
  }

  async createRuntimeEvent(runtime: XTrinode, event: { type: "Normal" | "Warning"; reason: string; message: string }): Promise<void> {
    await this.enter("createRuntimeEvent");
    const key = `${runtime.metadata.namespace}/${runtime.metadata.name}`;
    this.events.set(key, [
      { ...event, at: new Date().toISOString(), count: 1, source: "xtrinode-apiserver" },
      ...(this.events.get(key) ?? []),
    ]);
  }

  async listRuntimeEvents(namespace: string, name: string, limit: number): Promise<RuntimeEvent[]> {
    await this.enter("listRuntimeEvents");
    return (this.events.get(`${namespace}/${name}`) ?? []).slice(0, limit).map((event) => ({ ...event }));
  }

  async listCatalogs(namespace: string): Promise<CatalogRecord[]> {
    await this.enter("listCatalogs");
    return structuredClone(this.catalogs.get(namespace) ?? []);
  }

  async ping(): Promise<void> {
    await this.enter("ping");
  }
}

/** The lifecycle core over a test store (30 s Leases, Retry-After 5 s, activity written every 10 s at most): one setting for every in-process test. */
export function testLifecycle(store: RuntimeStore, metrics: ApiServerMetrics, options: Partial<LifecycleOptions> = {}): LifecycleActions {
  return new LifecycleActions({
    store,
    metrics,
    logger: silentLogger(),
    identity: "t",
    leaseDurationSeconds: 30,
    retryAfterSeconds: 5,
    activityMinIntervalSeconds: 10,
    ...options,
  });
}
