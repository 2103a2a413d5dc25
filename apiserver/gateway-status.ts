// Reads the gateway's operator status endpoint (GET /xtrinode/v1/status, schemas/gateway-status.schema.json)
// for the console's gateway view, server-side: the browser talks only to the lifecycle API, and the
// gateway's admin token (--gateway-token-file) never leaves this process. One GET per console poll,
// with a timeout and a size cap. What a caller may not read is left out: runtimes of namespaces it
// may not read, and the backends that only those runtimes use.
import { gatewayStatusPath, type GatewayStatus } from "../gateway/status.ts";
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

function isGatewayStatus(value: unknown): value is GatewayStatus {
  const status = value as GatewayStatus;
  return typeof value === "object" && value !== null && status.kind === "GatewayStatus" && Array.isArray(status.runtimes) && Array.isArray(status.backends);
}

/** Reads the status of the gateway at `gatewayUrl` with its admin token (`token`, from --gateway-token-file). */
export function gatewayStatusReader(gatewayUrl: string, options: { timeoutMs: number; token?: string }): GatewayStatusReader {
  const url = new URL(gatewayStatusPath, gatewayUrl).toString();
  return async (readable) => {
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
    } catch (error) {
      throw gatewayUnavailable(`the gateway at ${url} did not answer: ${(error as Error).message}`);
    }
    if (response.status === 401 || response.status === 403) {
      throw gatewayUnavailable(`the gateway at ${url} refused the status read (HTTP ${response.status}): give the lifecycle API the gateway's admin token (admin.tokenFile) with --gateway-token-file`);
    }
    if (!response.ok) throw gatewayUnavailable(`the gateway at ${url} answered HTTP ${response.status}`);
    const declared = Number(response.headers.get("content-length") ?? 0);
    if (declared > maxStatusBytes) throw gatewayUnavailable(`the gateway's status is larger than ${maxStatusBytes} bytes`);
    const text = await response.text();
    if (text.length > maxStatusBytes) throw gatewayUnavailable(`the gateway's status is larger than ${maxStatusBytes} bytes`);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      document = undefined;
    }
    if (!isGatewayStatus(document)) throw gatewayUnavailable(`the gateway at ${url} did not answer a GatewayStatus document`);
    return visibleGatewayStatus(document, readable);
  };
}
