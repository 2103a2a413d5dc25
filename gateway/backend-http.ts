// Plain HTTP calls from the gateway to backends (new statements, held hand-overs, probes).
// node:http keeps raw header lists, so repeated Trino headers (X-Trino-Set-Session…) survive.
import http from "node:http";
import https from "node:https";

export interface BackendResponse {
  status: number;
  rawHeaders: string[];
  body: Buffer;
}

// noDelay: small request/response pairs must not wait for Nagle's algorithm.
const agentOptions = { keepAlive: true, maxSockets: 256, noDelay: true };
const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

export function agentFor(backend: string): http.Agent {
  return backend.startsWith("https:") ? agents.https : agents.http;
}

export function backendRequest(
  backend: string,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer | undefined,
  timeoutMs: number,
): Promise<BackendResponse> {
  const url = new URL(path, backend);
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(url, { method, headers, agent: agentFor(backend), timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 502, rawHeaders: response.rawHeaders, body: Buffer.concat(chunks) }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}

/** Header value from a raw header list (first occurrence, case-insensitive). */
export function rawHeader(rawHeaders: string[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === lower) return rawHeaders[i + 1];
  return undefined;
}

const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "host"]);

/** Copies a raw header list onto a response, dropping hop-by-hop headers. */
export function writeRawHeaders(target: http.ServerResponse, rawHeaders: string[]): void {
  const grouped = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i].toLowerCase();
    if (hopByHop.has(lower)) continue;
    const entry = grouped.get(lower) ?? { name: rawHeaders[i], values: [] };
    entry.values.push(rawHeaders[i + 1]);
    grouped.set(lower, entry);
  }
  for (const { name, values } of grouped.values()) target.setHeader(name, values.length === 1 ? values[0] : values);
}

/** Request headers to pass on to a backend (hop-by-hop and gateway-only headers removed). */
export function forwardableHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || hopByHop.has(name) || name.startsWith("x-forwarded-")) continue;
    out[name] = value;
  }
  return out;
}
