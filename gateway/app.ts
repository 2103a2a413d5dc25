// The gateway as an ordered Koa middleware chain; the order IS the routing policy:
// requestContext → probes (/healthz, /readyz, /metrics: before auth and limits) → operatorStatus
// (/xtrinode/v1/status: its own admin check, never forwarded) → authenticate →
// followUpStickiness (query id → owning backend) → selectRoute (transaction → header → client tag →
// routing group → hostname → pool → default) → authorise → rateLimitNewQueries → chooseBackend (forward, or hold + auto-resume).
import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from "node:http";
import Koa from "koa";
import type { RouteEntry } from "../schemas/generated/types.ts";
import type { Principal } from "./auth.ts";
import { decideNewQuery } from "./backend-choice.ts";
import { allBackends, type GatewayCore } from "./core.ts";
import { forwardedView, replaceForwardingHeaders, type ForwardedView } from "./forwarded.ts";
import { isHeldQueryId } from "./query-id.ts";
import { checkRequestTarget, type RequestTarget } from "./request-target.ts";
import { identityHeaderIssue } from "./identity-headers.ts";
import { isQueryAdmin, mayUseBackend, usableBackends } from "./follow-up-access.ts";
import type { HeldQuery } from "./held-queries.ts";
import { routeKey, selectTarget, type Target } from "./route-table.ts";
import { answerFailedPoll, failNewStatement, forwardFollowUp, runtimeOfFollowUp, holdStatement, pollHeld, readStatement, submitStatement, writeJson, writeRefusal, writeTrinoError } from "./statements.ts";
import { gatewayErrors, type TrinoErrorKind } from "./trino-protocol.ts";
import { buildGatewayStatus, gatewayStatusPath } from "./status.ts";
import { forwardableHeaders, hasBody, writeBufferedAnswer } from "./backend-http.ts";
import { backendOfTransaction, transactionHeader, untagTransactionHeader } from "./transactions.ts";

export interface GatewayState {
  forwarded: ForwardedView;
  /** The checked, canonical request target (createGatewayHandler). */
  request: RequestTarget;
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

/** Canonical targets of requests that passed the check in createGatewayHandler. */
const checkedTargets = new WeakMap<IncomingMessage, RequestTarget>();

function requestKind(request: RequestTarget): GatewayState["kind"] {
  return request.kind === "new" ? "new" : request.queryId ? "followup" : "other";
}

function requestContext(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    const request = checkedTargets.get(ctx.req);
    if (!request) throw new Error("request target not checked"); // createGatewayHandler checks every request first
    ctx.state.request = request;
    ctx.state.forwarded = forwardedView(ctx.req.headers, ctx.req.socket.remoteAddress, "http", core.trusted);
    ctx.state.kind = requestKind(request);
    ctx.state.runtime = "unknown";
    ctx.res.once("finish", () => core.metrics.countRequest(ctx.state.runtime, ctx.state.kind, ctx.res.statusCode));
    await next();
  };
}

