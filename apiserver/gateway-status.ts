// Reads the gateway's status endpoint for the console's gateway view (server-side: the browser talks
// only to the lifecycle API). One GET per console poll with a timeout and a size cap; what a caller
// may not read (runtimes of other namespaces, and their backends) is left out.
import { ApiError } from "./errors.ts";
import type { GatewayStatusReader } from "./server.ts";

/** The gateway's status endpoint, relative to --gateway-url. */
export const gatewayStatusPath = "/v1/xtrinode/status";
const maxStatusBytes = 4 * 1024 * 1024;

function gatewayUnavailable(message: string): ApiError {
  return new ApiError(503, "GatewayUnavailable", message, { "Retry-After": "2" });
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** Namespace of a status entry: its `namespace` field, else the namespace part of `runtime: "ns/name"`; undefined when it names none. */
function namespaceOf(entry: Json): string | undefined {
  if (typeof entry.namespace === "string") return entry.namespace;
  if (typeof entry.runtime === "string" && entry.runtime.includes("/")) return entry.runtime.split("/")[0];
  return undefined;
}

/**
 * Keeps, in every array of the status document (runtimes, backends, …), only the entries of namespaces
 * the caller may read; entries that name no namespace (gateway-wide figures) stay.
 */
export function filterByNamespace(document: unknown, readable: (namespace: string) => boolean): unknown {
  if (Array.isArray(document)) {
    return document.filter((entry) => !isObject(entry) || (namespaceOf(entry) ?? "") === "" || readable(namespaceOf(entry)!)).map((entry) => filterByNamespace(entry, readable));
  }
  if (!isObject(document)) return document;
  return Object.fromEntries(Object.entries(document).map(([key, value]) => [key, filterByNamespace(value, readable)]));
}

export function gatewayStatusReader(gatewayUrl: string, options: { timeoutMs: number; token?: string }): GatewayStatusReader {
  const url = new URL(gatewayStatusPath, gatewayUrl).toString();
  return async (readable) => {
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
    } catch (error) {
      throw gatewayUnavailable(`the gateway at ${url} did not answer: ${(error as Error).message}`);
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
      throw gatewayUnavailable(`the gateway at ${url} did not answer JSON`);
    }
    const visible = filterByNamespace(document, readable);
    return isObject(visible) ? visible : { status: visible };
  };
}
