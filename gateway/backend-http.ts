// Plain HTTP calls from the gateway to backends (new statements, held hand-overs, probes), buffered.
// Both clients keep raw header lists, so repeated Trino headers (X-Trino-Set-Session…) survive.
// New statements go through undici's pool (submitRequest: the hot path, measured cheaper per
// request than node:http's client, bench/RESULTS.md); probes and lookups through node:http
// (backendRequest), whose socket timeout also bounds connecting (a health check's 500 ms holds
// against an address that never answers; undici's connect timeout is per pool, not per request).
import http from "node:http";
import https from "node:https";
import { Agent, type Dispatcher } from "undici";
import { isForwardingHeader } from "./forwarded.ts";

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

export interface BackendAddress {
  https: boolean;
  hostname: string;
  port: number;
  /** host[:port] as a Host header. */
  host: string;
}

const addresses = new Map<string, BackendAddress>();

/** The parts of a backend URL needed to open requests, parsed once per backend. */
export function backendAddress(backend: string): BackendAddress {
  let address = addresses.get(backend);
  if (!address) {
    const url = new URL(backend);
    const https = url.protocol === "https:";
    // URL keeps IPv6 hosts in brackets; sockets want them bare.
    address = { https, hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || (https ? 443 : 80)), host: url.host };
    if (addresses.size >= 10_000) addresses.clear(); // backends come from routes: a bound against churn, not a cache policy
    addresses.set(backend, address);
  }
  return address;
}

export function backendRequest(
  backend: string,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer | undefined,
  timeoutMs: number,
): Promise<BackendResponse> {
  const address = backendAddress(backend);
  return new Promise((resolve, reject) => {
    const options = {
      hostname: address.hostname,
      port: address.port,
      path,
      method,
      headers: { host: address.host, ...headers },
      agent: agentFor(backend),
      timeout: timeoutMs,
    };
    const request = (address.https ? https : http).request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 502, rawHeaders: response.rawHeaders, body: Buffer.concat(chunks) }),
      );
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}

const submitAgent = new Agent({ connections: 256 });

/** One buffered undici request: collects the answer (its state lives here, no closures). */
class BufferedAnswer implements Dispatcher.DispatchHandler {
  readonly resolve: (answer: BackendResponse) => void;
  readonly reject: (error: Error) => void;
  status = 0;
  rawHeaders: string[] = [];
  chunks: Buffer[] = [];
  length = 0;

  constructor(resolve: (answer: BackendResponse) => void, reject: (error: Error) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }

  onRequestStart(): void {}

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
    const raw = controller.rawHeaders as Buffer[];
    const headers = this.rawHeaders;
    for (let i = 0; i < raw.length; i++) headers.push(raw[i].toString("latin1"));
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  onResponseEnd(): void {
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    this.resolve({ status: this.status, rawHeaders: this.rawHeaders, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.reject(error);
  }
}

/**
 * A buffered request through undici's pool (new statements). `headers`: a flat [name, value, …]
 * list without Host (appended here) and without hop-by-hop headers or Expect (undici refuses them; the
 * body is complete). Fails with the socket's error code (ECONNREFUSED…) when connecting fails,
 * UND_ERR_SOCKET when the connection closes under the request, UND_ERR_HEADERS_TIMEOUT or
 * UND_ERR_BODY_TIMEOUT after `timeoutMs` without progress.
 */
export function submitRequest(
  backend: string,
  method: Dispatcher.HttpMethod,
  path: string,
  headers: string[],
  body: Buffer | undefined,
  timeoutMs: number,
): Promise<BackendResponse> {
  headers.push("host", backendAddress(backend).host);
  return new Promise((resolve, reject) => {
    try {
      submitAgent.dispatch(
        {
          origin: backend,
          path,
          method,
          headers,
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        new BufferedAnswer(resolve, reject),
      );
    } catch (error) {
      reject(error as Error); // an argument undici refuses (a header value it will not write)
    }
  });
}

/** Whether a request carries a body (only new statements do; follow-ups are GET, HEAD or DELETE). */
export function hasBody(req: http.IncomingMessage): boolean {
  return (
    req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0")
  );
}

/** Header value from a raw header list (first occurrence, case-insensitive). */
export function rawHeader(rawHeaders: string[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === lower) return rawHeaders[i + 1];
  return undefined;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never passed on; so are a
// proxy's credentials and challenge (§11.7: for the proxy they are addressed to, here the gateway).
export const hopByHop: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authorization",
  "proxy-authenticate",
]);

/**
 * The other header names a message's Connection header lists (RFC 9110 §7.6.1: hop-by-hop as well,
 * not passed on), lower case; undefined when it lists none (the usual `keep-alive` or `close`).
 */
export function connectionOptions(connection: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (connection === undefined) return undefined;
  const text = (Array.isArray(connection) ? connection.join(",") : connection).toLowerCase();
  if (text === "keep-alive" || text === "close") return undefined;
  const names = new Set<string>();
  for (const part of text.split(",")) {
    const name = part.trim();
    if (name && !hopByHop.has(name)) names.add(name);
  }
  return names.size > 0 ? names : undefined;
}
// Buffered relays also set their own framing and Host.
const notRelayed = new Set([...hopByHop, "content-length", "host"]);

/** A copy of request headers without the `dropped` ones and those the Connection header lists (hop-by-hop too). */
function headersWithout(headers: http.IncomingHttpHeaders, dropped: (name: string) => boolean): http.OutgoingHttpHeaders {
  const listed = connectionOptions(headers.connection);
  const out: http.OutgoingHttpHeaders = {};
  for (const name in headers) if (headers[name] !== undefined && !dropped(name) && !listed?.has(name)) out[name] = headers[name];
  return out;
}

function rawHeadersWithout(rawHeaders: string[], dropped: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (!dropped.has(rawHeaders[i].toLowerCase())) kept.push(rawHeaders[i], rawHeaders[i + 1]);
  return kept;
}

/** Request headers to pass on unchanged but for the hop-by-hop ones (a worker forwarding to another, workers.ts). */
export function withoutHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return headersWithout(headers, (name) => hopByHop.has(name));
}

/** A raw [name, value, …] response header list for a streamed relay (repeated headers kept, in order). */
export function withoutHopByHopRaw(rawHeaders: string[]): string[] {
  return rawHeadersWithout(rawHeaders, hopByHop);
}

/** Whether a (lower-case) request header goes on in a buffered relay: not framing, Host, nor a forwarding header, which the gateway sets. */
export function isForwardable(name: string): boolean {
  return !notRelayed.has(name) && !isForwardingHeader(name);
}

/** Request headers to pass on in a buffered relay (isForwardable). */
export function forwardableHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return headersWithout(headers, (name) => !isForwardable(name));
}

/** Writes a buffered backend answer: its headers (repeated ones kept) with our own framing, then the body. */
export function writeBufferedAnswer(target: http.ServerResponse, answer: BackendResponse): void {
  const headers = rawHeadersWithout(answer.rawHeaders, notRelayed);
  headers.push("content-length", String(answer.body.length));
  target.writeHead(answer.status, headers);
  target.end(answer.body);
}
