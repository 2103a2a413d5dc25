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

/** One entry as written: its YAML item, the entry as reading that text gives it back, whether the schema takes it. */
interface EncodedEntry {
  item: string;
  read: RouteEntry;
  valid: boolean;
}

/**
 * Entries already encoded, by identity: the document is the concatenation of its entries' YAML
 * items (a block sequence), so a write that changes a few of 1,000 entries encodes only those.
 * The entries of a document we wrote are the `read` objects here, so the next write finds them.
 */
const encodedEntries = new WeakMap<RouteEntry, EncodedEntry>();
const routesListKey = "routes:\n";

function encodeEntry(entry: RouteEntry): EncodedEntry {
  let encoded = encodedEntries.get(entry);
  if (!encoded) {
    const text = encodeRoutes({ ...emptyRoutes(), routes: [entry] });
    // As parsing gives it back: fields without a value are not written.
    const read = JSON.parse(JSON.stringify(entry)) as RouteEntry;
    encoded = {
      item: text.slice(text.indexOf(routesListKey) + routesListKey.length),
      read,
      valid: validateAgainstSchema("GatewayRoutes", { ...emptyRoutes(), routes: [read] }).length === 0,
    };
    encodedEntries.set(entry, encoded);
    encodedEntries.set(read, encoded);
  }
  return encoded;
}

/** The document's text, exactly as encodeRoutes writes it with its entries sorted. */
export function serializeRoutes(doc: GatewayRoutes): string {
  const routes = sortRoutes(doc.routes);
  if (routes.length === 0) return encodeRoutes({ ...doc, routes });
  const entries = routes.map(encodeEntry);
  const head = encodeRoutes({ ...doc, routes: [] });
  const text = head.slice(0, head.lastIndexOf("routes:")) + routesListKey + entries.map((e) => e.item).join("");
  // What parseRoutes would make of the text, known without parsing it when the schema takes every
  // entry (else parsing drops the bad ones).
  if (entries.every((e) => e.valid)) rememberParsed(text, { ...emptyRoutes(), routes: entries.map((e) => e.read) });
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