// A plain path switch, not a router: it runs on every request, and the three probes need no params.
function probes(core: GatewayCore): Middleware {
  return async (ctx, next) => {
    // Case-insensitive, optional trailing slash (request-target.ts: kind "probe").
    if (ctx.state.request.kind !== "probe") return next();
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
        ctx.body = await core.metrics.exposition();
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
    const identityIssue = identityHeaderIssue(ctx.req.headers, result.principal, core.auth.mayActAs);
    if (identityIssue) {
      ctx.state.runtime = "forbidden";
      writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: ${identityIssue}`, 403);
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
    const request = ctx.state.request;
    const queryId = request.queryId;
    if (!queryId) return next();
    const isPoll = request.kind === "poll";
    if (isHeldQueryId(queryId)) return followUpOfHeld(core, ctx, queryId);
    const principal = ctx.state.principal; // set exactly when authentication is on
    const notFound = () => {
      ctx.state.runtime = "unknown-query";
      const message = `query ${queryId} is not known to any Trino coordinator behind this gateway${principal ? ` that ${principal.name} may use` : ""}`;
      if (isPoll && ctx.method === "GET") writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.queryNotFound, message);
      else writeJson(raw(ctx), 404, { error: { code: "QUERY_NOT_FOUND", message } });
    };
    // Only the runtimes this principal may use are asked: a query elsewhere is none of its business.
    const candidates = principal ? usableBackends(core, principal) : allBackends(core);
    // A queued nextUri's first poll may come here before the query exists anywhere (sticky.ts).
    const queuedPath = isPoll && request.path.startsWith("/v1/statement/queued/") ? request.path : undefined;
    const backend = await core.sticky.ownerOf(queryId, candidates, ownerLookupTimeoutMs, lookupIdentity(ctx.req.headers), admitLookup(core, ctx), queuedPath);
    if (backend === "throttled") return refuseThrottledLookup(core, ctx);
    if (!backend) return notFound();
    ctx.state.runtime = runtimeOfFollowUp(core, queryId, backend);
    if (principal) {
      if (!mayUseBackend(core, principal, backend)) {
        writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: ${principal.name} may not use XTrinode runtime ${ctx.state.runtime}, which runs query ${queryId}`, 403);
        return;
      }
      // Only the query's own user — a user this principal may act as, like X-Trino-User — or an
      // admin: polls, cancels and query info alike. The owner is recorded with the POST this replica
      // relayed, else asked once of the owning coordinator.
      const user = header(ctx, "x-trino-user") ?? principal.name;
      if (!isQueryAdmin(core, principal)) {
        const owner = await core.owners.ownerOf(queryId, backend, user, ownerLookupTimeoutMs);
        if (!owner) return notFound();
        if (!core.auth.mayActAs(principal, owner.user)) {
          writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: query ${queryId} belongs to another user`, 403);
          return;
        }
      }
    }
    forwardFollowUp(core, ctx.req, raw(ctx), ctx.state.forwarded, queryId, backend, ctx.state.runtime, isPoll);
  };
}

/**
 * The per-client budget of coordinator lookups (HEAD to every candidate backend, for a coordinator
 * id this replica has not met): keyed by principal, or by client address without authentication.
 */
function admitLookup(core: GatewayCore, ctx: Context): () => boolean {
  return () => core.lookupBudget.take(ctx.state.principal?.name ?? `addr:${ctx.state.forwarded.client}`).allowed;
}

/** 503 with Retry-After: Trino clients retry a poll answered so; junk follow-ups cost nothing more. */
function refuseThrottledLookup(core: GatewayCore, ctx: Context): void {
  ctx.state.runtime = "lookup-throttled";
  writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.lookupsThrottled, "too many follow-ups for queries this gateway replica has not seen; retry shortly", 503, { "retry-after": "1" });
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
function forwardKnownFollowUp(core: GatewayCore, req: IncomingMessage, res: ServerResponse, request: RequestTarget): boolean {
  const queryId = request.queryId;
  if (core.auth.enabled || !queryId || isHeldQueryId(queryId)) return false;
  const backend = core.sticky.knownOwner(queryId);
  if (!backend) return false;
  const runtime = runtimeOfFollowUp(core, queryId, backend);
  res.once("finish", () => core.metrics.countRequest(runtime, "followup", res.statusCode));
  const forwarded = forwardedView(req.headers, req.socket.remoteAddress, "http", core.trusted);
  forwardFollowUp(core, req, res, forwarded, queryId, backend, runtime, request.kind === "poll");
  return true;
}

const heldSlugInPath = /^\/v1\/statement\/queued\/[^/]+\/([^/]+)\//;

const cancelled = (queryId: string) => ({ kind: gatewayErrors.queryCancelled, message: `query ${queryId} was cancelled` });

/**
 * Follow-ups of statements the gateway holds (or held). A held statement is known by its id AND the
 * slug of its nextUri, which only its client has: ids are guessable. `/v1/query/{id}` carries no
 * slug, so it tells nothing about held statements. With authentication on, only the principal
 * that submitted a held statement may poll it, cancel it, or be shown its first page after the
 * hand-over (and only while it may still use the runtime).
 */
async function followUpOfHeld(core: GatewayCore, ctx: Context, queryId: string): Promise<void> {
  const principal = ctx.state.principal;
  const mayFollow = (submitter: string, runtime: string) => !principal || (principal.name === submitter && core.auth.mayUse(principal, runtime));
  const denied = (runtime: string) =>
    writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: query ${queryId} on ${runtime} was submitted by another principal`, 403);
  if (ctx.state.request.kind === "query") {
    if (ctx.method === "DELETE") {
      // trino-js cancel(): like Trino's kill of one's own query, it cancels what this principal
      // (without authentication: this X-Trino-User) holds under that id.
      const user = header(ctx, "x-trino-user");
      for (const held of core.held.withId(queryId)) {
        const own = principal ? held.principal === principal.name : user !== undefined && firstValue(held.headers["x-trino-user"] as string | string[] | undefined) === user;
        if (own) core.held.end(held, cancelled(queryId));
      }
      ctx.status = 204;
      return;
    }
    writeJson(raw(ctx), 404, { error: { code: "QUERY_NOT_FOUND", message: `query ${queryId} is not a Trino query yet (held by the gateway while its runtime resumes): poll or cancel it through its nextUri` } });
    return;
  }
  const slug = heldSlugInPath.exec(ctx.path)?.[1];
  let held = slug ? core.held.get(queryId, slug) : undefined;
  if (held) {
    ctx.state.runtime = `${held.namespace}/${held.name}`;
    if (!mayFollow(held.principal, ctx.state.runtime)) return denied(ctx.state.runtime);
  }
  if (ctx.method === "DELETE") {
    if (held) core.held.end(held, cancelled(queryId));
    ctx.status = 204; // as Trino answers a DELETE of its nextUri, also for what is gone already
    return;
  }
  if (answerFailedPoll(core, raw(ctx), ctx.state.forwarded, queryId, ctx.path, header(ctx, "x-trino-user") ?? "")) return;
  if (!held && slug) {
    // A repeated hand-over poll (the client retried): the same first page again, not a second run.
    const handed = core.held.handedOver(queryId, slug);
    if (handed) {
      ctx.state.runtime = handed.runtime;
      if (!mayFollow(handed.principal, handed.runtime)) return denied(handed.runtime);
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
  const held = core.held.add({ id: queryId, slug, namespace: ticket.namespace, name: ticket.name, body: Buffer.from(ticket.sql, "utf8"), headers: ticket.headers, createdAtMs: ticket.createdAtMs, principal: ticket.principal });
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
    const selection = selectTarget(core.routes.table, {
      header: header(ctx, "x-trino-xtrinode"),
      clientTags: header(ctx, "x-trino-client-tags"),
      routingGroup: header(ctx, "x-trino-routing-group"),
      hostname: ctx.state.forwarded.hostname,
    });
    if (!selection.ok) {
      ctx.state.runtime = "unrouted";
      if (ctx.state.kind === "new") failNew(core, ctx, gatewayErrors.unknownRuntime, selection.message);
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
    // Every query of a coordinator (with other users' SQL): admins only.
    if ((ctx.state.request.kind === "query-list" || ctx.state.request.kind === "ui") && !isQueryAdmin(core, principal)) {
      writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: listing queries and the Trino web UI are for members of auth.queryAdminGroups only`, 403);
      return;
    }
    const allowed = target.members.filter((route) => core.auth.mayUse(principal, routeKey(route)));
    if (allowed.length === 0) {
      writeTrinoError(core, raw(ctx), ctx.state.forwarded, gatewayErrors.accessDenied, `access denied: ${principal.name} may not use XTrinode runtime ${target.label}`, 403);
      return;
    }
    ctx.state.target = { ...target, members: allowed };
    await next();
  };
}

/** failNewStatement for this request: the failure's message is sealed for its X-Trino-User. */
function failNew(core: GatewayCore, ctx: Context, kind: TrinoErrorKind, message: string, headers: OutgoingHttpHeaders = {}): void {
  failNewStatement(core, raw(ctx), ctx.state.forwarded, kind, message, headers, header(ctx, "x-trino-user") ?? "");
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
    failNew(core, ctx, gatewayErrors.rateLimited, `rate limit exceeded for ${ctx.state.principal?.name ?? "this client"}: at most ${core.settings.rateLimit?.queriesPerSecond} new queries per second; retry in ${seconds} s`, { "retry-after": String(seconds) });
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
    // Recorded with the query (sticky bookkeeping): who may see and cancel it later.
    const owner = { user: header(ctx, "x-trino-user") ?? "", ...(ctx.state.principal ? { principal: ctx.state.principal.name } : {}) };
    if (ctx.state.transactionBackend) {
      const route: RouteEntry = target?.members[0] ?? { namespace: "-", name: "-", backend: ctx.state.transactionBackend, state: "RUNNING" };
      const outcome = await submitStatement(core, res, forwarded, route, body, headers, owner);
      if (!outcome.ok) failNew(core, ctx, gatewayErrors.backendUnreachable, `the coordinator running this transaction is unreachable: ${outcome.message}`);
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
        const kind =
          tried.size > 0 ? gatewayErrors.noHealthyBackend
          : decision.reason === "removed" ? gatewayErrors.runtimeRemoved
          : decision.reason === "failed" ? gatewayErrors.resumeFailed
          : gatewayErrors.noHealthyBackend;
        const message = tried.size > 0 ? `no healthy backend left for ${target.label}: connection failed to ${[...tried].map(routeKey).join(", ")}` : decision.message;
        failNew(core, ctx, kind, message);
        return;
      }
      ctx.state.runtime = routeKey(decision.route);
      if (decision.action === "hold") {
        holdStatement(core, ctx.req, res, forwarded, decision.route, statement, ctx.state.principal?.name);
        return;
      }
      core.backends.admit(decision.route.backend);
      const outcome = await submitStatement(core, res, forwarded, decision.route, body, headers, owner);
      if (outcome.ok) return;
      tried.add(decision.route);
      // Nothing reached Trino on a refused connection: try another member once per member.
      if (!outcome.retryable) {
        failNew(core, ctx, gatewayErrors.backendUnreachable, outcome.message);
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

/**
 * The gateway's request handler: the request target is checked and made canonical first (before
 * any routing: request-target.ts), then the follow-up fast lane, then the Koa chain.
 */
export function createGatewayHandler(core: GatewayCore): RequestListener {
  const chain = createGatewayApp(core).callback();
  return (req, res) => {
    const checked = checkRequestTarget(req.method, req.url);
    if (!checked.ok || (checked.target.kind !== "new" && hasBody(req))) {
      const status = checked.ok ? 400 : checked.status;
      const message = checked.ok ? "only POST /v1/statement carries a body; a follow-up has none" : checked.message;
      res.once("finish", () => core.metrics.countRequest("invalid-request", "other", res.statusCode));
      writeTrinoError(core, res, forwardedView(req.headers, req.socket.remoteAddress, "http", core.trusted), gatewayErrors.invalidRequest, `invalid request: ${message}`, status);
      return;
    }
    const request = checked.target;
    req.url = request.path + request.search; // only the canonical origin-form goes on
    if (request.authority) req.headers.host = request.authority;
    let handled: boolean;
    try {
      handled = forwardKnownFollowUp(core, req, res, request);
    } catch (error) {
      // A throw here would escape the request listener and stop the process: answer 500 instead.
      core.logger.error({ event: "request-error", err: (error as Error).message, path: req.url }, "follow-up fast lane failed");
      if (!res.headersSent) writeJson(res, 500, { error: { code: "GATEWAY_ERROR", message: "the gateway failed to handle this request" } });
      else res.destroy();
      return;
    }
    if (handled) return;
    // Only requests that reach the Koa chain need the checked target there (follow-ups of known queries never do).
    checkedTargets.set(req, request);
    void chain(req, res);
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
