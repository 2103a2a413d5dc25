// Statement traffic at the HTTP edge: submitting new statements (buffered: the first response is
// small and tells which coordinator owns the query), holding them while a runtime resumes,
// answering polls of held statements, and streaming follow-ups to the owning backend.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { RouteEntry } from "../schemas/generated/types.ts";
import zlib from "node:zlib";
import { backendRequest, rawHeader, writeBufferedAnswer, type BackendResponse } from "./backend-http.ts";
import { tagStartedTransaction, tagStartedTransactionRaw, untagTransactionHeader } from "./transactions.ts";
import type { GatewayCore } from "./core.ts";
import { forwardedHeaders, replaceForwardingHeaders, type ForwardedView } from "./forwarded.ts";
import { failedQueryResults, gatewayErrors, queuedQueryResults, type TrinoErrorKind } from "./trino-protocol.ts";
import { routeKey } from "./route-table.ts";
import { isUnhealthyStatus } from "./breaker.ts";
import type { QueryOwner } from "./sticky.ts";
import { StatementBody } from "./statement-memory.ts";

const submitTimeoutMs = 120_000;

export function baseUrl(forwarded: ForwardedView): string {
  return `${forwarded.proto}://${forwarded.host}`;
}

/** 204 without a body (as Trino answers a DELETE). */
export function writeNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

