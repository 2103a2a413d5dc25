// `xtrinode status`, pure part: live XTrinodes (+ the gateway's status document, when reachable) →
// one row per runtime → a kubectl-style table, or the rows as JSON/YAML. No I/O here: the time is an
// argument, so every column is testable.
import type { GatewayStatus, RuntimeStatus, XTrinode } from "../schemas/generated/types.ts";
import { annotations } from "../schemas/api/index.ts";
import { parseDurationMs } from "../reconciler/duration.ts";
import { evaluateIdle } from "../reconciler/lifecycle-decisions.ts";
import { backendUrl, runtimeNames } from "../renderer/names.ts";
import { lastActivityOf } from "../apiserver/runtime-view.ts";

/** An XTrinode as the API server returns it (metadata carries the server's fields). */
export type LiveXTrinode = XTrinode & { metadata: XTrinode["metadata"] & { creationTimestamp?: string } };

/** One runtime as `xtrinode status` shows it; also the `-o json|yaml` item. */
export interface RuntimeStatusRow {
  namespace: string;
  name: string;
  phase?: string;
  routeState?: string;
  workers: { ready: number; desired: string; mode: "fixed" | "keda" };
  /** From the gateway; absent when the gateway was not asked or not reachable. */
  heldQueries?: number;
  inFlightQueries?: number;
  lastActivity?: string;
  lastActivitySeconds?: number;
  /** Seconds until idle suspend (0: due now); absent when the runtime never idles or is not running. */
  wakeTTLLeftSeconds?: number;
  wakeTTL?: string;
  created?: string;
  ageSeconds?: number;
  /** Conditions that are not True, as Type=Status:Reason. */
  problems: string[];
  message?: string;
  hostnames: string[];
  pool?: string;
  backend: string;
}

function time(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Ready/desired workers and the mode: fixed `count` (0 while suspended), keda `min-max`. */
function workersOf(runtime: LiveXTrinode): RuntimeStatusRow["workers"] {
  const spec = runtime.spec.workers ?? {};
  const ready = runtime.status?.workers ?? 0;
  const asleep =
    runtime.status?.phase === "Suspended" || runtime.status?.phase === "Suspending" || runtime.spec.lifecycle?.suspended === true;
  if (spec.mode === "keda") return { ready, desired: asleep ? "0" : `${spec.min ?? 0}-${spec.max ?? "?"}`, mode: "keda" };
  return { ready, desired: asleep ? "0" : String(spec.count ?? 1), mode: "fixed" };
}

/** Seconds until the operator's idle rule suspends this runtime; only while it serves. */
function wakeTTLLeft(runtime: LiveXTrinode, nowMs: number): number | undefined {
  const ttl = runtime.spec.lifecycle?.wakeTTL;
  const phase = runtime.status?.phase;
  if (!ttl || runtime.spec.lifecycle?.suspended || (phase !== "Ready" && phase !== "Reconciling")) return undefined;
  const found = runtime.metadata.annotations ?? {};
  const { idle, idleInMs } = evaluateIdle({
    now: new Date(nowMs),
    wakeTTLMs: parseDurationMs(ttl),
    lastActivity: found[annotations.lastActivity],
    resumeRequestedAt: found[annotations.resumeRequestedAt],
    status: runtime.status ?? {},
  });
  if (idle) return 0;
  return idleInMs === undefined ? undefined : Math.max(0, Math.floor(idleInMs / 1000));
}

export function statusRow(runtime: LiveXTrinode, fromGateway: RuntimeStatus | undefined, nowMs: number): RuntimeStatusRow {
  const namespace = runtime.metadata.namespace ?? "default";
  const lastActivity = lastActivityOf(runtime);
  const created = runtime.metadata.creationTimestamp;
  const seconds = (at: string | undefined) => (time(at) === undefined ? undefined : Math.max(0, Math.floor((nowMs - time(at)!) / 1000)));
  const row: RuntimeStatusRow = {
    namespace,
    name: runtime.metadata.name,
    phase: runtime.status?.phase,
    routeState: runtime.status?.routeState,
    workers: workersOf(runtime),
    heldQueries: fromGateway?.heldQueries,
    inFlightQueries: fromGateway?.inFlightQueries,
    lastActivity,
    lastActivitySeconds: seconds(lastActivity),
    wakeTTLLeftSeconds: wakeTTLLeft(runtime, nowMs),
    wakeTTL: runtime.spec.lifecycle?.wakeTTL,
    created,
    ageSeconds: seconds(created),
    problems: (runtime.status?.conditions ?? [])
      .filter((condition) => condition.status !== "True")
      .map((condition) => `${condition.type}=${condition.status}${condition.reason ? `:${condition.reason}` : ""}`),
    message: runtime.status?.message,
    hostnames: runtime.spec.route?.hostnames ?? [],
    pool: runtime.spec.route?.pool,
    backend: fromGateway?.backend ?? backendUrl(runtimeNames({ metadata: { ...runtime.metadata, namespace } })),
  };
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined)) as unknown as RuntimeStatusRow;
}

