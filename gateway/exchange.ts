// One client request on its way through the gateway: what each step reads (the checked request
// target, the trusted forwarding view) and what the steps learned (principal, target, the runtime
// the request is counted against).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Principal } from "./auth.ts";
import type { ForwardedView } from "./forwarded.ts";
import type { RequestTarget } from "./request-target.ts";
import type { Target } from "./route-table.ts";

/** new: POST /v1/statement; followup: a request naming a query id; other: probes, /v1/info, the UI… */
export type RequestKind = "new" | "followup" | "other";

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The checked, canonical request target (request-target.ts). */
  request: RequestTarget;
  kind: RequestKind;
  forwarded: ForwardedView;
  /** "namespace/name" the request is counted against in metrics (or why it has none: "unrouted", "-"…). */
  runtime: string;
  /** Set exactly when authentication is on and the request passed it. */
  principal: Principal | undefined;
  /** The runtime or pool selected for a new statement or another request (not for follow-ups). */
  target: Target | undefined;
  /** Backend fixed by a transaction (X-Trino-Transaction-Id) instead of route selection. */
  transactionBackend: string | undefined;
  /** The backend the request is relayed to, once chosen. */
  backend: string | undefined;
}

export function requestKind(request: RequestTarget): RequestKind {
  return request.kind === "new" ? "new" : request.queryId ? "followup" : "other";
}

export function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A request header's (first) value. */
export function requestHeader(x: Exchange, name: string): string | undefined {
  return firstValue(x.req.headers[name]);
}
