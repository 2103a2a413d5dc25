// The routes in force: parses and validates each routes.yaml delivery; anything invalid (bad YAML,
// schema violations, no entries) keeps the last-good routes, is logged and counted.
import yaml from "js-yaml";
import { validateAgainstSchema } from "../schemas/validate.ts";
import type { GatewayRoutes } from "../schemas/generated/types.ts";
import type { Logger } from "../lib/logger.ts";
import { buildRouteTable, emptyRouteTable, type RouteTable } from "./route-table.ts";

export type RoutesParse = { ok: true; routes: GatewayRoutes } | { ok: false; reason: string; emptyRoutes?: GatewayRoutes };

export function parseRoutes(text: string): RoutesParse {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (error) {
    return { ok: false, reason: `invalid YAML: ${(error as Error).message.split("\n")[0]}` };
  }
  const issues = validateAgainstSchema("GatewayRoutes", doc);
  if (issues.length > 0) return { ok: false, reason: issues.map((issue) => `${issue.path || "(document)"}: ${issue.message}`).join("; ") };
  const routes = doc as GatewayRoutes;
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
      this.logger.error({ event: "routes-invalid", origin, reason: parsed.reason, generation: this.generation }, "invalid routes; keeping last-good routes");
      return false;
    }
    this.table = buildRouteTable(parsed.routes);
    this.generation++;
    this.rejectedSinceLastGood = 0;
    this.lastGoodAtMs = Date.now();
    this.logger.info({ event: "routes-applied", origin, generation: this.generation, routes: parsed.routes.routes.length }, "routes applied");
    for (const listener of this.listeners) listener(this.table);
    return true;
  }
}
