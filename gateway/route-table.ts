// Route selection (pure): which runtime(s) a NEW query may go to.
// Order: X-Trino-XTrinode header → client tag `xtrinode=…` (X-Trino-Client-Tags) → X-Trino-Routing-Group →
// request hostname → shared pool → default route. Explicit choices before implicit ones, and the more specific
// to XTrinode first: the header and the `xtrinode=` tag name XTrinode runtimes and nothing else (the tag is what
// JDBC's clientTags and the CLI's --client-tags can send, which cannot send arbitrary headers); the routing
// group is trino-gateway's generic header, often set by a proxy or left over from a trino-gateway setup; the
// hostname is whatever DNS name the client happened to use. The first selector present decides; an unknown
// runtime there is an error (never a silent fall-through to a runtime the client did not ask for).
import type { GatewayRoutes, RouteEntry } from "../schemas/generated/types.ts";
import { emptyRoutes } from "../schemas/api/index.ts";

export interface RouteTable {
  routes: RouteEntry[];
  byKey: Map<string, RouteEntry>;
  byName: Map<string, RouteEntry[]>;
  byHostname: Map<string, RouteEntry[]>;
  byPool: Map<string, RouteEntry[]>;
  defaults: RouteEntry[];
}

export function routeKey(route: { namespace: string; name: string }): string {
  return `${route.namespace}/${route.name}`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function buildRouteTable(doc: GatewayRoutes): RouteTable {
  const table: RouteTable = {
    routes: doc.routes,
    byKey: new Map(),
    byName: new Map(),
    byHostname: new Map(),
    byPool: new Map(),
    defaults: [],
  };
  for (const route of doc.routes) {
    table.byKey.set(routeKey(route), route);
    push(table.byName, route.name, route);
    for (const hostname of route.hostnames ?? []) push(table.byHostname, hostname.toLowerCase(), route);
    if (route.pool) push(table.byPool, route.pool, route);
    if (route.default) table.defaults.push(route);
  }
  return table;
}

export const emptyRouteTable: RouteTable = buildRouteTable(emptyRoutes());

/** Where a new query may go: one runtime, or several members balanced as a pool. */
export interface Target {
  /** "namespace/name" for a runtime, "pool:<name>" for a pool; used in messages and metrics. */
  label: string;
  members: RouteEntry[];
  via: "header" | "client-tag" | "routing-group" | "hostname" | "pool" | "default";
}

export type Selection = { ok: true; target: Target } | { ok: false; message: string };

export interface SelectionInput {
  /** Value of X-Trino-XTrinode: `namespace/name`, `name` when unambiguous, or a pool name. */
  header?: string;
  /** Value of X-Trino-Client-Tags (comma-separated); the tag `xtrinode=<namespace/name | name | pool>` selects. */
  clientTags?: string;
  /** Value of X-Trino-Routing-Group (trino-gateway's header): a pool, `namespace/name` or an unambiguous name. */
  routingGroup?: string;
  /** Request hostname (Host, or X-Forwarded-Host from a trusted proxy), without port. */
  hostname?: string;
}

/** The client tag that selects a runtime: `xtrinode=<runtime>`. */
export const RUNTIME_CLIENT_TAG = "xtrinode";

/** Explicit selectors, in the order they are consulted: where each comes from and how a message names it. */
const EXPLICIT_SELECTORS = [
  { via: "header", source: "the X-Trino-XTrinode header", fix: "set X-Trino-XTrinode to namespace/name" },
  {
    via: "client-tag",
    source: "the client tag",
    fix: `set the client tag ${RUNTIME_CLIENT_TAG}=namespace/name (JDBC clientTags, trino --client-tags)`,
  },
  { via: "routing-group", source: "the X-Trino-Routing-Group header", fix: "set X-Trino-Routing-Group to a pool or namespace/name" },
] as const;

/** The runtime named by `xtrinode=` among the client tags; several different ones are an error. */
function runtimeFromClientTags(tags: string | undefined): { value?: string; error?: string } {
  if (!tags) return {};
  const prefix = `${RUNTIME_CLIENT_TAG}=`;
  const values = [
    ...new Set(
      tags
        .split(",")
        .map((tag) => tag.trim())
        .filter((tag) => tag.startsWith(prefix))
        .map((tag) => tag.slice(prefix.length).trim()),
    ),
  ];
  if (values.length > 1)
    return {
      error: `the client tags name several XTrinode runtimes (${values.map((v) => `${prefix}${v}`).join(", ")}); keep one ${prefix}namespace/name tag`,
    };
  return { value: values[0] };
}

function origin(selector: (typeof EXPLICIT_SELECTORS)[number], value: string): string {
  return selector.via === "client-tag" ? `${selector.source} ${RUNTIME_CLIENT_TAG}=${value}` : selector.source;
}

/** A runtime or pool named by an explicit selector: `namespace/name`, an unambiguous `name`, or a pool name. */
function namedTarget(table: RouteTable, value: string, selector: (typeof EXPLICIT_SELECTORS)[number]): Selection {
  const via = selector.via;
  const byKey = table.byKey.get(value);
  if (byKey) return { ok: true, target: runtimeTarget(table, byKey, via) };
  if (!value.includes("/")) {
    const named = table.byName.get(value) ?? [];
    if (named.length === 1) return { ok: true, target: runtimeTarget(table, named[0], via) };
    if (named.length > 1) {
      const keys = named.map(routeKey).join(", ");
      return {
        ok: false,
        message: `XTrinode runtime "${value}" (from ${origin(selector, value)}) is ambiguous (${keys}); ${selector.fix}`,
      };
    }
    const pool = table.byPool.get(value);
    if (pool) return { ok: true, target: { label: `pool:${value}`, members: pool, via: "pool" } };
  }
  return { ok: false, message: `XTrinode runtime "${value}" (from ${origin(selector, value)}) is not known to this gateway` };
}

/** A runtime in a pool is balanced with its pool when it is DRAINING (new queries avoid it). */
function runtimeTarget(table: RouteTable, route: RouteEntry, via: Target["via"]): Target {
  if (route.state === "DRAINING" && route.pool) {
    const others = (table.byPool.get(route.pool) ?? []).filter((member) => member !== route);
    if (others.length > 0) return { label: routeKey(route), members: [route, ...others], via };
  }
  return { label: routeKey(route), members: [route], via };
}

export function selectTarget(table: RouteTable, input: SelectionInput): Selection {
  const tag = runtimeFromClientTags(input.clientTags);
  if (tag.error && !input.header?.trim()) return { ok: false, message: tag.error };
  const values = [input.header, tag.value, input.routingGroup];
  for (const [i, selector] of EXPLICIT_SELECTORS.entries()) {
    const value = values[i]?.trim();
    if (value) return namedTarget(table, value, selector);
  }
  const hostname = input.hostname?.toLowerCase();
  if (hostname) {
    const routes = table.byHostname.get(hostname) ?? [];
    if (routes.length === 1) return { ok: true, target: runtimeTarget(table, routes[0], "hostname") };
    // Several runtimes answering one hostname form a routing group.
    if (routes.length > 1) return { ok: true, target: { label: `host:${hostname}`, members: routes, via: "hostname" } };
    // A hostname whose first label names a pool (e.g. shared.trino.example.com → pool "shared").
    const pool = table.byPool.get(hostname.split(".")[0]);
    if (pool) return { ok: true, target: { label: `pool:${hostname.split(".")[0]}`, members: pool, via: "pool" } };
  }
  if (table.defaults.length === 1) return { ok: true, target: runtimeTarget(table, table.defaults[0], "default") };
  if (table.defaults.length > 1) return { ok: true, target: { label: "default", members: table.defaults, via: "default" } };
  return {
    ok: false,
    message: hostname
      ? `no XTrinode runtime serves hostname "${hostname}" and there is no default route; set the X-Trino-XTrinode header to namespace/name`
      : "no XTrinode runtime selected and there is no default route; set the X-Trino-XTrinode header to namespace/name",
  };
}
