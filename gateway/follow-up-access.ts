// Who may send a follow-up (nextUri poll, cancel, partialCancel, /v1/query/{id}) when
// authentication is on: the runtime authorisation a new statement gets, for the runtime that owns
// the query; and only for the query's own user (one the principal may act as) or an admin group.
import type { Principal } from "./auth.ts";
import type { GatewayCore } from "./core.ts";
import { routeKey } from "./route-table.ts";

/** Members of `auth.queryAdminGroups` may view and cancel any user's query, list queries and use the web UI. */
export function isQueryAdmin(core: Pick<GatewayCore, "settings">, principal: Principal): boolean {
  const queryAdminGroups = core.settings.auth.queryAdminGroups ?? [];
  return queryAdminGroups.some((group) => principal.groups.includes(group));
}

/** Whether the principal may use a runtime served by `backend`. */
export function mayUseBackend(core: Pick<GatewayCore, "auth" | "routes">, principal: Principal, backend: string): boolean {
  return core.routes.table.routes.some((route) => route.backend === backend && core.auth.mayUse(principal, routeKey(route)));
}

/** The backends of the runtimes the principal may use (the only ones asked who owns a query). */
export function usableBackends(core: Pick<GatewayCore, "auth" | "routes">, principal: Principal): string[] {
  return [
    ...new Set(core.routes.table.routes.filter((route) => core.auth.mayUse(principal, routeKey(route))).map((route) => route.backend)),
  ];
}
