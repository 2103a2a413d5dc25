// The lifecycle API's HTTP server: one Koa app, every request through the same ordered middleware —
// the error boundary (security headers, JSON errors, the latency histogram), the router (authentication
// and authorisation per route, then LifecycleActions), and the router's 405/501 answers. Routes per
// docs/CONTRACTS.md; where to add one: apiserver/README.md.
import http from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import Router, { type RouterContext, type RouterMiddleware } from "@koa/router";
import type { Logger } from "../lib/logger.ts";
import {
  authorize,
  bearerToken,
  isAllowed,
  isAllowedEverywhere,
  permissionsOf,
  type Action,
  type Authenticator,
  type AuthzConfig,
  type Identity,
} from "./auth.ts";
import { addConsoleRoutes, securityHeaders, type ConsoleAsset } from "./console.ts";
import { runtimeDetails } from "./details.ts";
import { ApiError, badRequest, errorBody, kubeUnavailable } from "./errors.ts";
import type { LifecycleAnswer } from "./intent-decisions.ts";
import type { LifecycleActions } from "./lifecycle-actions.ts";
import type { ApiServerMetrics } from "./metrics.ts";
import { checkDns1123Label } from "./names.ts";
import type { RuntimeView } from "./runtime-view.ts";
import type { RuntimeStore } from "./store.ts";

export interface ApiServerDeps {
  lifecycle: LifecycleActions;
  store: RuntimeStore;
  authenticate: Authenticator;
  authz: AuthzConfig;
  metrics: ApiServerMetrics;
  logger: Logger;
  /** How long a /readyz answer is reused (the probe must not hammer the Kubernetes API). */
  readyCacheMs?: number;
  /** The web console's files (served under /console/); undefined: console off. */
  console?: Map<string, ConsoleAsset>;
  /** Reads the gateway's status (--gateway-url); undefined: no gateway configured. */
  gatewayStatus?: GatewayStatusReader;
}

/** The gateway's status as the console shows it, limited to the namespaces `readable` says the caller may read. */
export type GatewayStatusReader = (readable: (namespace: string) => boolean) => Promise<unknown>;

/** Which lifecycle actions the caller may use on this runtime (the console shows only those buttons; each request is still authorised). */
function withPermissions(authz: AuthzConfig, identity: Identity, view: RuntimeView) {
  return {
    ...view,
    allowed: {
      resume: isAllowed(authz, "resume", identity, view.namespace),
      suspend: isAllowed(authz, "suspend", identity, view.namespace),
    },
  };
}

interface State {
  identity?: Identity;
}

const maxBodyBytes = 64 * 1024;

