// HTTP from chosen loopback source addresses (127.0.0.0/8 is all local on Linux): a gateway sees
// distinct client addresses without trusting any X-Forwarded-For. Used by the security tests and
// bench/gateway-auth.
import http from "node:http";

export interface LoopbackAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface LoopbackRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Source address, e.g. 127.0.0.2 (default: the kernel's choice, 127.0.0.1). */
  from?: string;
  /** The request target sent exactly as given (dot-segments, encodings, absolute-form), instead of the URL's path. */
  target?: string;
  timeoutMs?: number;
}

/** One request on a fresh connection; rejects on a connection error or after timeoutMs (default 20 s). */
export function loopbackRequest(url: string, options: LoopbackRequest = {}): Promise<LoopbackAnswer> {
  return new Promise((resolve, reject) => {
    // A URL would be normalised (dot-segments resolved): a raw target goes in `path` instead.
    const parsed = new URL(url);
    const path = options.target ?? `${parsed.pathname}${parsed.search}`;
    const request = http.request(
      {
        hostname: parsed.hostname,
        port: parsed.port,
        path,
        method: options.method ?? "GET",
        headers: options.headers,
        localAddress: options.from,
        agent: false,
        timeout: options.timeoutMs ?? 20_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${options.method ?? "GET"} ${url} timed out`)));
    request.on("error", reject);
    request.end(options.body);
  });
}

export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A Basic-authenticated new statement for `runtime` ("namespace/name") from `from`. */
export function postStatement(
  gatewayUrl: string,
  runtime: string,
  authorization: string | undefined,
  from?: string,
  sql = "SELECT 1",
): Promise<LoopbackAnswer> {
  const headers: Record<string, string> = { "x-trino-xtrinode": runtime };
  if (authorization) headers.authorization = authorization;
  return loopbackRequest(`${gatewayUrl}/v1/statement`, { method: "POST", headers, body: sql, from });
}
