// The chain of a follow-up (a request naming a query id: nextUri polls and cancels, partial cancels,
// /v1/query/{id}): authenticate → held by the gateway? (held/follow-ups.ts) → the owning backend
// (known: no wait; else looked up on the candidate backends) → with authentication on, may this
// principal follow this query up → stream it to the owner. Follow-ups are two of every three
// requests of a query: with authentication off and the owner known, the chain runs synchronously
// and allocates only what forwarding needs.
import { writeJson, writeTrinoError } from "../answers.ts";
import { allBackends, type GatewayCore, type FollowUpServices } from "../core.ts";
import { firstValue, requestHeader, type Exchange } from "../exchange.ts";
import { isQueryAdmin, mayUseBackend, usableBackends } from "../follow-up-access.ts";
import { forwardFollowUp, runtimeOfFollowUp } from "../forward-follow-up.ts";
import { followUpOfHeld } from "../held/follow-ups.ts";
import { isHeldQueryId } from "../query-id.ts";
import { gatewayErrors } from "../trino-protocol.ts";
import { authenticate } from "./steps.ts";

const ownerLookupTimeoutMs = 2000;

export function followUpChain(core: FollowUpServices, x: Exchange): void | Promise<void> {
  if (!core.auth.enabled) return followUp(core, x);
  return authenticate(core, x).then((authenticated) => (authenticated ? followUp(core, x) : undefined));
}

function followUp(core: FollowUpServices, x: Exchange): void | Promise<void> {
  const queryId = x.request.queryId!;
  if (isHeldQueryId(queryId)) return followUpOfHeld(core, x);
  const known = core.sticky.knownOwner(queryId);
  if (known !== undefined) return authoriseAndForward(core, x, known);
  return lookUpOwner(core, x).then((backend) => (backend ? authoriseAndForward(core, x, backend) : undefined));
}

/** The owner of a query this replica has not met, asked of the backends the client may use; undefined when it answered. */
async function lookUpOwner(
  core: Pick<GatewayCore, "auth" | "lookupBudget" | "newHeldId" | "routes" | "sticky">,
  x: Exchange,
): Promise<string | undefined> {
  const { request, principal } = x;
  const queryId = request.queryId!;
  // Only the runtimes this principal may use are asked: a query elsewhere is none of its business.
  const candidates = principal ? usableBackends(core, principal) : allBackends(core);
  // A queued nextUri's first poll may come here before the query exists anywhere (sticky.ts).
  const queuedPath = request.kind === "poll" && request.path.startsWith("/v1/statement/queued/") ? request.path : undefined;
  const admit = () => core.lookupBudget.take(principal?.name ?? `addr:${x.forwarded.client}`).allowed;
  const backend = await core.sticky.ownerOf(queryId, candidates, ownerLookupTimeoutMs, lookupIdentity(x), admit, queuedPath);
  if (backend === "throttled") {
    // 503 with Retry-After: Trino clients retry a poll answered so; junk follow-ups cost nothing more.
    x.runtime = "lookup-throttled";
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.lookupsThrottled,
      "too many follow-ups for queries this gateway replica has not seen; retry shortly",
      503,
      { "retry-after": "1" },
    );
    return undefined;
  }
  if (!backend) notFound(core, x);
  return backend;
}

/**
 * Who asks the backends `HEAD /v1/query/{id}` (an authenticated resource in Trino): the follow-up's
 * user, never its credentials, which would go to every coordinator, other teams' included.
 */
function lookupIdentity(x: Exchange): Record<string, string> {
  return { "x-trino-user": firstValue(x.req.headers["x-trino-user"]) ?? "xtrinode-gateway" };
}

function notFound(core: Pick<GatewayCore, "newHeldId">, x: Exchange): void {
  const queryId = x.request.queryId!;
  x.runtime = "unknown-query";
  const message = `query ${queryId} is not known to any Trino coordinator behind this gateway${x.principal ? ` that ${x.principal.name} may use` : ""}`;
  if (x.request.kind === "poll" && x.req.method === "GET") writeTrinoError(core, x.res, x.forwarded, gatewayErrors.queryNotFound, message);
  else writeJson(x.res, 404, { error: { code: "QUERY_NOT_FOUND", message } });
}

function authoriseAndForward(core: FollowUpServices, x: Exchange, backend: string): void | Promise<void> {
  x.runtime = runtimeOfFollowUp(core, x.request.queryId!, backend);
  if (!x.principal) return forwardFollowUp(core, x, backend);
  return mayFollowUp(core, x, backend).then((allowed) => (allowed ? forwardFollowUp(core, x, backend) : undefined));
}

/**
 * With authentication on: the principal may use the owning runtime, and the query is its own user's
 * — a user this principal may act as, like X-Trino-User — or the principal is an admin: polls,
 * cancels and query info alike. The owner is recorded with the POST this replica relayed, else
 * asked once of the owning coordinator.
 */
async function mayFollowUp(
  core: Pick<GatewayCore, "auth" | "newHeldId" | "owners" | "routes" | "settings">,
  x: Exchange,
  backend: string,
): Promise<boolean> {
  const principal = x.principal!;
  const queryId = x.request.queryId!;
  if (!mayUseBackend(core, principal, backend)) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.accessDenied,
      `access denied: ${principal.name} may not use XTrinode runtime ${x.runtime}, which runs query ${queryId}`,
      403,
    );
    return false;
  }
  if (isQueryAdmin(core, principal)) return true;
  const user = requestHeader(x, "x-trino-user") ?? principal.name;
  const owner = await core.owners.ownerOf(queryId, backend, user, ownerLookupTimeoutMs);
  if (!owner) {
    notFound(core, x);
    return false;
  }
  if (!core.auth.mayActAs(principal, owner.user)) {
    writeTrinoError(core, x.res, x.forwarded, gatewayErrors.accessDenied, `access denied: query ${queryId} belongs to another user`, 403);
    return false;
  }
  return true;
}
