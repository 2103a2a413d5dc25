// The Trino query flow the gateway benchmarks send with autocannon: POST /v1/statement `SELECT 1`,
// then its nextUri twice (QUEUED → RUNNING → FINISHED against the Trino protocol test server),
// each request following the nextUri of the answer before (paths only: the flow stays on the
// target it started on).
// @ts-ignore autocannon ships no type declarations
import autocannon from "autocannon";

const NEXT_URI = /"nextUri":"([^"]+)"/;

/** Remembers the path of the nextUri in a response body for the next request of the flow. */
export function followNext(_status: number, body: string, context: Record<string, unknown>): void {
  const match = NEXT_URI.exec(body);
  context.next = match ? match[1].replace(/^https?:\/\/[^/]+/, "") : undefined;
}

/** The next request of the flow: a GET of the remembered nextUri (null restarts the flow, counted as a reset). */
export function nextRequest(request: any, context: Record<string, unknown>): any {
  if (typeof context.next !== "string") return null;
  return { ...request, method: "GET", path: context.next, body: undefined };
}

/** autocannon `requests` for one full flow (3 requests). */
export const flowRequests = [
  { method: "POST", path: "/v1/statement", body: "SELECT 1", onResponse: followNext },
  { setupRequest: nextRequest, onResponse: followNext },
  { setupRequest: nextRequest, onResponse: followNext },
];

/**
 * Sends exactly `amount` requests over `connections` keep-alive connections: full flows, or new
 * statements only (POSTs nobody follows); resolves with the 2xx count and the rest.
 */
export function sendAmount(
  url: string,
  amount: number,
  which: "flow" | "statement",
  connections: number,
): Promise<{ ok: number; problems: number }> {
  const requests = which === "statement" ? [{ method: "POST", path: "/v1/statement", body: "SELECT 1" }] : flowRequests;
  let ok = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url, connections, amount, headers: { "x-trino-user": "bench" }, requests },
      (error: Error | null, result: any) => {
        if (error) return reject(error);
        resolve({ ok, problems: result.errors + result.timeouts + result.non2xx + (result.resets ?? 0) });
      },
    );
    instance.on("response", (_client: unknown, status: number) => {
      if (status >= 200 && status < 300) ok++;
    });
  });
}
