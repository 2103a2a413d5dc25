// How a statement becomes held: a new statement for a paused or resuming runtime, or one another
// gateway replica held, adopted from the sealed ticket in the nextUri its client polls.
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { forwardableHeaders } from "../backend-http.ts";
import type { HeldTicketServices, HoldServices } from "../core.ts";
import type { Exchange } from "../exchange.ts";
import { routeKey } from "../route-table.ts";
import type { StatementBody } from "../statement-memory.ts";
import { baseUrl, failNewStatement, writeJson, writeTrinoError } from "../answers.ts";
import { gatewayErrors, queuedQueryResults } from "../trino-protocol.ts";
import { ticketHeaders, type HeldQuery } from "./queries.ts";

/** Holds a new statement for a paused/resuming runtime and answers QUEUED with a gateway nextUri. */
export function holdStatement(core: HoldServices, x: Exchange, route: RouteEntry, statement: StatementBody): void {
  const { req, res, forwarded } = x;
  const principal = x.principal?.name ?? "";
  const body = statement.bytes;
  if (core.held.full()) {
    const user = req.headers["x-trino-user"];
    failNewStatement(
      core,
      res,
      forwarded,
      gatewayErrors.tooManyHeld,
      `XTrinode runtime ${routeKey(route)} is resuming and this gateway already holds ${core.held.maxQueries} statements; retry shortly`,
      {},
      typeof user === "string" ? user : "",
    );
    return;
  }
  const headers = forwardableHeaders(req.headers);
  const createdAtMs = Date.now();
  const id = core.newHeldId();
  const slug = core.tickets.slug({
    id,
    namespace: route.namespace,
    name: route.name,
    sql: body.toString("utf8"),
    headers: ticketHeaders(headers),
    createdAtMs,
    principal,
  });
  const held = core.held.add({ id, slug, namespace: route.namespace, name: route.name, body, headers, createdAtMs, principal }, statement)!;
  if (route.state !== "RUNNING") core.resume.ensureResuming(route.namespace, route.name, route.state);
  core.activity.seen(route.namespace, route.name);
  core.logger.info(
    { event: "statement-held", runtime: routeKey(route), queryId: held.id, state: route.state },
    "statement held while the runtime resumes",
  );
  const base = baseUrl(forwarded);
  writeJson(
    res,
    200,
    queuedQueryResults(held.id, `${base}/ui/query.html?${held.id}`, `${base}/v1/statement/queued/${held.id}/${held.slug}/1`),
  );
}

/**
 * A poll of a statement held by another replica: adopt it from the sealed ticket in its nextUri
 * (only replicas sharing the ticket key can open it; the ticket names its own query id). The
 * runtime must still be routed, the ticket young enough, and with authentication on the poll's
 * principal must be the one that submitted it (and still be allowed the runtime and the user).
 * Returns the adopted statement, undefined when the slug is no ticket of ours, or "refused" when
 * it answered the request itself.
 */
export function adoptHeldTicket(core: HeldTicketServices, x: Exchange, queryId: string, slug: string): HeldQuery | "refused" | undefined {
  const ticket = core.tickets.open(slug);
  if (!ticket || ticket.id !== queryId) return undefined;
  const runtime = `${ticket.namespace}/${ticket.name}`;
  if (!core.routes.table.byKey.has(runtime)) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.runtimeRemoved,
      `XTrinode runtime ${runtime} was removed while the statement waited for it`,
    );
    return "refused";
  }
  x.runtime = runtime;
  if (Date.now() - ticket.createdAtMs > core.settings.held.maxAgeMs) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.resumeTimeout,
      `XTrinode runtime ${runtime} did not resume within ${Math.round(core.settings.held.maxAgeMs / 1000)} s`,
    );
    return "refused";
  }
  const principal = x.principal;
  const user = ticket.headers["x-trino-user"];
  if (
    core.auth.enabled &&
    (!principal ||
      principal.name !== ticket.principal ||
      !core.auth.mayUse(principal, runtime) ||
      (user !== undefined && !core.auth.mayActAs(principal, user)))
  ) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.accessDenied,
      `access denied: ${principal?.name ?? "this client"} may not run this held statement on ${runtime}`,
      403,
    );
    return "refused";
  }
  if (core.held.full()) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.tooManyHeld,
      `XTrinode runtime ${runtime} is resuming and this gateway already holds ${core.held.maxQueries} statements; retry shortly`,
    );
    return "refused";
  }
  const held = core.held.add({
    id: queryId,
    slug,
    namespace: ticket.namespace,
    name: ticket.name,
    body: Buffer.from(ticket.sql, "utf8"),
    headers: ticket.headers,
    createdAtMs: ticket.createdAtMs,
    principal: ticket.principal,
  });
  if (!held) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.gatewayBusy,
      `this gateway replica's statement memory is in use (statements.memoryBudgetBytes); retry shortly`,
    );
    return "refused";
  }
  core.logger.info({ event: "statement-adopted", runtime, queryId }, "adopted a statement held by another gateway replica");
  return held;
}
