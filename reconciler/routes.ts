// The operator's view of the gateway routes document: pure merge of one runtime's entry. The format
// and its codec live in schemas/api/routes.ts.
import type { GatewayRoutes, RouteEntry } from "../schemas/generated/types.ts";
import { decodeRoutes, emptyRoutes, encodeRoutes } from "../schemas/api/index.ts";
import { validateAgainstSchema } from "../schemas/validate.ts";

export { emptyRoutes };
export type RouteState = RouteEntry["state"];

/**
 * Parses data["routes.yaml"] leniently: entries that do not match the schema are dropped (one bad
 * writer must not block the others); an unreadable document starts over empty.
 */
export function parseRoutes(text: string | undefined): GatewayRoutes {
  if (!text) return emptyRoutes();
  const known = parsedTexts.get(text);
  if (known) return known;
  const routes = decodeRoutes(text, { mode: "lenient" }).document?.routes ?? [];
  const parsed = { ...emptyRoutes(), routes: sortRoutes(routes) };
  rememberParsed(text, parsed);
  return parsed;
}

/**
 * The last few documents parsed or written, by their text: every reconcile reads the same
 * ConfigMap text until it changes, and the route writer starts from the text it wrote last (while
 * the reconciles may still read the watched one before it). Parsing a 1,000-entry document is
 * milliseconds of YAML; this keeps it to once per text.
 */
const parsedTexts = new Map<string, GatewayRoutes>();
const parsedTextsKept = 4;

function rememberParsed(text: string, doc: GatewayRoutes): void {
  parsedTexts.delete(text);
  parsedTexts.set(text, doc);
  if (parsedTexts.size > parsedTextsKept) parsedTexts.delete(parsedTexts.keys().next().value!);
}

/**
 * The YAML of one entry as an item of the routes list, by the entry's JSON. The document is the
 * concatenation of its entries' items (a YAML block sequence), so a write that changes a few of
 * 1,000 entries encodes only those. Cleared when it holds far more than the last document.
 */
const entryItems = new Map<string, string>();
const routesListKey = "routes:\n";

function encodedItem(json: string): string {
  let item = entryItems.get(json);
  if (item === undefined) {
    const text = encodeRoutes({ ...emptyRoutes(), routes: [JSON.parse(json) as RouteEntry] });
    item = text.slice(text.indexOf(routesListKey) + routesListKey.length);
    entryItems.set(json, item);
  }
  return item;
}

/** The document's text, exactly as encodeRoutes writes it with its entries sorted. */
export function serializeRoutes(doc: GatewayRoutes): string {
  const routes = sortRoutes(doc.routes);
  if (routes.length === 0) return encodeRoutes({ ...doc, routes });
  const entries = routes.map((entry) => JSON.stringify(entry));
  if (entryItems.size > 2 * entries.length + 100) entryItems.clear();
  const head = encodeRoutes({ ...doc, routes: [] });
  const text = head.slice(0, head.lastIndexOf("routes:")) + routesListKey + entries.map(encodedItem).join("");
  // What parseRoutes would make of the text (entries as JSON gives them back): known without
  // parsing it, when every entry matches the schema (else parsing drops the bad ones).
  const written = { ...emptyRoutes(), routes: entries.map((json) => JSON.parse(json) as RouteEntry) };
  if (validateAgainstSchema("GatewayRoutes", written).length === 0) rememberParsed(text, written);
  return text;
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
