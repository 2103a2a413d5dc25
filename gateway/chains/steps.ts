// Steps shared by the chains (new-statement.ts, other.ts; follow-ups authenticate only). A step
// either answers the request itself and returns false, or returns true for the next step to run.
import type { OutgoingHttpHeaders } from "node:http";
import { failNewStatement, writeJson, writeRefusal, writeTrinoError } from "../answers.ts";
import type { GatewayCore } from "../core.ts";
import { requestHeader, type Exchange } from "../exchange.ts";
import { isQueryAdmin } from "../follow-up-access.ts";
import { identityHeaderIssue } from "../identity-headers.ts";
import { routeKey, selectTarget } from "../route-table.ts";
import { backendOfTransaction, transactionHeader, untagTransactionHeader } from "../transactions.ts";
import { gatewayErrors, type TrinoErrorKind } from "../trino-protocol.ts";

/**
 * Authentication, when it is on (callers check `core.auth.enabled`): Basic or JWT, the X-Trino-User
 * the principal may act as, the other identity headers. The gateway consumes the credentials.
 */
export async function authenticate(core: Pick<GatewayCore, "auth" | "newHeldId">, x: Exchange): Promise<boolean> {
  const result = await core.auth.authenticate(requestHeader(x, "authorization"), x.forwarded.client);
  if (!result.ok) {
    x.runtime = "unauthenticated";
    if (result.reason !== "invalid") {
      // Back off: 429 + Retry-After, no challenge (the credentials were not judged).
      const seconds = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
      writeRefusal(
        x.res,
        429,
        result.reason === "busy" ? gatewayErrors.gatewayBusy : gatewayErrors.loginThrottled,
        `authentication refused: ${result.message}`,
        { "retry-after": seconds },
      );
      return false;
    }
    writeTrinoError(core, x.res, x.forwarded, gatewayErrors.unauthenticated, `authentication failed: ${result.message}`, 401, {
      "www-authenticate": core.auth.challenges,
    });
    return false;
  }
  const user = requestHeader(x, "x-trino-user");
  if (user && !core.auth.mayActAs(result.principal, user)) {
    x.runtime = "forbidden";
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.accessDenied,
      `access denied: principal ${result.principal.name} cannot act as user ${user}`,
      403,
    );
    return false;
  }
  const identityIssue = identityHeaderIssue(x.req.headers, result.principal, core.auth.mayActAs);
  if (identityIssue) {
    x.runtime = "forbidden";
    writeTrinoError(core, x.res, x.forwarded, gatewayErrors.accessDenied, `access denied: ${identityIssue}`, 403);
    return false;
  }
  if (!user) x.req.headers["x-trino-user"] = result.principal.name;
  // The gateway consumed the credentials. Coordinators behind it run without authentication and
  // refuse a password ("Password not allowed for insecure authentication"): they get X-Trino-User.
  delete x.req.headers.authorization;
  x.principal = result.principal;
  return true;
}

/** failNewStatement for this request: the failure's message is sealed for its X-Trino-User. */
export function failNew(
  core: Pick<GatewayCore, "newHeldId" | "tickets">,
  x: Exchange,
  kind: TrinoErrorKind,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
  failNewStatement(core, x.res, x.forwarded, kind, message, headers, requestHeader(x, "x-trino-user") ?? "");
}

/**
 * Where the request goes: the backend of a tagged transaction (X-Trino-Transaction-Id), else the
 * target the route table selects (header → client tag → routing group → hostname → pool → default).
 */
export function selectRoute(core: Pick<GatewayCore, "newHeldId" | "routes" | "tickets">, x: Exchange): boolean {
  const transactionToken = requestHeader(x, transactionHeader);
  if (transactionToken && transactionToken !== "NONE") {
    const backend = backendOfTransaction(
      transactionToken,
      core.routes.table.routes.map((route) => route.backend),
    );
    untagTransactionHeader(x.req.headers); // Trino sees its own id
    if (backend) {
      x.transactionBackend = backend;
      const route = core.routes.table.routes.find((candidate) => candidate.backend === backend);
      x.runtime = route ? routeKey(route) : backend;
      if (route) x.target = { label: routeKey(route), members: [route], via: "header" };
      return true;
    }
  }
  const selection = selectTarget(core.routes.table, {
    header: requestHeader(x, "x-trino-xtrinode"),
    clientTags: requestHeader(x, "x-trino-client-tags"),
    routingGroup: requestHeader(x, "x-trino-routing-group"),
    hostname: x.forwarded.hostname,
  });
  if (!selection.ok) {
    x.runtime = "unrouted";
    if (x.kind === "new") failNew(core, x, gatewayErrors.unknownRuntime, selection.message);
    else writeJson(x.res, 404, { error: { code: "UNKNOWN_RUNTIME", message: selection.message } });
    return false;
  }
  x.target = selection.target;
  x.runtime = selection.target.label;
  return true;
}

/** With authentication on: only the target's members the principal may use; query lists and the UI for admins only. */
export function authorise(core: Pick<GatewayCore, "auth" | "newHeldId" | "settings">, x: Exchange): boolean {
  const principal = x.principal;
  const target = x.target;
  if (!core.auth.enabled || !principal || !target) return true;
  // Every query of a coordinator (with other users' SQL): admins only.
  if ((x.request.kind === "query-list" || x.request.kind === "ui") && !isQueryAdmin(core, principal)) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.accessDenied,
      `access denied: listing queries and the Trino web UI are for members of auth.queryAdminGroups only`,
      403,
    );
    return false;
  }
  const allowed = target.members.filter((route) => core.auth.mayUse(principal, routeKey(route)));
  if (allowed.length === 0) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.accessDenied,
      `access denied: ${principal.name} may not use XTrinode runtime ${target.label}`,
      403,
    );
    return false;
  }
  x.target = { ...target, members: allowed };
  return true;
}
