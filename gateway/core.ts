// The gateway's parts, assembled once per gateway instance (see server.ts) and shared by the
// request chains (handler.ts, chains/) and what they call.
import type { Logger } from "../lib/logger.ts";
import type { Authenticator } from "./auth.ts";
import type { Backends } from "./backends.ts";
import type { GatewaySettings } from "./config.ts";
import type { TrustedProxies } from "./forwarded.ts";
import type { HeldQueries, TicketSealer } from "./held/queries.ts";
import type { ActivityReporter, ResumeCoordinator } from "./lifecycle-api-client.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { ProxyEngine } from "./proxy.ts";
import type { RateLimiter } from "./rate-limit.ts";
import type { StatementMemory } from "./statement-memory.ts";
import type { RoutesReader } from "./routes-reader.ts";
import type { StatusAccess } from "./status.ts";
import type { InFlightQueries, QueryOwners, StickyRoutes } from "./sticky.ts";

export interface GatewayCore {
  settings: GatewaySettings;
  logger: Logger;
  routes: RoutesReader;
  backends: Backends;
  sticky: StickyRoutes;
  /** Who each query belongs to (user, principal): recorded from relayed POSTs, else asked of its coordinator. */
  owners: QueryOwners;
  /** Per-client budget of coordinator lookups (the fan-out for coordinator ids this replica has not met). */
  lookupBudget: RateLimiter;
  inFlight: InFlightQueries;
  held: HeldQueries;
  /** Bytes of statements being read or held, against statements.memoryBudgetBytes. */
  statementMemory: StatementMemory;
  /** Seals held statements into their nextUri (XTRINODE_GATEWAY_TICKET_KEY shared by replicas). */
  tickets: TicketSealer;
  resume: ResumeCoordinator;
  activity: ActivityReporter;
  auth: Authenticator;
  /** Who may read the operator status endpoint (admin token, admin users and groups). */
  statusAccess: StatusAccess;
  rateLimiter: RateLimiter | undefined;
  metrics: GatewayMetrics;
  proxy: ProxyEngine;
  trusted: TrustedProxies;
  newHeldId: () => string;
  /** Resolves at the next routes or backend-health change (wakes held-statement polls). */
  nextChange: () => Promise<void>;
}

/** Distinct backends of the routes in force (candidates for the owner-of-query lookup). */
export function allBackends(core: GatewayCore): string[] {
  return [...new Set(core.routes.table.routes.map((route) => route.backend))];
}
