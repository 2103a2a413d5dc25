// Identity headers a coordinator honours besides X-Trino-User, checked when authentication is on
// (coordinators behind the gateway trust whatever identity reaches them):
// - X-Trino-Original-User names the identity that authenticated; Trino prefers it to X-Trino-User
//   for the authenticated identity and checks impersonation from it. Only the principal itself is true.
// - X-Trino-Original-Roles asserts that identity's roles: the gateway cannot vouch for roles, so it is refused.
// - X-Presto-* spellings of all three (and X-Presto-User): Trino reads them when the coordinator sets
//   `protocol.v1.alternate-header-name=Presto`.
// Not identity: X-Trino-Role (SET ROLE: Trino checks the session user holds the role) and
// X-Trino-Extra-Credential (passed to connectors for the session user).
import type { IncomingHttpHeaders } from "node:http";
import type { Principal } from "./auth.ts";

/** Why the request's identity headers are refused for `principal`, or undefined when they are fine. */
export function identityHeaderIssue(
  headers: IncomingHttpHeaders,
  principal: Principal,
  mayActAs: (principal: Principal, user: string) => boolean,
): string | undefined {
  for (const prefix of ["x-trino-", "x-presto-"]) {
    const originalUser = headers[`${prefix}original-user`];
    if (originalUser !== undefined && originalUser !== principal.name) {
      return `principal ${principal.name} cannot send ${prefix}original-user ${JSON.stringify(originalUser)}: it names the authenticated identity, which is ${principal.name}`;
    }
    if (headers[`${prefix}original-roles`] !== undefined)
      return `${prefix}original-roles is not accepted through the gateway: it cannot vouch for roles (use SET ROLE, checked by Trino)`;
  }
  const prestoUser = headers["x-presto-user"];
  if (prestoUser !== undefined && !mayActAs(principal, Array.isArray(prestoUser) ? prestoUser.join(", ") : prestoUser)) {
    return `principal ${principal.name} cannot act as user ${String(prestoUser)} (x-presto-user)`;
  }
  return undefined;
}
