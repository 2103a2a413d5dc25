// The routes in force: decodes each routes.yaml delivery strictly (schemas/api/routes.ts); anything
// invalid (bad YAML, schema violations, no entries) keeps the last-good routes, is logged and counted.
import { decodeRoutes } from "../schemas/api/index.ts";
import type { GatewayRoutes } from "../schemas/generated/types.ts";
import type { Logger } from "../lib/logger.ts";
import { buildRouteTable, emptyRouteTable, type RouteTable } from "./route-table.ts";

export type RoutesParse = { ok: true; routes: GatewayRoutes } | { ok: false; reason: string; emptyRoutes?: GatewayRoutes };

export function parseRoutes(text: string): RoutesParse {
  const { document: routes, problems } = decodeRoutes(text, { mode: "strict" });
  if (!routes) return { ok: false, reason: problems.join("; ") };
  if (routes.routes.length === 0) return { ok: false, reason: "no route entries", emptyRoutes: routes };
  return { ok: true, routes };
}

export class RoutesReader {
  table: RouteTable = emptyRouteTable;
  generation = 0;
  invalidUpdates = 0;
  /** Invalid updates since the routes in force were applied (0: the latest delivery took effect). */
  rejectedSinceLastGood = 0;
  lastGoodAtMs: number | undefined;
  private readonly logger: Logger;
  private readonly listeners: Array<(table: RouteTable) => void> = [];

  constructor(logger: Logger) {
    this.logger = logger;
  }

  onChange(listener: (table: RouteTable) => void): void {
    this.listeners.push(listener);
  }

  /** Applies one delivery of routes.yaml text; returns whether it took effect. */
  apply(text: string, origin: string): boolean {
    let parsed = parseRoutes(text);
    // A fresh install has no runtimes yet: a valid but empty first document is the truth, not
    // corruption, and makes the gateway ready. Once routes were served, an empty list keeps them.
    if (!parsed.ok && parsed.emptyRoutes && this.generation === 0) parsed = { ok: true, routes: parsed.emptyRoutes };
    if (!parsed.ok) {
      this.invalidUpdates++;
      this.rejectedSinceLastGood++;
      this.logger.error(
        { event: "routes-invalid", origin, reason: parsed.reason, generation: this.generation },
        "invalid routes; keeping last-good routes",
      );
      return false;
    }
    this.table = buildRouteTable(parsed.routes);
    this.generation++;
    this.rejectedSinceLastGood = 0;
    this.lastGoodAtMs = Date.now();
    this.logger.info(
      { event: "routes-applied", origin, generation: this.generation, routes: parsed.routes.routes.length },
      "routes applied",
    );
    for (const listener of this.listeners) listener(this.table);
    return true;
  }
}
