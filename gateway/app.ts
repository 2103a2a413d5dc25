// The gateway as an ordered Koa middleware chain; the order IS the routing policy:
// requestContext → probes (/healthz, /readyz, /metrics: before auth and limits) → operatorStatus
// (/xtrinode/v1/status: its own admin check, never forwarded) → authenticate →
// followUpStickiness (query id → owning backend) → selectRoute (transaction → header → hostname →
// pool → default) → authorise → rateLimitNewQueries → chooseBackend (forward, or hold + auto-resume).
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import Koa from "koa";
import type { RouteEntry } from "../schemas/generated/types.ts";
import type { Principal } from "./auth.ts";
import { decideNewQuery } from "./backend-choice.ts";
import { allBackends, type GatewayCore } from "./core.ts";
import { forwardedView, replaceForwardingHeaders, type ForwardedView } from "./forwarded.ts";
import { followUpQueryId, isHeldQueryId, isNewStatement } from "./query-id.ts";
import type { HeldQuery } from "./held-queries.ts";
import { routeKey, selectTarget, type Target } from "./route-table.ts";
import { answerFailedPoll, failNewStatement, forwardFollowUp, runtimeOfFollowUp, holdStatement, pollHeld, readStatement, submitStatement, writeJson, writeRefusal, writeTrinoError } from "./statements.ts";
import { gatewayErrors } from "./trino-protocol.ts";
import { buildGatewayStatus, gatewayStatusPath } from "./status.ts";
import { forwardableHeaders, writeBufferedAnswer } from "./backend-http.ts";
import { backendOfTransaction, transactionHeader, untagTransactionHeader } from "./transactions.ts";

export interface GatewayState {
  forwarded: ForwardedView;
  kind: "new" | "followup" | "other";
  runtime: string;
  principal?: Principal;
  target?: Target;
  /** Backend fixed by a transaction (X-Trino-Transaction-Id) instead of route selection. */
  transactionBackend?: string;
}

type Context = Koa.ParameterizedContext<GatewayState>;
type Middleware = Koa.Middleware<GatewayState>;

const ownerLookupTimeoutMs = 2000;

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function header(ctx: Context, name: string): string | undefined {
  return firstValue(ctx.req.headers[name]);
}

/** Marks the response as written by hand (raw node response), outside Koa's body handling. */
function raw(ctx: Context): Context["res"] {
  ctx.respond = false;
  return ctx.res;
}

function requestContext(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    const path = ctx.path;
    ctx.state.forwarded = forwardedView(ctx.req.headers, ctx.req.socket.remoteAddress, "http", core.trusted);
    ctx.state.kind = isNewStatement(ctx.method, path) ? "new" : followUpQueryId(path) ? "followup" : "other";
    ctx.state.runtime = "unknown";
    ctx.res.once("finish", () => core.metrics.countRequest(ctx.state.runtime, ctx.state.kind, ctx.res.statusCode));
    await next();
  };
}

// A plain path switch, not a router: it runs on every request, and the three probes need no params.
function probes(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    // Matches what @koa/router matched: case-insensitive, optional trailing slash.
    if ((ctx.method !== "GET" && ctx.method !== "HEAD") || ctx.path.length > 9) return next();
    switch (ctx.path.toLowerCase().replace(/\/$/, "")) {
      case "/healthz":
        ctx.state.runtime = "-";
        ctx.body = { status: "ok" };
        return;
      case "/readyz": {
        ctx.state.runtime = "-";
        const ready = core.routes.generation > 0;
        ctx.status = ready ? 200 : 503;
        ctx.body = { status: ready ? "ready" : "no valid routes yet", routesGeneration: core.routes.generation };
        return;
      }
      case "/metrics":
        ctx.state.runtime = "-";
        ctx.type = core.metrics.registry.contentType;
        ctx.body = await core.metrics.registry.metrics();
        return;
      default:
        return next();
    }
  };
}

/** GET /xtrinode/v1/status for operators: admin token or admin principal (see status.ts). */
function operatorStatus(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== gatewayStatusPath) return next();
    ctx.state.runtime = "-";
    if (ctx.method !== "GET" && ctx.method !== "HEAD") {
      writeJson(raw(ctx), 405, { error: { code: "METHOD_NOT_ALLOWED", message: `${gatewayStatusPath} answers GET only` } }, { allow: "GET, HEAD" });
      return;
    }
    const access = await core.statusAccess.check(header(ctx, "authorization"), core.auth);
    if (!access.ok) {
      writeJson(raw(ctx), access.status, { error: { code: access.status === 401 ? "UNAUTHENTICATED" : "FORBIDDEN", message: access.message } }, access.challenges ? { "www-authenticate": access.challenges } : {});
      return;
    }
    ctx.set("cache-control", "no-store");
    ctx.body = buildGatewayStatus(core);
  };
}

