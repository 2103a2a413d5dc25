// The lifecycle API's HTTP shell (Koa + @koa/router): authentication, authorisation, request
// validation, JSON errors and metrics around the Lifecycle core. Routes per docs/CONTRACTS.md.
//
// One endpoint is answered ahead of Koa: POST …/resume, the one a stampede hits (every gateway replica,
// every waiting client). It does the same steps through the same functions (authenticate, authorise,
// validate, Lifecycle.resume, the same JSON errors and metrics) and writes the answer with one writeHead;
// Koa's per-request context, router and on-finished listeners cost as much CPU as the rest of that
// request (bench/resume-stampede measures the CPU per request).
import http from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import Router, { type RouterContext, type RouterMiddleware } from "@koa/router";
import type { Logger } from "../lib/logger.ts";
import { authorize, bearerToken, isAllowed, isAllowedEverywhere, permissionsOf, type Action, type Authenticator, type AuthzConfig, type Identity } from "./auth.ts";
import { addConsoleRoutes, securityHeaders, type ConsoleAsset } from "./console.ts";
import { runtimeDetails } from "./details.ts";
import { ApiError, badRequest, errorBody, kubeUnavailable } from "./errors.ts";
import type { Lifecycle, LifecycleAnswer, RuntimeView } from "./lifecycle.ts";
import type { ApiServerMetrics } from "./metrics.ts";
import { checkDns1123Label } from "./names.ts";
import type { RuntimeStore } from "./store.ts";

export interface ApiServerDeps {
  lifecycle: Lifecycle;
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
  return { ...view, allowed: { resume: isAllowed(authz, "resume", identity, view.namespace), suspend: isAllowed(authz, "suspend", identity, view.namespace) } };
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

/** An error as answered: ApiErrors as they are; anything else is logged and becomes a 500. */
function asApiError(error: unknown, logger: Logger, method: string | undefined, path: string): ApiError {
  if (!(error instanceof ApiError)) {
    logger.error({ event: "request-failed", method, path, err: String(error) }, "unexpected error");
    return new ApiError(500, "Internal", "internal error in the lifecycle API server; see its log");
  }
  if (error.status >= 500) logger.warn({ event: "request-failed", method, path, status: error.status, message: error.message }, "request failed");
  return error;
}

const resumeRoute = "/v1/runtimes/:namespace/:name/resume";
const resumePath = /^\/v1\/runtimes\/([^/]+)\/([^/]+)\/resume\/?$/;

/** POST …/resume: authenticate, authorise, validate the names, resume. */
async function resume(deps: ApiServerDeps, authorization: string | undefined, namespace: string, name: string): Promise<LifecycleAnswer> {
  const identity = await deps.authenticate(bearerToken(authorization));
  // Allowed anywhere first (403 before any 400 about names), then in this namespace.
  authorize(deps.authz, "resume", identity);
  const runtimeNamespace = checkDns1123Label("namespace", namespace);
  authorize(deps.authz, "resume", identity, runtimeNamespace);
  return deps.lifecycle.resume(runtimeNamespace, checkDns1123Label("name", name), identity.username);
}

function writeJson(res: http.ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": bytes.length });
  res.end(bytes);
}

/** Answers the resume endpoint without Koa; false when the request is for another endpoint. */
function answerResume(deps: ApiServerDeps, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = req.url ?? "";
  const queryAt = url.indexOf("?");
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const match = resumePath.exec(path);
  if (!match) return false;
  const started = process.hrtime.bigint();
  const answer = async (): Promise<LifecycleAnswer> => {
    if (req.method !== "POST") throw new ApiError(405, "MethodNotAllowed", "method not allowed on this endpoint", { Allow: "POST" });
    let namespace: string, name: string;
    try {
      [namespace, name] = [decodeURIComponent(match[1]), decodeURIComponent(match[2])];
    } catch {
      throw badRequest(`the path ${path} is not validly percent-encoded`);
    }
    return resume(deps, req.headers.authorization, namespace, name);
  };
  void answer()
    .then(
      (result) => writeJson(res, result.status, result.retryAfterSeconds === undefined ? {} : { "Retry-After": String(result.retryAfterSeconds) }, result.body),
      (error: unknown) => {
        const apiError = asApiError(error, deps.logger, req.method, path);
        writeJson(res, apiError.status, apiError.headers, errorBody(apiError));
      },
    )
    .catch((error: unknown) => {
      // Writing the answer itself failed (the client is gone): nothing left to tell it.
      deps.logger.warn({ event: "response-failed", path, err: String(error) }, "could not write the resume answer");
    })
    .finally(() => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.requestDuration.observe({ method: req.method ?? "", route: resumeRoute, status: String(res.statusCode) }, seconds);
    });
  return true;
}

/** The API server's request listener: the resume endpoint first, everything else through Koa. */
export function createApiServerHandler(deps: ApiServerDeps): http.RequestListener {
  const koa = createApiServerApp(deps).callback();
  return (req, res) => {
    if (!answerResume(deps, req, res)) void koa(req, res);
  };
}