/** Reads a JSON request body (empty → undefined); 400 when it is not JSON, 413 when too large. */
async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new ApiError(413, "PayloadTooLarge", `request body larger than ${maxBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** An error as answered: ApiErrors as they are; anything else becomes a 500 (its cause goes to the log only). */
function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(500, "Internal", "internal error in the lifecycle API server; see its log");
}

/** Logs a failed request: unexpected errors with their cause, answered 5xx errors as warnings; 4xx not at all. */
function logFailure(logger: Logger, error: unknown, method: string, path: string): void {
  if (!(error instanceof ApiError)) logger.error({ event: "request-failed", method, path, err: String(error) }, "unexpected error");
  else if (error.status >= 500)
    logger.warn({ event: "request-failed", method, path, status: error.status, message: error.message }, "request failed");
}

/** What a request no route answered gets (the router leaves the status, and Allow on 405/501, without a body). */
function unansweredError(ctx: Koa.Context): ApiError | undefined {
  if (ctx.body !== undefined) return undefined;
  if (ctx.status === 404)
    return new ApiError(404, "NotFound", `no such endpoint: ${ctx.method} ${ctx.path}; see docs/CONTRACTS.md "Lifecycle API"`);
  if (ctx.status === 405) return new ApiError(405, "MethodNotAllowed", "method not allowed on this endpoint");
  if (ctx.status === 501) return new ApiError(501, "NotImplemented", "HTTP method not supported by the lifecycle API");
  return undefined;
}

/**
 * The server's one error boundary, first in the chain: security headers on every answer; an error
 * anywhere after it, or a request no route answered → { error: { code, message } } with the error's
 * status and headers; every request observed in the latency histogram by matched route (never the raw
 * path: bounded labels).
 */
function errorBoundary(metrics: ApiServerMetrics, logger: Logger): Koa.Middleware<State> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    ctx.set(securityHeaders);
    try {
      await next();
      const unanswered = unansweredError(ctx);
      if (unanswered) throw unanswered;
    } catch (error) {
      logFailure(logger, error, ctx.method, ctx.path);
      const apiError = asApiError(error);
      ctx.status = apiError.status;
      for (const [header, value] of Object.entries(apiError.headers)) ctx.set(header, value);
      ctx.body = errorBody(apiError);
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? "unmatched";
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requestDuration.observe({ method: ctx.method, route: String(route), status: String(ctx.status) }, seconds);
    }
  };
}

/** The request listener of the lifecycle API: the Koa app below. */
export function createApiServerHandler(deps: ApiServerDeps): http.RequestListener {
  return createApiServerApp(deps).callback();
}

/** Sets the response to a lifecycle answer: status, Retry-After, JSON body. */
function setAnswer(ctx: Koa.Context, answer: LifecycleAnswer): void {
  ctx.status = answer.status;
  if (answer.retryAfterSeconds !== undefined) ctx.set("Retry-After", String(answer.retryAfterSeconds));
  if (answer.body) ctx.body = answer.body;
}

export function createApiServerApp(deps: ApiServerDeps): Koa {
  const { lifecycle, store, authenticate, authz, metrics, logger } = deps;
  const app = new Koa<State>();
  const router = new Router<State>();

  const guard =
    (action: Action): RouterMiddleware<State> =>
    async (ctx, next) => {
      const identity = await authenticate(bearerToken(ctx.get("authorization") || undefined));
      authorize(authz, action, identity);
      ctx.state.identity = identity;
      await next();
    };
  /** Checks the runtime names in the path (400) and that the caller may `action` in that namespace (403); returns them. */
  const authorizedRuntime = (ctx: RouterContext<State>, action: Action) => {
    const namespace = checkDns1123Label("namespace", ctx.params.namespace);
    authorize(authz, action, ctx.state.identity!, namespace);
    return { namespace, name: checkDns1123Label("name", ctx.params.name) };
  };

  let ready: { at: number; error?: ApiError } | undefined;
  const readyCacheMs = deps.readyCacheMs ?? 1000;

  router
    .get("/healthz", (ctx) => {
      ctx.body = { status: "ok" };
    })
    .get("/readyz", async (ctx) => {
      if (!ready || Date.now() - ready.at > readyCacheMs) {
        try {
          await store.ping();
          ready = { at: Date.now() };
        } catch (error) {
          ready = {
            at: Date.now(),
            error: error instanceof ApiError ? error : kubeUnavailable(`Kubernetes API unreachable: ${String(error)}`),
          };
        }
      }
      if (ready.error) throw ready.error;
      ctx.body = { status: "ok" };
    })
    .get("/metrics", async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.registry.metrics();
    })
    .get("/v1/runtimes", guard("read"), async (ctx) => {
      const namespace =
        typeof ctx.query.namespace === "string" && ctx.query.namespace !== ""
          ? checkDns1123Label("namespace", ctx.query.namespace)
          : undefined;
      if (Array.isArray(ctx.query.namespace)) throw badRequest("give the namespace query parameter at most once");
      const identity = ctx.state.identity!;
      if (namespace !== undefined) authorize(authz, "read", identity, namespace);
      const items = await lifecycle.list(namespace);
      // A caller allowed only some namespaces sees only their runtimes.
      const readable = isAllowedEverywhere(authz, "read", identity)
        ? items
        : items.filter((item) => isAllowed(authz, "read", identity, item.namespace));
      ctx.body = { items: readable.map((item) => withPermissions(authz, identity, item)), serverTime: new Date().toISOString() };
    })
    .get("/v1/runtimes/:namespace/:name", guard("read"), async (ctx) => {
      const { namespace, name } = authorizedRuntime(ctx, "read");
      ctx.body = withPermissions(authz, ctx.state.identity!, await lifecycle.status(namespace, name));
    })
    .get("/v1/runtimes/:namespace/:name/details", guard("read"), async (ctx) => {
      const { namespace, name } = authorizedRuntime(ctx, "read");
      const details = await runtimeDetails(store, namespace, name);
      ctx.body = {
        ...details,
        runtime: withPermissions(authz, ctx.state.identity!, details.runtime),
        serverTime: new Date().toISOString(),
      };
    })
    // Who the caller is and where it may do what: the console's login check and which controls it offers.
    .get("/v1/whoami", async (ctx) => {
      const identity = await authenticate(bearerToken(ctx.get("authorization") || undefined));
      ctx.body = {
        username: identity.username,
        groups: identity.groups,
        permissions: permissionsOf(authz, identity),
        gateway: deps.gatewayStatus !== undefined,
      };
    })
    .get("/v1/gateway", guard("read"), async (ctx) => {
      if (!deps.gatewayStatus)
        throw new ApiError(
          404,
          "NotFound",
          "no gateway is configured: start the lifecycle API with --gateway-url <the gateway's status URL base>",
        );
      const identity = ctx.state.identity!;
      const everywhere = isAllowedEverywhere(authz, "read", identity);
      ctx.body = await deps.gatewayStatus((namespace) => everywhere || isAllowed(authz, "read", identity, namespace));
    })
    .post("/v1/runtimes/:namespace/:name/resume", guard("resume"), async (ctx) => {
      const { namespace, name } = authorizedRuntime(ctx, "resume");
      setAnswer(ctx, await lifecycle.resume(namespace, name, ctx.state.identity!.username));
    })
    .post("/v1/runtimes/:namespace/:name/suspend", guard("suspend"), async (ctx) => {
      const { namespace, name } = authorizedRuntime(ctx, "suspend");
      setAnswer(ctx, await lifecycle.suspend(namespace, name, ctx.state.identity!.username));
    })
    .post("/v1/runtimes/:namespace/:name/activity", guard("activity"), async (ctx) => {
      const { namespace, name } = authorizedRuntime(ctx, "activity");
      const body = await readJsonBody(ctx.req);
      setAnswer(ctx, await lifecycle.reportActivity(namespace, name, body));
    });

  if (deps.console) addConsoleRoutes(router, deps.console);

  // The order is the request path: error boundary, route, 405/501 (Allow set, answered by the boundary).
  app.use(errorBoundary(metrics, logger));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

export interface RunningApiServer {
  url: string;
  close(): Promise<void>;
}

export async function listen(handler: http.RequestListener, port: number, host: string): Promise<RunningApiServer> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A deep accept backlog: a resume stampede opens many connections at once (Node's default of 511
    // drops the excess SYNs, which clients retry only after a second). The kernel caps it at somaxconn.
    server.listen({ port, host, backlog: 4096 }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    // Stop accepting, let requests in progress finish (up to 5 s), then drop what is left.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      }),
  };
}
