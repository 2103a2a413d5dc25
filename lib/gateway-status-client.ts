// One reader of the gateway's operator status (GET /xtrinode/v1/status, schemas/gateway-status.schema.json),
// for the processes that show it: the lifecycle API's console view (apiserver/gateway-status.ts) and
// `xtrinode status` (status/sources.ts). Bounded: a timeout, a size cap enforced while reading (a chunked
// answer without Content-Length included), no redirects. Each caller words the problems for its readers.
import { gatewayStatusPath, type GatewayStatus } from "../gateway/status.ts";
import { validateAgainstSchema } from "../schemas/validate.ts";

export type GatewayStatusRead =
  | { ok: true; status: GatewayStatus }
  /** unreachable: no answer (cause says why); refused: 401/403 (the admin token); http: another non-200 status; too-large; not-a-status: not a valid document. */
  | { ok: false; problem: "unreachable" | "refused" | "http" | "too-large" | "not-a-status"; httpStatus?: number; cause?: string };

/** The status URL of the gateway whose base URL is `gatewayUrl` (throws TypeError when it is not a URL). */
export function gatewayStatusUrl(gatewayUrl: string): URL {
  return new URL(gatewayStatusPath, gatewayUrl.endsWith("/") ? gatewayUrl : `${gatewayUrl}/`);
}

export async function readGatewayStatus(
  url: URL,
  options: { token?: string; timeoutMs: number; maxBytes: number },
): Promise<GatewayStatusRead> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "error",
    });
  } catch (error) {
    return { ok: false, problem: "unreachable", cause: (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message };
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return { ok: false, problem: response.status === 401 || response.status === 403 ? "refused" : "http", httpStatus: response.status };
  }
  const text = await readBounded(response, options.maxBytes);
  if (text === undefined) return { ok: false, problem: "too-large" };
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { ok: false, problem: "not-a-status" };
  }
  if (validateAgainstSchema("GatewayStatus", document).length > 0) return { ok: false, problem: "not-a-status" };
  return { ok: true, status: document as GatewayStatus };
}

/** The body as text, or undefined once it exceeds maxBytes (reading stops there). */
async function readBounded(response: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += chunk.byteLength;
    if (total > maxBytes) return undefined; // leaving the loop cancels the body
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
