// Reads the gateway's operator status endpoint (GET /xtrinode/v1/status, schemas/gateway-status.schema.json)
// for the console's gateway view, server-side: the browser talks only to the lifecycle API, and the
// gateway's admin token (--gateway-token-file) never leaves this process. One GET per console poll,
// with a timeout and a size cap. What a caller may not read is left out: runtimes of namespaces it
// may not read, and the backends that only those runtimes use.
import type { GatewayStatus } from "../gateway/status.ts";
import { gatewayStatusUrl, readGatewayStatus } from "../lib/gateway-status-client.ts";
import { ApiError } from "./errors.ts";
import type { GatewayStatusReader } from "./server.ts";

const maxStatusBytes = 4 * 1024 * 1024;

function gatewayUnavailable(message: string): ApiError {
  return new ApiError(503, "GatewayUnavailable", message, { "Retry-After": "2" });
}

/**
 * The status limited to runtimes of readable namespaces and their backends. Gateway-wide totals (held,
 * in flight, routes generation) stay: they name no runtime.
 */
export function visibleGatewayStatus(status: GatewayStatus, readable: (namespace: string) => boolean): GatewayStatus {
  if (status.runtimes.every((runtime) => readable(runtime.namespace))) return status;
  const runtimes = status.runtimes.filter((runtime) => readable(runtime.namespace));
  const backends = new Set(runtimes.map((runtime) => runtime.backend));
  return { ...status, runtimes, backends: status.backends.filter((backend) => backends.has(backend.url)) };
}

/** Reads the status of the gateway at `gatewayUrl` with its admin token (`token`, from --gateway-token-file). */
export function gatewayStatusReader(gatewayUrl: string, options: { timeoutMs: number; token?: string }): GatewayStatusReader {
  const url = gatewayStatusUrl(gatewayUrl);
  return async (readable) => {
    const read = await readGatewayStatus(url, { token: options.token, timeoutMs: options.timeoutMs, maxBytes: maxStatusBytes });
    if (read.ok) return visibleGatewayStatus(read.status, readable);
    switch (read.problem) {
      case "unreachable":
        throw gatewayUnavailable(`the gateway at ${url} did not answer: ${read.cause}`);
      case "refused":
        throw gatewayUnavailable(
          `the gateway at ${url} refused the status read (HTTP ${read.httpStatus}): give the lifecycle API the gateway's admin token (admin.tokenFile) with --gateway-token-file`,
        );
      case "http":
        throw gatewayUnavailable(`the gateway at ${url} answered HTTP ${read.httpStatus}`);
      case "too-large":
        throw gatewayUnavailable(`the gateway's status is larger than ${maxStatusBytes} bytes`);
      case "not-a-status":
        throw gatewayUnavailable(`the gateway at ${url} did not answer a GatewayStatus document`);
    }
  };
}