function authenticate(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    if (!core.auth.enabled) return next();
    const result = await core.auth.authenticate(header(ctx, "authorization"), ctx.state.forwarded.client);
    if (!result.ok) {
      ctx.state.runtime = "unauthenticated";
      if (result.reason !== "invalid") {
        // Back off: 429 + Retry-After, no challenge (the credentials were not judged).
        const seconds = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
        writeRefusal(raw(ctx), 429, result.reason === "busy" ? gatewayErrors.gatewayBusy : gatewayErrors.loginThrottled, `authentication refused: ${result.message}`, { "retry-after": seconds });
        return;
      }
      writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.unauthenticated, `authentication failed: ${result.message}`, 401, { "www-authenticate": core.auth.challenges });
      return;
    }
    const user = header(ctx, "x-trino-user");
    if (user && !core.auth.mayActAs(result.principal, user)) {
      ctx.state.runtime = "forbidden";
      writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: principal ${result.principal.name} cannot act as user ${user}`, 403);
      return;
    }
    if (!user) ctx.req.headers["x-trino-user"] = result.principal.name;
    // The gateway consumed the credentials. Coordinators behind it run without authentication and
    // refuse a password ("Password not allowed for insecure authentication"): they get X-Trino-User.
    delete ctx.req.headers.authorization;
    ctx.state.principal = result.principal;
    await next();
  };
}

function followUpStickiness(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    const queryId = followUpQueryId(ctx.path);
    if (!queryId) return next();
    const isPoll = ctx.path.startsWith("/v1/statement/");
    if (isHeldQueryId(queryId)) return followUpOfHeld(core, ctx, queryId);
    const backend = await core.sticky.ownerOf(queryId, allBackends(core), ownerLookupTimeoutMs, lookupIdentity(ctx.req.headers));
    if (!backend) {
      ctx.state.runtime = "unknown-query";
      const message = `query ${queryId} is not known to any Trino coordinator behind this gateway`;
      if (isPoll && ctx.method === "GET") writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.queryNotFound, message);
      else writeJson(raw(ctx), 404, { error: { code: "QUERY_NOT_FOUND", message } });
      return;
    }
    ctx.state.runtime = runtimeOfFollowUp(core, queryId, backend);
    forwardFollowUp(core, ctx.req, raw(ctx), ctx.state.forwarded, queryId, backend, ctx.state.runtime, isPoll);
  };
}

/**
 * Who asks the backends `HEAD /v1/query/{id}` (an authenticated resource in Trino): the follow-up's
 * user, never its credentials, which would go to every coordinator, other teams' included.
 */
function lookupIdentity(headers: IncomingMessage["headers"]): Record<string, string> {
  return { "x-trino-user": firstValue(headers["x-trino-user"]) ?? "xtrinode-gateway" };
}

/**
 * The follow-up fast lane: what `followUpStickiness` does for a follow-up whose owning coordinator
 * is already known, without building a Koa context. Follow-ups are two of every three requests of
 * a query, and for them the rest of the chain does nothing. Only when authentication is off (the
 * chain authenticates first); anything it does not settle here takes the chain.
 */
function forwardKnownFollowUp(core: GatewayCore, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? "";
  if (core.auth.enabled || !(url.startsWith("/v1/statement/") || url.startsWith("/v1/query/"))) return false;
  const queryEnd = url.indexOf("?");
  const path = queryEnd < 0 ? url : url.slice(0, queryEnd);
  const queryId = followUpQueryId(path);
  if (!queryId || isHeldQueryId(queryId)) return false;
  const backend = core.sticky.knownOwner(queryId);
  if (!backend) return false;
  const runtime = runtimeOfFollowUp(core, queryId, backend);
  res.once("finish", () => core.metrics.countRequest(runtime, "followup", res.statusCode));
  const forwarded = forwardedView(req.headers, req.socket.remoteAddress, "http", core.trusted);
  forwardFollowUp(core, req, res, forwarded, queryId, backend, runtime, path.startsWith("/v1/statement/"));
  return true;
}

const heldSlugInPath = /^\/v1\/statement\/queued\/[^/]+\/([^/]+)\//;

const cancelled = (queryId: string) => ({ kind: gatewayErrors.queryCancelled, message: `query ${queryId} was cancelled` });

/**
 * Follow-ups of statements the gateway holds (or held). A held statement is known by its id AND the
 * slug of its nextUri, which only its client has: ids are guessable. `/v1/query/{id}` carries no
 * slug, so it tells nothing about held statements.
 */
async function followUpOfHeld(core: GatewayCore, ctx: Context, queryId: string): Promise<void> {
  if (ctx.path.startsWith("/v1/query/")) {
    if (ctx.method === "DELETE") {
      // trino-js cancel(): like Trino's kill of one's own query, it cancels what this user holds under that id.
      const user = header(ctx, "x-trino-user") ?? ctx.state.principal?.name;
      for (const held of core.held.withId(queryId)) {
        if (user && firstValue(held.headers["x-trino-user"] as string | string[] | undefined) === user) core.held.end(held, cancelled(queryId));
      }
      ctx.status = 204;
      return;
    }
    writeJson(raw(ctx), 404, { error: { code: "QUERY_NOT_FOUND", message: `query ${queryId} is not a Trino query yet (held by the gateway while its runtime resumes): poll or cancel it through its nextUri` } });
    return;
  }
  const slug = heldSlugInPath.exec(ctx.path)?.[1];
  let held = slug ? core.held.get(queryId, slug) : undefined;
  if (held) ctx.state.runtime = `${held.namespace}/${held.name}`;
  if (ctx.method === "DELETE") {
    if (held) core.held.end(held, cancelled(queryId));
    ctx.status = 204; // as Trino answers a DELETE of its nextUri, also for what is gone already
    return;
  }
  if (answerFailedPoll(raw(ctx), ctx.state.forwarded, queryId, ctx.path)) return;
  if (!held && slug) {
    // A repeated hand-over poll (the client retried): the same first page again, not a second run.
    const handed = core.held.handedOver(queryId, slug);
    if (handed) {
      ctx.state.runtime = handed.runtime;
      writeBufferedAnswer(raw(ctx), handed.answer);
      return;
    }
    const ending = core.held.ending(queryId, slug);
    if (ending) {
      writeTrinoError(core, raw(ctx), ctx.state.forwarded, ending.kind, ending.message);
      return;
    }
    const adopted = adoptHeldTicket(core, ctx, queryId, slug);
    if (adopted === "refused") return;
    held = adopted;
  }
  if (!held) {
    writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.queryNotFound, `query ${queryId} is no longer held by this gateway (cancelled, abandoned, expired, or held by another gateway replica that shares no XTRINODE_GATEWAY_TICKET_KEY with this one); run it again`);
    return;
  }
  await pollHeld(core, ctx.req, raw(ctx), ctx.state.forwarded, held, ctx.path);
}

/**
 * A poll of a statement held by another replica: adopt it from the sealed ticket in its nextUri
 * (only replicas sharing the ticket key can open it; the ticket names its own query id). The
 * runtime must still be routed, the ticket young enough, and with authentication on the poll's
 * principal must be the one that submitted it (and still be allowed the runtime and the user).
 * Returns the adopted statement, undefined when the slug is no ticket of ours, or "refused" when
 * it answered the request itself.
 */
function adoptHeldTicket(core: GatewayCore, ctx: Context, queryId: string, slug: string): HeldQuery | "refused" | undefined {
  const ticket = core.tickets.open(slug);
  if (!ticket || ticket.id !== queryId) return undefined;
  const runtime = `${ticket.namespace}/${ticket.name}`;
  if (!core.routes.table.byKey.has(runtime)) {
    writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.runtimeRemoved, `XTrinode runtime ${runtime} was removed while the statement waited for it`);
    return "refused";
  }
  ctx.state.runtime = runtime;
  if (Date.now() - ticket.createdAtMs > core.settings.held.maxAgeMs) {
    writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.resumeTimeout, `XTrinode runtime ${runtime} did not resume within ${Math.round(core.settings.held.maxAgeMs / 1000)} s`);
    return "refused";
  }
  const principal = ctx.state.principal;
  const user = ticket.headers["x-trino-user"];
  if (core.auth.enabled && (!principal || principal.name !== ticket.principal || !core.auth.mayUse(principal, runtime) || (user !== undefined && !core.auth.mayActAs(principal, user)))) {
    writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: ${principal?.name ?? "this client"} may not run this held statement on ${runtime}`, 403);
    return "refused";
  }
  if (core.held.full()) {
    writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.tooManyHeld, `XTrinode runtime ${runtime} is resuming and this gateway already holds ${core.held.maxQueries} statements; retry shortly`);
    return "refused";
  }
  const held = core.held.add({ id: queryId, slug, namespace: ticket.namespace, name: ticket.name, body: Buffer.from(ticket.sql, "utf8"), headers: ticket.headers, createdAtMs: ticket.createdAtMs });
  if (!held) {
    writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.gatewayBusy, `this gateway replica's statement memory is in use (statements.memoryBudgetBytes); retry shortly`);
    return "refused";
  }
  core.logger.info({ event: "statement-adopted", runtime, queryId }, "adopted a statement held by another gateway replica");
  return held;
}

