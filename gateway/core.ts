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

/** Every service: what server.ts assembles and the request handler (handler.ts) dispatches with. */
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

// What each chain and each shared helper uses of the core: a function takes the slice it needs (so a reader
// sees what it touches and a test can build just that slice). A slice is its own services plus its callees'
// slices, and the type checker keeps it so. Small helpers name their few services inline (Pick<GatewayCore, ...>).

/** Reading a statement body (read-statement.ts). */
export type ReadStatementServices = Pick<GatewayCore, "logger" | "metrics" | "newHeldId" | "settings" | "statementMemory" | "tickets">;

/** Submitting a statement and learning from its first answer (submit-statement.ts). */
export type SubmitServices = Pick<GatewayCore, "activity" | "backends" | "inFlight" | "owners" | "sticky">;

/** Streaming a follow-up to its owner (forward-follow-up.ts). */
export type ForwardServices = Pick<GatewayCore, "activity" | "backends" | "inFlight" | "logger" | "newHeldId" | "proxy">;

/** Holding a new statement while its runtime resumes (held/hold.ts holdStatement). */
export type HoldServices = Pick<GatewayCore, "activity" | "held" | "logger" | "newHeldId" | "resume" | "tickets">;

/** Adopting another replica's held statement from its sealed ticket (held/hold.ts adoptHeldTicket). */
export type HeldTicketServices = Pick<GatewayCore, "auth" | "held" | "logger" | "newHeldId" | "routes" | "settings" | "tickets">;

/** Submitting a held statement once its runtime runs (held/submit.ts). */
export type HeldSubmitServices = SubmitServices & Pick<GatewayCore, "held" | "logger" | "metrics" | "settings">;

/** Follow-ups of held statements: cancel, polls, hand-over, adoption (held/follow-ups.ts). */
export type HeldFollowUpServices = HeldTicketServices & HeldSubmitServices & Pick<GatewayCore, "nextChange" | "resume">;

/** The new-statement chain (chains/new-statement.ts): authenticate, route, authorise, rate limit, read, submit or hold. */
export type NewStatementServices = ReadStatementServices &
  SubmitServices &
  HoldServices &
  Pick<GatewayCore, "auth" | "backends" | "inFlight" | "metrics" | "rateLimiter" | "routes" | "settings">;

/** The follow-up chain (chains/follow-up.ts): held follow-ups, the owner lookup, follow-up access, forwarding. */
export type FollowUpServices = HeldFollowUpServices & ForwardServices & Pick<GatewayCore, "lookupBudget">;

/** The chain of everything else (chains/other.ts): probes, operator status, streaming to a member. */
export type OtherRequestServices = Pick<
  GatewayCore,
  "auth" | "backends" | "held" | "inFlight" | "metrics" | "newHeldId" | "proxy" | "routes" | "settings" | "statusAccess" | "tickets"
>;

/** Distinct backends of the routes in force (candidates for the owner-of-query lookup). */
export function allBackends(core: Pick<GatewayCore, "routes">): string[] {
  return [...new Set(core.routes.table.routes.map((route) => route.backend))];
}