export function writeJson(res: ServerResponse, status: number, doc: unknown, headers: OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(doc);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Answers with a FAILED QueryResults (HTTP 200 unless told otherwise: every client displays it). */
export function writeTrinoError(core: GatewayCore, res: ServerResponse, forwarded: ForwardedView, kind: TrinoErrorKind, message: string, status = 200, headers: OutgoingHttpHeaders = {}): void {
  const id = core.newHeldId();
  writeJson(res, status, failedQueryResults(id, `${baseUrl(forwarded)}/ui/query.html?${id}`, kind, message), headers);
}

/**
 * Refuses a request before it is a query (no QueryResults): a plain-text "ERROR_NAME: message".
 * The Trino Java client (CLI, JDBC) shows the body of a non-200 answer only when it is not a
 * QueryResults document, and trino-js and the Python client show any body; so plain text is what
 * every client displays.
 */
export function writeRefusal(res: ServerResponse, status: number, kind: TrinoErrorKind, message: string, headers: OutgoingHttpHeaders = {}): void {
  const body = `${kind.errorName}: ${message}\n`;
  res.writeHead(status, { ...headers, "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Answers a NEW statement with a gateway error the way Trino reports failures: QUEUED first, FAILED
 * on the first poll. trino-js never shows an error carried by the first response (its iterator
 * starts at nextUri), and every client shows a FAILED poll. The nextUri carries the error name in
 * clear (any replica answers the poll with that error) and the message sealed with the ticket key,
 * bound to the statement's X-Trino-User: a link from the gateway's own address never shows text
 * anyone but the gateway chose, nor one user's failure text to another (see answerFailedPoll).
 */
export function failNewStatement(core: GatewayCore, res: ServerResponse, forwarded: ForwardedView, kind: TrinoErrorKind, message: string, headers: OutgoingHttpHeaders = {}, user = ""): void {
  const id = core.newHeldId();
  const base = baseUrl(forwarded);
  const sealed = core.tickets.sealFailure({ id, errorName: kind.errorName, message: message.slice(0, maxFailureMessageChars), user, createdAtMs: Date.now() });
  writeJson(res, 200, queuedQueryResults(id, `${base}/ui/query.html?${id}`, `${base}/v1/statement/queued/${id}/failed/${kind.errorName}~${sealed}`), headers);
}

/** Longest failure message sealed into a nextUri (longer ones are cut). */
const maxFailureMessageChars = 1000;
const failedPollPath = /^\/v1\/statement\/queued\/[^/]+\/failed\/([A-Z_]+)(?:~([A-Za-z0-9._-]+))?$/;

/**
 * Answers the poll of a failNewStatement nextUri; false when the path is not one. Only the gateway's
 * own error kinds, and the sealed message only for the statement's own user (X-Trino-User) within
 * `held.maxAgeMs` on a replica holding the key; anyone else gets the error name and a fixed text.
 */
export function answerFailedPoll(core: GatewayCore, res: ServerResponse, forwarded: ForwardedView, queryId: string, path: string, user: string): boolean {
  const match = failedPollPath.exec(path);
  if (!match) return false;
  const kind = Object.values(gatewayErrors).find((candidate) => candidate.errorName === match[1]) ?? gatewayErrors.queryNotFound;
  const sealed = match[2] ? core.tickets.openFailure(match[2]) : undefined;
  const readable = sealed && sealed.id === queryId && sealed.errorName === kind.errorName && sealed.user === user && Date.now() - sealed.createdAtMs <= core.settings.held.maxAgeMs;
  const message = readable
    ? sealed.message
    : `${kind.errorName}: the gateway refused statement ${queryId} (its message is shown only to the client that sent it, on a gateway replica sharing XTRINODE_GATEWAY_TICKET_KEY, within ${Math.round(core.settings.held.maxAgeMs / 1000)} s)`;
  writeJson(res, 200, failedQueryResults(queryId, `${baseUrl(forwarded)}/ui/query.html?${queryId}`, kind, message));
  return true;
}

/** How much of a refused statement is still read (and dropped) so its client gets the answer. */
const maxDrainedBytes = (maxBytes: number) => 4 * maxBytes;

/**
 * Reads a new statement's body within the size limit (statements.maxBytes), the memory budget
 * (statements.memoryBudgetBytes, shared with held statements) and the body timeout
 * (statements.bodyTimeoutMs). On refusal it answers the client itself with a failed query the
 * client displays, and resolves undefined. After a refusal the rest of the body (up to maxBytes
 * more) is read and dropped, so a client that sends its whole body before reading the answer
 * still gets it (up to 4 × maxBytes, then the connection is closed); the body timeout cuts the connection of a client too slow to finish.
 */
export function readStatement(core: GatewayCore, req: IncomingMessage, res: ServerResponse, forwarded: ForwardedView): Promise<StatementBody | undefined> {
  const { maxBytes, bodyTimeoutMs } = core.settings.statements;
  const memory = core.statementMemory;
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    let settled = false;
    let discarded = 0;
    const settle = (body: StatementBody | undefined) => {
      if (settled) return;
      settled = true;
      if (!body) {
        memory.release("buffered", received);
        chunks = [];
      }
      resolve(body);
    };
    const refuse = (reason: "too-large" | "budget" | "timeout", kind: TrinoErrorKind, message: string) => {
      core.metrics.statementsRefused.inc({ reason });
      core.logger.info({ event: "statement-refused", reason, client: forwarded.client, receivedBytes: received }, "new statement refused while reading its body");
      refused = true;
      if (!res.headersSent) failNewStatement(core, res, forwarded, kind, message, reason === "timeout" ? { connection: "close" } : {});
      settle(undefined);
    };
    const timer = setTimeout(() => {
      if (!refused) refuse("timeout", gatewayErrors.statementTimeout, `the statement was not received within ${bodyTimeoutMs / 1000} s (statements.bodyTimeoutMs); the connection is closed`);
      // Whatever is still arriving is cut: the answer goes out first, then the connection closes.
      if (res.writableFinished) req.socket.destroy();
      else res.once("finish", () => req.socket.destroy());
    }, bodyTimeoutMs);
    const tooLarge = () => refuse("too-large", gatewayErrors.statementTooLarge, `the statement is larger than ${maxBytes} bytes (statements.maxBytes of the gateway)`);
    const declared = Number(req.headers["content-length"]);
    if (declared > maxBytes) {
      tooLarge();
      // Far too large to be worth reading to the end: the connection closes after the answer.
      if (declared > maxDrainedBytes(maxBytes)) res.once("finish", () => req.socket.destroy());
    }
    req.on("data", (chunk: Buffer) => {
      if (refused) {
        discarded += chunk.length;
        if (discarded > maxDrainedBytes(maxBytes)) req.socket.destroy();
        return;
      }
      if (received + chunk.length > maxBytes) return tooLarge();
      if (!memory.tryReserve("buffered", chunk.length)) {
        return refuse("budget", gatewayErrors.gatewayBusy, `this gateway replica's statement memory is in use (${memory.budgetBytes} bytes of statements being received or held, statements.memoryBudgetBytes); retry shortly`);
      }
      received += chunk.length;
      chunks.push(chunk);
    });
    req.on("end", () => {
      clearTimeout(timer);
      if (!refused) settle(new StatementBody(Buffer.concat(chunks, received), memory));
    });
    req.on("error", () => settle(undefined));
    req.on("close", () => {
      clearTimeout(timer);
      settle(undefined);
    });
  });
}

/** Learns query ownership and in-flight state from a backend's statement response; tags a started transaction with the backend. */
export function learnFromStatementResponse(core: GatewayCore, backend: string, runtime: RouteEntry, response: BackendResponse, owner: QueryOwner): void {
  tagStartedTransactionRaw(response.rawHeaders, backend);
  if (response.status !== 200) return;
  try {
    const results = JSON.parse(response.body.toString("utf8")) as { id?: string; nextUri?: string };
    if (!results.id) return;
    core.sticky.learnQuery(results.id, backend);
    core.owners.record(results.id, owner);
    if (results.nextUri) core.inFlight.running(results.id, routeKey(runtime), backend);
    core.activity.seen(runtime.namespace, runtime.name);
  } catch {
    // Not a QueryResults document: pass it on untouched.
  }
}

function isConnectionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EHOSTUNREACH" || code === "ENOTFOUND" || code === "EPIPE";
}

export type SubmitOutcome = { ok: true; response: BackendResponse } | { ok: false; retryable: boolean; message: string };

/** POSTs a statement to a backend and reads its (small) first answer; records the backend's health. */
export async function sendStatement(core: GatewayCore, forwarded: ForwardedView, route: RouteEntry, body: Buffer, headers: OutgoingHttpHeaders): Promise<SubmitOutcome> {
  let response: BackendResponse;
  try {
    // accept-encoding identity: the gateway reads this answer (the query id tells the owning
    // coordinator); real Trino gzips it when the client accepts gzip (the JDBC driver, the CLI,
    // Python requests and trino-client all do). The first answer is small.
    const submitted = { ...headers, ...forwardedHeaders(forwarded), "accept-encoding": "identity", "content-length": body.length };
    response = await backendRequest(route.backend, "POST", "/v1/statement", submitted, body, submitTimeoutMs);
  } catch (error) {
    core.backends.recordFailure(route.backend, (error as Error).message);
    return { ok: false, retryable: isConnectionError(error), message: `${routeKey(route)} (${route.backend}) unreachable: ${(error as Error).message}` };
  }
  if (isUnhealthyStatus(response.status)) core.backends.recordFailure(route.backend, `HTTP ${response.status}`);
  else core.backends.recordSuccess(route.backend);
  return { ok: true, response };
}

/**
 * Submits a statement to a backend and relays its answer. A connection failure is reported back
 * (retryable: nothing reached Trino) so the caller can try another pool member.
 */
export async function submitStatement(
  core: GatewayCore,
  res: ServerResponse,
  forwarded: ForwardedView,
  route: RouteEntry,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  owner: QueryOwner,
): Promise<SubmitOutcome> {
  const outcome = await sendStatement(core, forwarded, route, body, headers);
  if (!outcome.ok) return outcome;
  learnFromStatementResponse(core, route.backend, route, outcome.response, owner);
  writeBufferedAnswer(res, outcome.response);
  return outcome;
}

/** "namespace/name" a follow-up counts against: its tracked query's, else the first route served by `backend`. */
export function runtimeOfFollowUp(core: GatewayCore, queryId: string, backend: string): string {
  const tracked = core.inFlight.get(queryId);
  if (tracked) return tracked.runtime;
  const route = core.routes.table.routes.find((candidate) => candidate.backend === backend);
  return route ? routeKey(route) : backend;
}

const nextUriKey = Buffer.from('"nextUri"', "latin1");
/** Trino writes nextUri in the first few hundred bytes; a compressed page is decoded no further than this to find it. */
const maxDecodedScanBytes = 64 * 1024;

/**
 * Feeds a response body to a nextUri scanner, decoding it first when the backend compressed it
 * (real Trino gzips polls for clients that accept gzip). Decodes at most maxDecodedScanBytes and
 * stops as soon as nextUri is seen; `end` reports the verdict once the decoder has drained. A body
 * that cannot be decoded counts as running (the idle sweep removes it): never as finished on a guess.
 */
export function bodyScanner(contentEncoding: string | undefined): { push(chunk: Buffer): void; end(done: (running: boolean) => void): void } {
  const scanner = nextUriScanner();
  const encoding = contentEncoding?.trim().toLowerCase();
  if (!encoding || encoding === "identity") return { push: (chunk) => scanner.push(chunk), end: (done) => done(scanner.seen) };
  let decoder: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined;
  if (encoding === "gzip" || encoding === "x-gzip") decoder = zlib.createGunzip();
  else if (encoding === "deflate") decoder = zlib.createInflate();
  else if (encoding === "br") decoder = zlib.createBrotliDecompress();
  if (!decoder) return { push: () => undefined, end: (done) => done(true) };
  let decoded = 0;
  let stopped = false;
  let failed = false;
  const active = decoder;
  active.on("data", (chunk: Buffer) => {
    if (stopped) return;
    scanner.push(chunk);
    decoded += chunk.length;
    if (scanner.seen || decoded >= maxDecodedScanBytes) stopped = true;
  });
  active.on("error", () => (failed = true));
  return {
    push(chunk) {
      if (!stopped && !failed) active.write(chunk);
    },
    end(done) {
      if (stopped || failed) {
        active.destroy();
        done(scanner.seen || failed || decoded >= maxDecodedScanBytes);
        return;
      }
      active.once("end", () => done(scanner.seen));
      active.once("error", () => done(true));
      active.end();
    },
  };
}

/** Tells whether a streamed body contains the "nextUri" key, also when a chunk boundary splits it. */
export function nextUriScanner(): { push(chunk: Buffer): void; readonly seen: boolean } {
  let seen = false;
  let tail: Buffer | undefined;
  return {
    push(chunk) {
      if (seen) return;
      seen = chunk.includes(nextUriKey) || (tail !== undefined && Buffer.concat([tail, chunk.subarray(0, nextUriKey.length)]).includes(nextUriKey));
      tail = chunk.subarray(-nextUriKey.length);
    },
    get seen() {
      return seen;
    },
  };
}

/** Streams a follow-up to the backend owning the query; a connection failure becomes a Trino error. */
export function forwardFollowUp(core: GatewayCore, req: IncomingMessage, res: ServerResponse, forwarded: ForwardedView, queryId: string, backend: string, runtime: string, isPoll: boolean): void {
  replaceForwardingHeaders(req.headers, forwarded);
  untagTransactionHeader(req.headers);
  core.proxy.forward(req, res, backend, {
    onResponse(proxyRes) {
      if (isUnhealthyStatus(proxyRes.statusCode ?? 502)) core.backends.recordFailure(backend, `HTTP ${proxyRes.statusCode}`);
      else core.backends.recordAnswer(backend);
      tagStartedTransaction(proxyRes, backend);
      if (req.method === "DELETE") {
        core.inFlight.finished(queryId);
        return;
      }
      // Long queries keep their runtime awake: polls count as activity (throttled per runtime).
      const [namespace, name] = runtime.split("/");
      if (name) core.activity.seen(namespace, name);
      if (!isPoll || proxyRes.statusCode !== 200) return;
      // Trino writes nextUri before columns/data; scan until it is seen (the tail of each chunk is
      // kept so a key split across chunks is still found). No nextUri by the end: the query is done.
      const scanner = bodyScanner(rawHeader(proxyRes.rawHeaders, "content-encoding"));
      proxyRes.on("data", (chunk: Buffer) => scanner.push(chunk));
      proxyRes.on("end", () =>
        scanner.end((running) => {
          if (running) core.inFlight.running(queryId, runtime, backend);
          else core.inFlight.finished(queryId);
        }),
      );
    },
    onError(error) {
      core.backends.recordFailure(backend, error.message);
      core.logger.warn({ event: "followup-failed", queryId, backend, err: error.message }, "follow-up to the owning backend failed");
      core.inFlight.finished(queryId);
      if (res.headersSent) {
        res.destroy(error);
        return;
      }
      const message = `the Trino coordinator owning query ${queryId} (${backend}) is unreachable: ${error.message}`;
      if (isPoll) writeTrinoError(core, res, forwarded, gatewayErrors.backendUnreachable, message);
      else writeJson(res, 502, { error: { code: "BACKEND_UNREACHABLE", message } });
    },
  });
}