function selectRoute(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    const transactionToken = header(ctx, transactionHeader);
    if (transactionToken && transactionToken !== "NONE") {
      const backend = backendOfTransaction(transactionToken, core.routes.table.routes.map((route) => route.backend));
      untagTransactionHeader(ctx.req.headers); // Trino sees its own id
      if (backend) {
        ctx.state.transactionBackend = backend;
        const route = core.routes.table.routes.find((candidate) => candidate.backend === backend);
        ctx.state.runtime = route ? routeKey(route) : backend;
        if (route) ctx.state.target = { label: routeKey(route), members: [route], via: "header" };
        return next();
      }
    }
    const selection = selectTarget(core.routes.table, { header: header(ctx, "x-trino-xtrinode"), hostname: ctx.state.forwarded.hostname });
    if (!selection.ok) {
      ctx.state.runtime = "unrouted";
      if (ctx.state.kind === "new") failNewStatement(core, raw(ctx), ctx.state.forwarded, gatewayErrors.unknownRuntime, selection.message);
      else writeJson(raw(ctx), 404, { error: { code: "UNKNOWN_RUNTIME", message: selection.message } });
      return;
    }
    ctx.state.target = selection.target;
    ctx.state.runtime = selection.target.label;
    await next();
  };
}

function authorise(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    const principal = ctx.state.principal;
    const target = ctx.state.target;
    if (!core.auth.enabled || !principal || !target) return next();
    const allowed = target.members.filter((route) => core.auth.mayUse(principal, routeKey(route)));
    if (allowed.length === 0) {
      writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: ${principal.name} may not use XTrinode runtime ${target.label}`, 403);
      return;
    }
    ctx.state.target = { ...target, members: allowed };
    await next();
  };
}

function rateLimitNewQueries(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    const limiter = core.rateLimiter;
    if (!limiter || ctx.state.kind !== "new") return next();
    const who = ctx.state.principal?.name ?? `addr:${ctx.state.forwarded.client}`;
    const key = core.settings.rateLimit?.perRuntime ? `${who}\u0000${ctx.state.runtime}` : who;
    const { allowed, retryAfterMs } = limiter.take(key);
    if (allowed) return next();
    core.metrics.rateLimited.inc({ principal_kind: ctx.state.principal ? "user" : "address" });
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    failNewStatement(core, raw(ctx), ctx.state.forwarded, gatewayErrors.rateLimited, `rate limit exceeded for ${ctx.state.principal?.name ?? "this client"}: at most ${core.settings.rateLimit?.queriesPerSecond} new queries per second; retry in ${seconds} s`, { "retry-after": String(seconds) });
  };
}

/** New statements: forward to the least-loaded usable member, or hold while one resumes. */
function chooseBackend(core: GatewayCore): Middleware {
  return async (ctx) => {
    const res = raw(ctx);
    const { forwarded, target } = ctx.state;
    if (ctx.state.kind !== "new") return proxyOther(core, ctx);
    const statement = await readStatement(core, ctx.req, res, forwarded);
    if (!statement) return;
    // Once the answer is out the body is no longer needed (a held statement keeps its bytes: holdIn).
    res.once("close", () => statement.release());
    const body = statement.bytes;
    const headers = forwardableHeaders(ctx.req.headers);
    if (ctx.state.transactionBackend) {
      const route: RouteEntry = target?.members[0] ?? { namespace: "-", name: "-", backend: ctx.state.transactionBackend, state: "RUNNING" };
      const outcome = await submitStatement(core, res, forwarded, route, body, headers);
      if (!outcome.ok) failNewStatement(core, res, forwarded, gatewayErrors.backendUnreachable, `the coordinator running this transaction is unreachable: ${outcome.message}`);
      return;
    }
    if (!target) return;
    const tried = new Set<RouteEntry>();
    for (;;) {
      const remaining = { ...target, members: target.members.filter((route) => !tried.has(route)) };
      const decision = decideNewQuery(remaining, (route) => ({
        usable: core.backends.usable(route.backend),
        outstanding: core.inFlight.perBackend.get(route.backend) ?? 0,
        starting: core.backends.state(route.backend).health === "starting",
      }));
      if (decision.action === "reject") {
        const kind = decision.reason === "removed" && tried.size === 0 ? gatewayErrors.runtimeRemoved : gatewayErrors.noHealthyBackend;
        const message = tried.size > 0 ? `no healthy backend left for ${target.label}: connection failed to ${[...tried].map(routeKey).join(", ")}` : decision.message;
        failNewStatement(core, res, forwarded, kind, message);
        return;
      }
      ctx.state.runtime = routeKey(decision.route);
      if (decision.action === "hold") {
        holdStatement(core, ctx.req, res, forwarded, decision.route, statement, ctx.state.principal?.name);
        return;
      }
      core.backends.admit(decision.route.backend);
      const outcome = await submitStatement(core, res, forwarded, decision.route, body, headers);
      if (outcome.ok) return;
      tried.add(decision.route);
      // Nothing reached Trino on a refused connection: try another member once per member.
      if (!outcome.retryable) {
        failNewStatement(core, res, forwarded, gatewayErrors.backendUnreachable, outcome.message);
        return;
      }
    }
  };
}

/** Other requests (/v1/info, /ui…): streamed to a usable member of the selected target. */
function proxyOther(core: GatewayCore, ctx: Context): void {
  const res = raw(ctx);
  const route = ctx.state.transactionBackend
    ? undefined
    : ctx.state.target?.members.find((member) => member.state !== "REMOVED" && core.backends.usable(member.backend));
  const backend = ctx.state.transactionBackend ?? route?.backend;
  if (!backend) {
    writeJson(res, 503, { error: { code: "NO_BACKEND", message: `no usable backend for ${ctx.state.target?.label ?? "this request"}` } });
    return;
  }
  replaceForwardingHeaders(ctx.req.headers, ctx.state.forwarded);
  core.proxy.forward(ctx.req, res, backend, {
    onResponse: () => undefined,
    onError(error) {
      if (res.headersSent) res.destroy(error);
      else writeJson(res, 502, { error: { code: "BACKEND_UNREACHABLE", message: `${backend} unreachable: ${error.message}` } });
    },
  });
}

/** The gateway's request handler: the follow-up fast lane, then the Koa chain. */
export function createGatewayHandler(core: GatewayCore): RequestListener {
  const chain = createGatewayApp(core).callback();
  return (req, res) => {
    let handled: boolean;
    try {
      handled = forwardKnownFollowUp(core, req, res);
    } catch (error) {
      // A throw here would escape the request listener and stop the process: answer 500 instead.
      core.logger.error({ event: "request-error", err: (error as Error).message, path: req.url }, "follow-up fast lane failed");
      if (!res.headersSent) writeJson(res, 500, { error: { code: "GATEWAY_ERROR", message: "the gateway failed to handle this request" } });
      else res.destroy();
      return;
    }
    if (!handled) void chain(req, res);
  };
}

export function createGatewayApp(core: GatewayCore): Koa<GatewayState> {
  const app = new Koa<GatewayState>();
  app.proxy = false; // X-Forwarded-* are judged by forwarded.ts against the trusted proxies, not by Koa.
  app.on("error", (error: Error) => core.logger.warn({ event: "request-error", err: error.message }, "request failed"));
  for (const middleware of [
    requestContext(core),
    probes(core),
    operatorStatus(core),
    authenticate(core),
    followUpStickiness(core),
    selectRoute(core),
    authorise(core),
    rateLimitNewQueries(core),
    chooseBackend(core),
  ]) {
    app.use(middleware);
  }
  return app;
}
