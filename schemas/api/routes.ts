// The gateway routes document (schemas/routes.schema.json) and where it is published: ConfigMap
// `trino-gateway-routes`, data key `routes.yaml`, in the gateway's namespace. One codec for every
// reader and writer; a change of the routes format starts in routes.schema.json (`npm run gen`), then here.
import yaml from "js-yaml";
import type { GatewayRoutes, RouteEntry } from "../generated/types.ts";
import { validateAgainstSchema } from "../validate.ts";
import { apiVersion, kinds } from "./group.ts";

export const routesConfigMapName = "trino-gateway-routes";
export const routesDataKey = "routes.yaml";
/** Namespace of the gateway and its routes ConfigMap unless configured otherwise. */
export const defaultGatewayNamespace = "xtrinode-gateway";

export function emptyRoutes(): GatewayRoutes {
  return { apiVersion, kind: kinds.routes, routes: [] };
}

/** The routes document as YAML: keys in schema order, entries in the order given, no line folding. */
export function encodeRoutes(doc: GatewayRoutes): string {
  return yaml.dump({ apiVersion: doc.apiVersion, kind: doc.kind, routes: doc.routes }, { lineWidth: -1, noRefs: true, sortKeys: false });
}

/**
 * - `strict`: the whole document must match the schema; any problem rejects it (document null). The
 *   gateway reads this way and keeps its last-good routes.
 * - `lenient`: entries that do not match the schema are dropped, each named in `problems`, and the
 *   rest kept (one bad writer must not block the others). The operator reads this way before it writes.
 * Either mode answers null for text that is not a routes document at all (bad YAML, no `routes` list).
 */
export type RoutesDecodeMode = "strict" | "lenient";

export interface DecodedRoutes {
  document: GatewayRoutes | null;
  /** One line per problem: "<path>: <message>" ("(document)" for the whole document). */
  problems: string[];
}

export function decodeRoutes(text: string, options: { mode: RoutesDecodeMode }): DecodedRoutes {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (error) {
    return { document: null, problems: [`invalid YAML: ${(error as Error).message.split("\n")[0]}`] };
  }
  if (options.mode === "strict") {
    const issues = validateAgainstSchema("GatewayRoutes", doc);
    if (issues.length > 0) return { document: null, problems: issues.map((issue) => `${issue.path || "(document)"}: ${issue.message}`) };
    return { document: doc as GatewayRoutes, problems: [] };
  }
  const routes = (doc as { routes?: unknown } | null)?.routes;
  if (!Array.isArray(routes)) return { document: null, problems: ["(document): not a routes document (no routes list)"] };
  // The common case is a valid document: one validation; only a bad one is checked entry by entry.
  if (validateAgainstSchema("GatewayRoutes", { ...emptyRoutes(), routes }).length === 0)
    return { document: { ...emptyRoutes(), routes: routes as RouteEntry[] }, problems: [] };
  const kept: RouteEntry[] = [];
  const problems: string[] = [];
  routes.forEach((entry, index) => {
    const issues = validateAgainstSchema("GatewayRoutes", { ...emptyRoutes(), routes: [entry] });
    if (issues.length === 0) kept.push(entry as RouteEntry);
    else
      problems.push(
        ...issues.map((issue) => `${issue.path.replace(/^routes\[0\]/, `routes[${index}]`) || "(document)"}: ${issue.message}`),
      );
  });
  return { document: { ...emptyRoutes(), routes: kept }, problems };
}
