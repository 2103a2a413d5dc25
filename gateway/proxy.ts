// The gateway's one streaming relay (follow-ups and other requests to a backend). Measured in
// bench/gateway (bench/RESULTS.md): node:http streaming took about half the CPU per follow-up of the
// http-proxy and http-proxy-3 libraries (which also join repeated headers such as
// X-Trino-Set-Session into one), and undici's dispatcher less again than node:http's client, so the
// relay is undici's Agent with a handler object per request. Relayed requests carry no body
// (handler.ts refuses a body on anything but a new statement, which is submitted buffered:
// submit-statement.ts).
//
// Per request: the request headers are built in one pass over the incoming ones, the response
// headers in one pass over the backend's; connections to backends are pooled and kept alive; an
// answer of up to `bufferedAnswerBytes` goes to the client in one socket write (status line,
// headers and body) instead of one write for the head and one per chunk.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent, type Dispatcher } from "undici";
import { backendAddress, connectionOptions, hopByHop } from "./backend-http.ts";
import { appendForwardedHeaders, isForwardingHeader, type ForwardedView } from "./forwarded.ts";
import { backendTag, transactionHeader, untagTransactionHeader } from "./transactions.ts";

/** What the relay tells its caller. One hooks object serves every request (no closures per request). */
export interface RelayHooks<C> {
  /**
   * The backend answered (before anything is written to the client). `contentEncoding` as the
   * backend sent it. Returns what should see the body as it passes, or undefined.
   */
  onResponse(context: C, status: number, contentEncoding: string | undefined): BodyObserver | undefined;
  /**
   * The request failed. `answered`: the backend had answered (the relay then closes the client's
   * connection itself: a client retries a poll cut so); otherwise the hook answers the client.
   */
  onError(context: C, error: Error, answered: boolean): void;
}

export interface BodyObserver {
  push(chunk: Buffer): void;
  end(): void;
}

export interface ProxyEngine {
  relay<C>(req: IncomingMessage, res: ServerResponse, backend: string, forwarded: ForwardedView, hooks: RelayHooks<C>, context: C): void;
  /** Closes the pooled connections. */
  close(): void;
}

/** Answers up to this size are collected and written in one go; larger ones stream from there on. */
export const bufferedAnswerBytes = 64 * 1024;

const startedTransactionHeader = "x-trino-started-transaction-id";

/**
 * What the response pass does with a header, by its name as received: the lower-casing is done once
 * per distinct spelling, not once per header and request (backends send the same few names).
 */
type ResponseHeaderRole = "drop" | "keep" | "transaction" | "encoding" | "length";
const responseHeaderRoles = new Map<string, ResponseHeaderRole>();
function responseHeaderRole(name: string): ResponseHeaderRole {
  let role = responseHeaderRoles.get(name);
  if (role === undefined) {
    const lower = name.toLowerCase();
    role = hopByHop.has(lower)
      ? "drop"
      : lower === startedTransactionHeader
        ? "transaction"
        : lower === "content-encoding"
          ? "encoding"
          : lower === "content-length"
            ? "length"
            : "keep";
    if (responseHeaderRoles.size >= 1000) responseHeaderRoles.clear(); // names come from trusted backends: a bound, not a policy
    responseHeaderRoles.set(name, role);
  }
  return role;
}

/**
 * The request headers for the backend, in one pass over the incoming ones (their names are lower
 * case: Node's parsed headers, after authentication consumed the credentials): hop-by-hop (also those the Connection header lists), Host,
 * Expect (a relayed request has no body) and every forwarding header dropped, the transaction id untagged, then Host and the gateway's own
 * X-Forwarded-For/Proto/Host. A flat [name, value, …] list, which undici writes as it is.
 */
