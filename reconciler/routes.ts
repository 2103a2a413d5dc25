// The operator's view of the gateway routes document: pure merge of one runtime's entry. The format
// and its codec live in schemas/api/routes.ts.
import type { GatewayRoutes, RouteEntry } from "../schemas/generated/types.ts";
import { decodeRoutes, emptyRoutes, encodeRoutes } from "../schemas/api/index.ts";

export { emptyRoutes };
export type RouteState = RouteEntry["state"];

/**
 * Parses data["routes.yaml"] leniently: entries that do not match the schema are dropped (one bad
 * writer must not block the others); an unreadable document starts over empty.
 */
export function parseRoutes(text: string | undefined): GatewayRoutes {
  if (!text) return emptyRoutes();
  if (text === lastParsed?.text) return lastParsed.doc;
  const routes = decodeRoutes(text, { mode: "lenient" }).document?.routes ?? [];
  const parsed = { ...emptyRoutes(), routes: sortRoutes(routes) };
  lastParsed = { text, doc: parsed };
  return parsed;
}

/** The last document parsed: every reconcile reads the same ConfigMap text until it changes. */
let lastParsed: { text: string; doc: GatewayRoutes } | undefined;

export function serializeRoutes(doc: GatewayRoutes): string {
  return encodeRoutes({ ...doc, routes: sortRoutes(doc.routes) });
}

function sortRoutes(routes: RouteEntry[]): RouteEntry[] {
  return [...routes].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export function findRoute(doc: GatewayRoutes, namespace: string, name: string): RouteEntry | undefined {
  return doc.routes.find((entry) => entry.namespace === namespace && entry.name === name);
}

/** Same entry apart from its updatedAt stamp. */
export function sameRoute(a: RouteEntry | undefined, b: RouteEntry | undefined): boolean {
  if (!a || !b) return a === b;
  const { updatedAt: _a, ...restA } = a;
  const { updatedAt: _b, ...restB } = b;
  return JSON.stringify(canonical(restA)) === JSON.stringify(canonical(restB));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/** Puts (or replaces) one runtime's entry; returns the same document object when nothing changes. */
export function upsertRoute(doc: GatewayRoutes, entry: RouteEntry): GatewayRoutes {
  const current = findRoute(doc, entry.namespace, entry.name);
  if (sameRoute(current, entry)) return doc;
  const others = doc.routes.filter((r) => r !== current);
  return { ...doc, routes: sortRoutes([...others, entry]) };
}

/** Drops one runtime's entry; returns the same document object when it is absent. */
export function removeRoute(doc: GatewayRoutes, namespace: string, name: string): GatewayRoutes {
  const current = findRoute(doc, namespace, name);
  if (!current) return doc;
  return { ...doc, routes: doc.routes.filter((r) => r !== current) };
}
