// What each lifecycle endpoint does, behind the HTTP layer (server.ts): resume (through the stateful
// resume gate, resume-gate.ts), suspend, activity reports and the status views. All Kubernetes I/O goes
// through a RuntimeStore; time comes from an injected clock; the decisions are pure (intent-decisions.ts).
import { notFound } from "./errors.ts";
import {
  activityPatch,
  alreadySuspendedAnswer,
  eventReasons,
  parseActivityTime,
  suspendIntentPatch,
  type LifecycleAnswer,
} from "./intent-decisions.ts";
import { countedWrite, type ApiServerMetrics } from "./metrics.ts";
import { defaultLeaseNamespace } from "./names.ts";
import { ResumeGate, type ResumeGateOptions } from "./resume-gate.ts";
import { runtimeView, type RuntimeView } from "./runtime-view.ts";
import { recordEventInBackground, type RuntimeStore } from "./store.ts";

/** The resume gate's options (resume-gate.ts), with defaults for the last three, and the activity throttle. */
export interface LifecycleOptions extends Omit<ResumeGateOptions, "leaseNamespace" | "abandonedLeaseGraceMs" | "now"> {
  /** At most one last-activity write per runtime per this many seconds (per process). */
  activityMinIntervalSeconds: number;
  /** Default 10 s: see ResumeGateOptions. */
  abandonedLeaseGraceMs?: number;
  /** Namespace of the resume Leases (default xtrinode-system, the API server's own). */
  leaseNamespace?: string;
  now?: () => number;
}

export class LifecycleActions {
  private readonly options: LifecycleOptions;
  private readonly now: () => number;
  private readonly gate: ResumeGate;
  /** Per runtime key: local time of the last activity check/write. */
  private readonly activityChecks = new Map<string, number>();

  constructor(options: LifecycleOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.gate = new ResumeGate({
      store: options.store,
      metrics: options.metrics,
      logger: options.logger,
      identity: options.identity,
      leaseDurationSeconds: options.leaseDurationSeconds,
      leaseNamespace: options.leaseNamespace ?? defaultLeaseNamespace,
      retryAfterSeconds: options.retryAfterSeconds,
      abandonedLeaseGraceMs: options.abandonedLeaseGraceMs ?? 10_000,
      now: this.now,
    });
  }

  /** Lease-gated, single-flight: see resume-gate.ts. */
  resume(namespace: string, name: string, caller: string): Promise<LifecycleAnswer> {
    return this.gate.resume(namespace, name, caller);
  }

  /** Records suspend intent (no write when already suspended) and drops the resume Lease so a later resume proceeds at once. */
  async suspend(namespace: string, name: string, caller: string): Promise<LifecycleAnswer> {
    const { store, metrics, logger } = this.options;
    const runtime = await store.getRuntime(namespace, name);
    if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
    const unchanged = alreadySuspendedAnswer(runtime, namespace, name);
    if (unchanged) return unchanged;
    const at = new Date(this.now()).toISOString();
    const patched = await countedWrite(metrics, "xtrinode", "patch", () =>
      store.patchRuntime(namespace, name, suspendIntentPatch(at, caller)),
    );
    if (!patched.ok) throw notFound(`XTrinode ${namespace}/${name} not found`);
    logger.info({ event: "suspend-requested", namespace, name, by: caller }, "suspend intent recorded");
    recordEventInBackground(store, logger, runtime, eventReasons.suspendRequested, `suspend requested by ${caller}`);
    await this.gate.openAfterSuspend(namespace, name);
    return { status: 202, body: { namespace, name, state: "SUSPENDING", suspended: true } };
  }

  /** Moves xtrinode.io/last-activity forward, at most once per activityMinIntervalSeconds per runtime in this process. */
  async reportActivity(namespace: string, name: string, body: unknown): Promise<LifecycleAnswer> {
    const { store, metrics, activityMinIntervalSeconds } = this.options;
    const nowMs = this.now();
    const atMs = parseActivityTime(body, nowMs);
    const key = `${namespace}/${name}`;
    const lastCheck = this.activityChecks.get(key);
    if (lastCheck !== undefined && nowMs - lastCheck < activityMinIntervalSeconds * 1000) return { status: 204 };
    this.activityChecks.set(key, nowMs);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const runtime = await store.getRuntime(namespace, name);
        if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
        const patch = activityPatch(runtime, atMs);
        if (!patch) return { status: 204 };
        const result = await countedWrite(metrics, "xtrinode", "patch", () => store.patchRuntime(namespace, name, patch));
        if (result.ok) return { status: 204 };
        if (result.reason === "notFound") throw notFound(`XTrinode ${namespace}/${name} not found`);
      }
      return { status: 204 }; // changed twice under us: someone else is writing activity; ours is not needed
    } catch (error) {
      this.activityChecks.delete(key);
      throw error;
    }
  }

  async status(namespace: string, name: string): Promise<RuntimeView> {
    const runtime = await this.options.store.getRuntime(namespace, name);
    if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
    return runtimeView(runtime);
  }

  async list(namespace?: string): Promise<RuntimeView[]> {
    const runtimes = await this.options.store.listRuntimes(namespace);
    return runtimes
      .map(runtimeView)
      .sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
  }
}
