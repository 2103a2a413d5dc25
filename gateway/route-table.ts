// Route selection (pure): which runtime(s) a NEW query may go to.
// Order: X-Trino-XTrinode header → request hostname → shared pool → default route.
import type { GatewayRoutes, RouteEntry } from "../schemas/generated/types.ts";

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
  const table: RouteTable = { routes: doc.routes, byKey: new Map(), byName: new Map(), byHostname: new Map(), byPool: new Map(), defaults: [] };
  for (const route of doc.routes) {
    table.byKey.set(routeKey(route), route);
    push(table.byName, route.name, route);
    for (const hostname of route.hostnames ?? []) push(table.byHostname, hostname.toLowerCase(), route);
    if (route.pool) push(table.byPool, route.pool, route);
    if (route.default) table.defaults.push(route);
  }
  return table;
}

export const emptyRouteTable: RouteTable = buildRouteTable({ apiVersion: "xtrinode.io/v1alpha1", kind: "GatewayRoutes", routes: [] });

/** Where a new query may go: one runtime, or several members balanced as a pool. */
export interface Target {
  /** "namespace/name" for a runtime, "pool:<name>" for a pool; used in messages and metrics. */
  label: string;
  members: RouteEntry[];
  via: "header" | "hostname" | "pool" | "default";
}

export type Selection = { ok: true; target: Target } | { ok: false; message: string };

export interface SelectionInput {
  /** Value of X-Trino-XTrinode: `namespace/name`, `name` when unambiguous, or a pool name. */
  header?: string;
  /** Request hostname (Host, or X-Forwarded-Host from a trusted proxy), without port. */
  hostname?: string;
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
  const header = input.header?.trim();
  if (header) {
    const byKey = table.byKey.get(header);
    if (byKey) return { ok: true, target: runtimeTarget(table, byKey, "header") };
    if (!header.includes("/")) {
      const named = table.byName.get(header) ?? [];
      if (named.length === 1) return { ok: true, target: runtimeTarget(table, named[0], "header") };
      if (named.length > 1) {
        const keys = named.map(routeKey).join(", ");
        return { ok: false, message: `XTrinode runtime "${header}" is ambiguous (${keys}); set X-Trino-XTrinode to namespace/name` };
      }
      const pool = table.byPool.get(header);
      if (pool) return { ok: true, target: { label: `pool:${header}`, members: pool, via: "pool" } };
    }
    return { ok: false, message: `XTrinode runtime "${header}" (from the X-Trino-XTrinode header) is not known to this gateway` };
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
