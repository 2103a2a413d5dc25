// The chain of every other request: the gateway's own probes (/healthz, /readyz, /metrics: before
// authentication and limits) and operator status (/xtrinode/v1/status: its own admin check), else
// authenticate → select the route → authorise → stream to a usable member (/v1/info, /ui, /v1/query,
// spooled segments…).
import { writeJson } from "../answers.ts";
import type { GatewayCore, OtherRequestServices } from "../core.ts";
import { requestHeader, type Exchange } from "../exchange.ts";
import type { RelayHooks } from "../proxy.ts";
import { buildGatewayStatus, gatewayStatusPath } from "../status.ts";
import { authenticate, authorise, selectRoute } from "./steps.ts";

export async function otherRequestChain(core: OtherRequestServices, x: Exchange): Promise<void> {
  if (x.request.kind === "probe") return answerProbe(core, x);
  if (x.request.kind === "status") return answerStatus(core, x);
  if (core.auth.enabled && !(await authenticate(core, x))) return;
  if (!selectRoute(core, x) || !authorise(core, x)) return;
  proxyToTarget(core, x);
}

/** /healthz, /readyz, /metrics: case-insensitive, optional trailing slash (request-target.ts: kind "probe"). */
async function answerProbe(core: Pick<GatewayCore, "metrics" | "routes">, x: Exchange): Promise<void> {
  x.runtime = "-";
  const path = x.request.path.toLowerCase().replace(/\/$/, "");
  if (path === "/healthz") return writeJson(x.res, 200, { status: "ok" });
  if (path === "/readyz") {
    const ready = core.routes.generation > 0;
    return writeJson(x.res, ready ? 200 : 503, {
      status: ready ? "ready" : "no valid routes yet",
      routesGeneration: core.routes.generation,
    });
  }
  const text = await core.metrics.exposition();
  x.res.writeHead(200, { "content-type": core.metrics.registry.contentType, "content-length": Buffer.byteLength(text) });
  x.res.end(text);
}

/** GET /xtrinode/v1/status for operators: admin token or admin principal (see status.ts). */
async function answerStatus(
  core: Pick<GatewayCore, "auth" | "backends" | "held" | "inFlight" | "routes" | "statusAccess">,
  x: Exchange,
): Promise<void> {
  x.runtime = "-";
  if (x.req.method !== "GET" && x.req.method !== "HEAD") {
    writeJson(
      x.res,
      405,
      { error: { code: "METHOD_NOT_ALLOWED", message: `${gatewayStatusPath} answers GET only` } },
      { allow: "GET, HEAD" },
    );
    return;
  }
  const access = await core.statusAccess.check(requestHeader(x, "authorization"), core.auth);
  if (!access.ok) {
    writeJson(
      x.res,
      access.status,
      { error: { code: access.status === 401 ? "UNAUTHENTICATED" : "FORBIDDEN", message: access.message } },
      access.challenges ? { "www-authenticate": access.challenges } : {},
    );
    return;
  }
  writeJson(x.res, 200, buildGatewayStatus(core), { "cache-control": "no-store" });
}

/** What the relay reports for other requests: only failures matter. */
const otherRequestHooks: RelayHooks<Exchange> = {
  onResponse: () => undefined,
  onError(x, error, answered) {
    if (!answered) writeJson(x.res, 502, { error: { code: "BACKEND_UNREACHABLE", message: `${x.backend} unreachable: ${error.message}` } });
  },
};

/** Streamed to a usable member of the selected target (or the backend of the transaction). */
function proxyToTarget(core: Pick<GatewayCore, "backends" | "proxy">, x: Exchange): void {
  const route = x.transactionBackend
    ? undefined
    : x.target?.members.find((member) => member.state !== "REMOVED" && core.backends.usable(member.backend));
  const backend = x.transactionBackend ?? route?.backend;
  if (!backend) {
    writeJson(x.res, 503, { error: { code: "NO_BACKEND", message: `no usable backend for ${x.target?.label ?? "this request"}` } });
    return;
  }
  x.backend = backend;
  core.proxy.relay(x.req, x.res, backend, x.forwarded, otherRequestHooks, x);
}
