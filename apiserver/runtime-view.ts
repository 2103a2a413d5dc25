// The status view of a runtime that GET /v1/runtimes… and the console show: spec intent, status and the
// lifecycle annotations, with the operator's idle-suspend deadline. Pure: from the XTrinode alone.
import { annotations } from "../schemas/api/index.ts";
import type { Condition, XTrinode } from "../schemas/generated/types.ts";
import { parseDurationMs } from "../reconciler/duration.ts";
import { idleDeadlineMs } from "../reconciler/lifecycle-decisions.ts";

export interface RuntimeView {
  namespace: string;
  name: string;
  phase: string | null;
  routeState: string | null;
  suspended: boolean;
  lastActivity: string | null;
  resumeRequestedAt: string | null;
  resumeRequestedBy: string | null;
  suspendRequestedAt: string | null;
  suspendRequestedBy: string | null;
  readySince: string | null;
  suspendedAt: string | null;
  message: string | null;
  conditions: Condition[];
  /** Worker pool: mode, ready replicas (status) and what the spec asks (fixed count, or keda min..max). */
  workers: WorkersView;
  hostnames: string[];
  pool: string | null;
  /** XTrinodeCatalog names in use (status.catalogs). */
  catalogs: string[];
  wakeTTL: string | null;
  /** When the idle rule suspends it if no query comes (the operator's rule); null when it never idles or is not serving. */
  idleSuspendAt: string | null;
}

export interface WorkersView {
  mode: "fixed" | "keda";
  ready: number | null;
  /** Fixed mode: the count; keda mode: null (between min and max). */
  desired: number | null;
  min: number | null;
  max: number | null;
}

/** The status view of an XTrinode served by GET /v1/runtimes…: spec intent, status and lifecycle annotations. */
export function runtimeView(runtime: XTrinode): RuntimeView {
  const notes = runtime.metadata.annotations ?? {};
  const status = runtime.status ?? {};
  const spec = runtime.spec ?? {};
  const suspended = spec.lifecycle?.suspended === true;
  const wakeTTL = spec.lifecycle?.wakeTTL ?? null;
  const workers = spec.workers ?? {};
  const mode = workers.mode ?? "fixed";
  let idleSuspendAt: string | null = null;
  if (wakeTTL !== null && !suspended && status.routeState === "RUNNING") {
    let wakeTTLMs: number | undefined;
    try {
      wakeTTLMs = parseDurationMs(wakeTTL);
    } catch {
      wakeTTLMs = undefined; // the operator reports an invalid spec in the conditions
    }
    const deadline = idleDeadlineMs({
      wakeTTLMs,
      lastActivity: notes[annotations.lastActivity],
      resumeRequestedAt: notes[annotations.resumeRequestedAt],
      status,
    });
    idleSuspendAt = deadline === undefined ? null : new Date(deadline).toISOString();
  }
  return {
    namespace: runtime.metadata.namespace ?? "",
    name: runtime.metadata.name,
    phase: status.phase ?? null,
    routeState: status.routeState ?? null,
    suspended,
    lastActivity: lastActivityOf(runtime) ?? null,
    resumeRequestedAt: notes[annotations.resumeRequestedAt] ?? null,
    resumeRequestedBy: notes[annotations.resumeRequestedBy] ?? null,
    suspendRequestedAt: notes[annotations.suspendRequestedAt] ?? null,
    suspendRequestedBy: notes[annotations.suspendRequestedBy] ?? null,
    readySince: status.readySince ?? null,
    suspendedAt: status.suspendedAt ?? null,
    message: status.message ?? null,
    conditions: status.conditions ?? [],
    workers: {
      mode,
      ready: status.workers ?? null,
      desired: mode === "fixed" ? (workers.count ?? 1) : null,
      min: mode === "keda" ? (workers.min ?? null) : null,
      max: mode === "keda" ? (workers.max ?? null) : null,
    },
    hostnames: spec.route?.hostnames ?? [],
    pool: spec.route?.pool ?? null,
    catalogs: status.catalogs ?? [],
    wakeTTL,
    idleSuspendAt,
  };
}

/**
 * When the runtime last served a query, as the console and `xtrinode status` show it: the later of the
 * gateway's xtrinode.io/last-activity annotation and the operator's status.lastActivityTime (an unparseable
 * time counts as absent).
 */
export function lastActivityOf(runtime: XTrinode): string | undefined {
  let latest: { at: string; ms: number } | undefined;
  for (const at of [runtime.metadata.annotations?.[annotations.lastActivity], runtime.status?.lastActivityTime]) {
    const ms = at ? Date.parse(at) : NaN;
    if (at && Number.isFinite(ms) && (latest === undefined || ms > latest.ms)) latest = { at, ms };
  }
  return latest?.at;
}