function send(ctx: Koa.Context, answer: LifecycleAnswer): void {
  ctx.status = answer.status;
  if (answer.retryAfterSeconds !== undefined) ctx.set("Retry-After", String(answer.retryAfterSeconds));
  if (answer.body) ctx.body = answer.body;
}

export function createApiServerApp(deps: ApiServerDeps): Koa {
  const { lifecycle, store, authenticate, authz, metrics, logger } = deps;
  const app = new Koa<State>();
  const router = new Router<State>();

  const guard = (action: Action): RouterMiddleware<State> => async (ctx, next) => {
    const identity = await authenticate(bearerToken(ctx.get("authorization") || undefined));
    authorize(authz, action, identity);
    ctx.state.identity = identity;
    await next();
  };
  /** The runtime a request names, once its caller is known to be allowed `action` in that namespace. */
  const runtimeParams = (ctx: RouterContext<State>, action: Action) => {
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
          ready = { at: Date.now(), error: error instanceof ApiError ? error : kubeUnavailable(`Kubernetes API unreachable: ${String(error)}`) };
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
      const namespace = typeof ctx.query.namespace === "string" && ctx.query.namespace !== "" ? checkDns1123Label("namespace", ctx.query.namespace) : undefined;
      if (Array.isArray(ctx.query.namespace)) throw badRequest("give the namespace query parameter at most once");
      const identity = ctx.state.identity!;
      if (namespace !== undefined) authorize(authz, "read", identity, namespace);
      const items = await lifecycle.list(namespace);
      // A caller allowed only some namespaces sees only their runtimes.
      const readable = isAllowedEverywhere(authz, "read", identity) ? items : items.filter((item) => isAllowed(authz, "read", identity, item.namespace));
      ctx.body = { items: readable.map((item) => withPermissions(authz, identity, item)), serverTime: new Date().toISOString() };
    })
    .get("/v1/runtimes/:namespace/:name", guard("read"), async (ctx) => {
      const { namespace, name } = runtimeParams(ctx, "read");
      ctx.body = withPermissions(authz, ctx.state.identity!, await lifecycle.status(namespace, name));
    })
    .get("/v1/runtimes/:namespace/:name/details", guard("read"), async (ctx) => {
      const { namespace, name } = runtimeParams(ctx, "read");
      const details = await runtimeDetails(store, namespace, name);
      ctx.body = { ...details, runtime: withPermissions(authz, ctx.state.identity!, details.runtime), serverTime: new Date().toISOString() };
    })
    // Who the caller is and where it may do what: the console's login check and which controls it offers.
    .get("/v1/whoami", async (ctx) => {
      const identity = await authenticate(bearerToken(ctx.get("authorization") || undefined));
      ctx.body = { username: identity.username, groups: identity.groups, permissions: permissionsOf(authz, identity), gateway: deps.gatewayStatus !== undefined };
    })
    .get("/v1/gateway", guard("read"), async (ctx) => {
      if (!deps.gatewayStatus) throw new ApiError(404, "NotFound", "no gateway is configured: start the lifecycle API with --gateway-url <the gateway's status URL base>");
      const identity = ctx.state.identity!;
      const everywhere = isAllowedEverywhere(authz, "read", identity);
      ctx.body = await deps.gatewayStatus((namespace) => everywhere || isAllowed(authz, "read", identity, namespace));
    })
    .post("/v1/runtimes/:namespace/:name/suspend", guard("suspend"), async (ctx) => {
      const { namespace, name } = runtimeParams(ctx, "suspend");
      send(ctx, await lifecycle.suspend(namespace, name, ctx.state.identity!.username));
    })
    .post("/v1/runtimes/:namespace/:name/activity", guard("activity"), async (ctx) => {
      const { namespace, name } = runtimeParams(ctx, "activity");
      const body = await readJsonBody(ctx.req);
      send(ctx, await lifecycle.reportActivity(namespace, name, body));
    });

  if (deps.console) addConsoleRoutes(router, deps.console);

  // Errors → { error: { code, message } }; latency histogram by matched route (never the raw path: bounded labels).
  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    ctx.set(securityHeaders);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ApiError(404, "NotFound", `no such endpoint: ${ctx.method} ${ctx.path}; see docs/CONTRACTS.md "Lifecycle API"`);
      }
    } catch (error) {
      const apiError = asApiError(error, logger, ctx.method, ctx.path);
      ctx.status = apiError.status;
      for (const [header, value] of Object.entries(apiError.headers)) ctx.set(header, value);
      ctx.body = errorBody(apiError);
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? "unmatched";
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requestDuration.observe({ method: ctx.method, route: String(route), status: String(ctx.status) }, seconds);
    }
  });
  app.use(router.routes());
  app.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new ApiError(405, "MethodNotAllowed", "method not allowed on this endpoint"),
      notImplemented: () => new ApiError(501, "NotImplemented", "HTTP method not supported by the lifecycle API"),
    }),
  );
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
