// The detail view of one runtime (GET /v1/runtimes/{ns}/{name}/details, what the console's runtime
// page shows): its status view, the recent Kubernetes Events about it, the catalogs it uses with their
// Ready condition, and its recent resume/suspend history. Reads only; every part bounded.
import { notFound } from "./errors.ts";
import { eventReasons } from "./intent-decisions.ts";
import { runtimeView, type RuntimeView } from "./runtime-view.ts";
import type { RuntimeEvent, RuntimeStore } from "./store.ts";

/** Events shown per runtime (newest first). */
export const maxRuntimeEvents = 20;

export interface CatalogInUse {
  name: string;
  /** The catalog's Ready condition status ("True", "False", "Unknown"), or "Missing" when the XTrinodeCatalog is gone. */
  ready: string;
  reason: string | null;
  message: string | null;
}

export interface HistoryEntry {
  at: string;
  what: string;
  by: string | null;
}

export interface RuntimeDetails {
  runtime: RuntimeView;
  events: RuntimeEvent[];
  catalogs: CatalogInUse[];
  history: HistoryEntry[];
}

/** Events about resuming, suspending and idling (operator or API server) belong to the lifecycle history too. */
const lifecycleReason = /resum|suspend|idle|drain|paus|wake/i;

/**
 * Recent lifecycle moments, newest first: the resume and suspend requests this server recorded as Events
 * (who asked; Kubernetes keeps Events about an hour), else the last of each from the XTrinode's
 * annotations; when it last became Ready, when its last suspension began, its last reported query
 * activity, and other lifecycle Events (the operator's).
 */
export function lifecycleHistory(view: RuntimeView, events: RuntimeEvent[]): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  const add = (at: string | null, what: string, by: string | null = null) => {
    if (at) entries.push({ at, what, by });
  };
  const requestReasons: string[] = [eventReasons.resumeRequested, eventReasons.suspendRequested];
  const recorded = (reason: string) => events.some((event) => event.reason === reason);
  if (!recorded(eventReasons.resumeRequested)) add(view.resumeRequestedAt, "resume requested", view.resumeRequestedBy);
  if (!recorded(eventReasons.suspendRequested)) add(view.suspendRequestedAt, "suspend requested", view.suspendRequestedBy);
  add(view.readySince, "ready (route RUNNING)");
  add(view.suspendedAt, "suspension began");
  add(view.lastActivity, "last query activity (gateway)");
  for (const event of events) {
    // This server's own Events say who asked in their message ("resume requested by <caller>").
    if (requestReasons.includes(event.reason)) add(event.at, event.message);
    else if (lifecycleReason.test(event.reason)) add(event.at, `${event.reason}: ${event.message}`, event.source || null);
  }
  return entries.sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
}

export async function runtimeDetails(store: RuntimeStore, namespace: string, name: string): Promise<RuntimeDetails> {
  const [runtime, events, catalogs] = await Promise.all([
    store.getRuntime(namespace, name),
    store.listRuntimeEvents(namespace, name, maxRuntimeEvents),
    store.listCatalogs(namespace),
  ]);
  if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
  const view = runtimeView(runtime);
  const byName = new Map(catalogs.map((catalog) => [catalog.name, catalog]));
  return {
    runtime: view,
    events,
    catalogs: view.catalogs.map((catalogName) => {
      const catalog = byName.get(catalogName);
      const ready = catalog?.conditions.find((condition) => condition.type === "Ready");
      return {
        name: catalogName,
        ready: catalog ? (ready?.status ?? "Unknown") : "Missing",
        reason: ready?.reason ?? null,
        message: ready?.message ?? null,
      };
    }),
    history: lifecycleHistory(view, events),
  };
}