export function relayRequestHeaders(headers: IncomingMessage["headers"], host: string, forwarded: ForwardedView): string[] {
  const out: string[] = [];
  const listed = connectionOptions(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === "host" || name === "expect" || hopByHop.has(name) || isForwardingHeader(name) || listed?.has(name))
      continue;
    if (name === transactionHeader) {
      const untagged = { [transactionHeader]: value };
      untagTransactionHeader(untagged);
      out.push(name, untagged[transactionHeader] as string);
    } else if (typeof value === "string") out.push(name, value);
    else for (const each of value) out.push(name, each);
  }
  out.push("host", host);
  appendForwardedHeaders(out, forwarded);
  return out;
}

/** One relayed request: undici calls its methods as the request goes (its state lives here, no closures). */
class Relay<C> implements Dispatcher.DispatchHandler {
  readonly res: ServerResponse;
  readonly backend: string;
  readonly hooks: RelayHooks<C>;
  readonly context: C;
  controller: Dispatcher.DispatchController | undefined = undefined;
  observer: BodyObserver | undefined = undefined;
  status = 0;
  answered = false;
  headers: string[] = [];
  /** Collected answer chunks while the answer is small enough to write at once; undefined once streaming. */
  collected: Buffer[] | undefined = [];
  collectedBytes = 0;
  hasLength = false;
  settled = false;

  constructor(res: ServerResponse, backend: string, hooks: RelayHooks<C>, context: C) {
    this.res = res;
    this.backend = backend;
    this.hooks = hooks;
    this.context = context;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    this.answered = true;
    this.status = statusCode;
    // The raw list keeps repeated headers (X-Trino-Set-Session…) apart and in order.
    const raw = controller.rawHeaders as Buffer[];
    const headers = this.headers;
    let encoding: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString("latin1");
      const value = raw[i + 1].toString("latin1");
      switch (responseHeaderRole(name)) {
        case "drop":
          continue;
        case "transaction":
          headers.push(name, `${value}.${backendTag(this.backend)}`);
          continue;
        case "encoding":
          encoding ??= value;
          break;
        case "length":
          this.hasLength = true;
          break;
      }
      headers.push(name, value);
    }
    this.observer = this.hooks.onResponse(this.context, statusCode, encoding);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.observer?.push(chunk);
    const collected = this.collected;
    if (collected) {
      collected.push(chunk);
      this.collectedBytes += chunk.length;
      if (this.collectedBytes <= bufferedAnswerBytes) return;
      // Too large to hold: stream from here on (the head and what was collected go out together).
      this.collected = undefined;
      this.res.writeHead(this.status, this.headers);
      this.res.cork();
      for (const piece of collected) this.res.write(piece);
      this.res.uncork();
    } else if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.settled = true;
    this.observer?.end();
    const collected = this.collected;
    if (!collected) {
      this.res.end();
      return;
    }
    const body = collected.length === 1 ? collected[0] : Buffer.concat(collected, this.collectedBytes);
    // The backend may have sent the answer chunked: it is now whole, so it goes out with its length.
    if (!this.hasLength && body.length > 0) this.headers.push("content-length", String(body.length));
    this.res.writeHead(this.status, this.headers);
    this.res.end(body);
  }

  /** Reported once, and never after the client itself went away (that is no backend failure). */
  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.hooks.onError(this.context, error, this.answered);
    if (this.answered) this.res.destroy(error);
  }

  /** The client went away before the answer was complete: stop the backend request too. */
  onClientClose(): void {
    if (this.res.writableFinished || this.settled) return;
    this.settled = true;
    this.controller?.abort(new Error("the client went away"));
  }
}

/** `timeoutMs`: no answer (or no progress) from the backend for this long fails the request. */
export function createProxyEngine(timeoutMs: number): ProxyEngine {
  const agent = new Agent({ connections: 256, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return {
    relay(req, res, backend, forwarded, hooks, context) {
      const relay = new Relay(res, backend, hooks, context);
      res.once("close", () => relay.onClientClose());
      const headers = relayRequestHeaders(req.headers, backendAddress(backend).host, forwarded);
      agent.dispatch({ origin: backend, path: req.url!, method: req.method as Dispatcher.HttpMethod, headers }, relay);
    },
    close() {
      void agent.close();
    },
  };
}
