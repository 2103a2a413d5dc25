// The chain of a new statement (POST /v1/statement): authenticate → select the route → authorise →
// rate limit → read the body → submit to the least-loaded usable member, or hold it while one resumes.
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { decideNewQuery } from "../backend-choice.ts";
import type { GatewayCore, NewStatementServices } from "../core.ts";
import { requestHeader, type Exchange } from "../exchange.ts";
import { holdStatement } from "../held/hold.ts";
import { readStatement } from "../read-statement.ts";
import { routeKey } from "../route-table.ts";
import { submitStatement } from "../submit-statement.ts";
import { gatewayErrors } from "../trino-protocol.ts";
import { authenticate, authorise, failNew, selectRoute } from "./steps.ts";

export async function newStatementChain(core: NewStatementServices, x: Exchange): Promise<void> {
  if (core.auth.enabled && !(await authenticate(core, x))) return;
  if (!selectRoute(core, x) || !authorise(core, x) || !rateLimit(core, x)) return;
  return submitOrHold(core, x);
}

/** New queries per principal (or client address), per runtime when `rateLimit.perRuntime`. */
function rateLimit(core: Pick<GatewayCore, "metrics" | "newHeldId" | "rateLimiter" | "settings" | "tickets">, x: Exchange): boolean {
  const limiter = core.rateLimiter;
  if (!limiter) return true;
  const who = x.principal?.name ?? `addr:${x.forwarded.client}`;
  const key = core.settings.rateLimit?.perRuntime ? `${who}\u0000${x.runtime}` : who;
  const { allowed, retryAfterMs } = limiter.take(key);
  if (allowed) return true;
  core.metrics.rateLimited.inc({ principal_kind: x.principal ? "user" : "address" });
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  failNew(
    core,
    x,
    gatewayErrors.rateLimited,
    `rate limit exceeded for ${x.principal?.name ?? "this client"}: at most ${core.settings.rateLimit?.queriesPerSecond} new queries per second; retry in ${seconds} s`,
    { "retry-after": String(seconds) },
  );
  return false;
}

/** Forwards to the least-loaded usable member (another one after a refused connection), or holds while one resumes. */
async function submitOrHold(core: NewStatementServices, x: Exchange): Promise<void> {
  const { req, res, forwarded, target } = x;
  const statement = await readStatement(core, req, res, forwarded);
  if (!statement) return;
  // Once the answer is out the body is no longer needed (a held statement keeps its bytes: holdIn).
  res.once("close", () => statement.release());
  const body = statement.bytes;
  // Filtered while the submission's header list is built (statementHeaders).
  const headers = req.headers;
  // Recorded with the query (sticky bookkeeping): who may see and cancel it later (checked only with authentication on).
  const owner = x.principal ? { user: requestHeader(x, "x-trino-user") ?? "", principal: x.principal.name } : undefined;
  if (x.transactionBackend) {
    const route: RouteEntry = target?.members[0] ?? { namespace: "-", name: "-", backend: x.transactionBackend, state: "RUNNING" };
    const outcome = await submitStatement(core, res, forwarded, route, routeKey(route), body, headers, owner);
    if (!outcome.ok)
      failNew(core, x, gatewayErrors.backendUnreachable, `the coordinator running this transaction is unreachable: ${outcome.message}`);
    return;
  }
  if (!target) return;
  const tried = new Set<RouteEntry>();
  for (;;) {
    const remaining = tried.size === 0 ? target : { ...target, members: target.members.filter((route) => !tried.has(route)) };
    const decision = decideNewQuery(remaining, (route) => ({
      usable: core.backends.usable(route.backend),
      outstanding: core.inFlight.perBackend.get(route.backend) ?? 0,
      starting: core.backends.state(route.backend).health === "starting",
    }));
    if (decision.action === "reject") {
      const kind =
        tried.size > 0
          ? gatewayErrors.noHealthyBackend
          : decision.reason === "removed"
            ? gatewayErrors.runtimeRemoved
            : decision.reason === "failed"
              ? gatewayErrors.resumeFailed
              : gatewayErrors.noHealthyBackend;
      const message =
        tried.size > 0
          ? `no healthy backend left for ${target.label}: connection failed to ${[...tried].map(routeKey).join(", ")}`
          : decision.message;
      failNew(core, x, kind, message);
      return;
    }
    x.runtime = routeKey(decision.route);
    if (decision.action === "hold") {
      holdStatement(core, x, decision.route, statement);
      return;
    }
    core.backends.admit(decision.route.backend);
    const outcome = await submitStatement(core, res, forwarded, decision.route, x.runtime, body, headers, owner);
    if (outcome.ok) return;
    tried.add(decision.route);
    // Nothing reached Trino on a refused connection: try another member once per member.
    if (!outcome.retryable) {
      failNew(core, x, gatewayErrors.backendUnreachable, outcome.message);
      return;
    }
  }
}
