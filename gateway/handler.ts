// The gateway's request handler. Every request's target is checked and made canonical first
// (request-target.ts: before anything routes on it), then the request goes down exactly one chain,
// chosen once by its kind:
//   new statements (chains/new-statement.ts): authenticate → route → authorise → rate limit → submit or hold
//   follow-ups (chains/follow-up.ts): authenticate → held? → owning backend → may follow up → stream to it
//   everything else (chains/other.ts): probes, operator status, else authenticate → route → authorise → stream
// with one error boundary here for all three.
import type { RequestListener } from "node:http";
import { writeJson, writeTrinoError } from "./answers.ts";
import { hasBody } from "./backend-http.ts";
import { followUpChain } from "./chains/follow-up.ts";
import { newStatementChain } from "./chains/new-statement.ts";
import { otherRequestChain } from "./chains/other.ts";
import type { GatewayCore } from "./core.ts";
import { requestKind, type Exchange, type RequestKind } from "./exchange.ts";
import { forwardedView } from "./forwarded.ts";
import { checkRequestTarget } from "./request-target.ts";
import { gatewayErrors } from "./trino-protocol.ts";

type Chain = (core: GatewayCore, x: Exchange) => void | Promise<void>;

const chains: Record<RequestKind, Chain> = { new: newStatementChain, followup: followUpChain, other: otherRequestChain };

export function createGatewayHandler(core: GatewayCore): RequestListener {
  /** The one error boundary: a throw would otherwise escape the request listener and stop the process. */
  const failed = (x: Exchange, error: unknown) => {
    core.logger.error({ event: "request-error", err: (error as Error)?.message ?? String(error), path: x.request.path }, "request failed");
    if (!x.res.headersSent)
      writeJson(x.res, 500, { error: { code: "GATEWAY_ERROR", message: "the gateway failed to handle this request" } });
    else x.res.destroy();
  };
  return (req, res) => {
    const checked = checkRequestTarget(req.method, req.url);
    if (!checked.ok || (checked.target.kind !== "new" && hasBody(req))) {
      const status = checked.ok ? 400 : checked.status;
      const message = checked.ok ? "only POST /v1/statement carries a body; a follow-up has none" : checked.message;
      res.once("finish", () => core.metrics.countRequest("invalid-request", "other", res.statusCode));
      writeTrinoError(
        core,
        res,
        forwardedView(req.headers, req.socket.remoteAddress, "http", core.trusted),
        gatewayErrors.invalidRequest,
        `invalid request: ${message}`,
        status,
      );
      return;
    }
    const request = checked.target;
    req.url = request.path + request.search; // only the canonical origin-form goes on
    if (request.authority) req.headers.host = request.authority;
    const x: Exchange = {
      req,
      res,
      request,
      kind: requestKind(request),
      forwarded: forwardedView(req.headers, req.socket.remoteAddress, "http", core.trusted),
      runtime: "unknown",
      principal: undefined,
      target: undefined,
      transactionBackend: undefined,
      backend: undefined,
    };
    // `on`, not `once`: a response finishes once, and `once` wraps every listener.
    res.on("finish", () => core.metrics.countRequest(x.runtime, x.kind, res.statusCode));
    let pending: void | Promise<void>;
    try {
      pending = chains[x.kind](core, x);
    } catch (error) {
      failed(x, error);
      return;
    }
    if (pending) pending.catch((error: unknown) => failed(x, error));
  };
}