/** Rows sorted by namespace then name, joined with the gateway's per-runtime counts. */
export function statusRows(runtimes: LiveXTrinode[], gateway: GatewayStatus | undefined, nowMs: number): RuntimeStatusRow[] {
  const byKey = new Map((gateway?.runtimes ?? []).map((entry) => [`${entry.namespace}/${entry.name}`, entry]));
  return runtimes
    .map((runtime) => {
      const key = `${runtime.metadata.namespace ?? "default"}/${runtime.metadata.name}`;
      // The gateway reached but not routing this runtime (yet): zero queries, not unknown.
      const entry = byKey.get(key) ?? (gateway ? { namespace: "", name: "", heldQueries: 0, inFlightQueries: 0 } : undefined);
      return statusRow(runtime, entry, nowMs);
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/**
 * A duration the way kubectl prints ages (k8s.io/apimachinery duration.HumanDuration): 45s, 3m20s,
 * 25m, 4h10m, 2d3h, 40d, 3y20d.
 */
export function humanDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

export interface TableOptions {
  /** Show the NAMESPACE column (-A, as kubectl does). */
  allNamespaces: boolean;
  wide: boolean;
}

const none = "<none>";

/** Column headers, in order; the same vocabulary as the CRD's printer columns. */
export function tableHeaders(options: TableOptions): string[] {
  return [
    ...(options.allNamespaces ? ["NAMESPACE"] : []),
    "NAME",
    "PHASE",
    "ROUTE",
    "WORKERS",
    "HELD",
    "IN-FLIGHT",
    "LAST ACTIVITY",
    "WAKE TTL",
    "AGE",
    ...(options.wide ? ["CONDITIONS", "HOSTNAMES", "POOL", "BACKEND"] : []),
  ];
}

/** The cells of one row, in header order. HELD and IN-FLIGHT are blank when the gateway gave no answer. */
export function tableCells(row: RuntimeStatusRow, options: TableOptions): string[] {
  const count = (value: number | undefined) => (value === undefined ? "" : String(value));
  // "never": no wakeTTL; "-": one is set but the runtime is not serving (asleep, waking, failing).
  const wakeTTL = row.wakeTTLLeftSeconds !== undefined ? humanDuration(row.wakeTTLLeftSeconds) : row.wakeTTL ? "-" : "never";
  return [
    ...(options.allNamespaces ? [row.namespace] : []),
    row.name,
    row.phase ?? none,
    row.routeState ?? none,
    `${row.workers.ready}/${row.workers.desired} ${row.workers.mode}`,
    count(row.heldQueries),
    count(row.inFlightQueries),
    row.lastActivitySeconds === undefined ? none : `${humanDuration(row.lastActivitySeconds)} ago`,
    wakeTTL,
    row.ageSeconds === undefined ? none : humanDuration(row.ageSeconds),
    ...(options.wide
      ? [
          row.problems.length ? row.problems.join(",") : none,
          row.hostnames.length ? row.hostnames.join(",") : none,
          row.pool ?? none,
          row.backend,
        ]
      : []),
  ];
}

/** Left-aligned columns separated by three spaces, like kubectl's tabwriter (trailing blanks trimmed). */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] + 3)))
      .join("")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** The whole table, or kubectl's "No resources found" line. */
export function renderStatusTable(rows: RuntimeStatusRow[], options: TableOptions, namespace: string | undefined): string {
  if (rows.length === 0)
    return options.allNamespaces || !namespace ? "No XTrinodes found.\n" : `No XTrinodes found in ${namespace} namespace.\n`;
  return formatTable(
    tableHeaders(options),
    rows.map((row) => tableCells(row, options)),
  );
}
