// Submitting a new statement to a backend (buffered: the first answer is small and its query id
// names the owning coordinator), learning ownership and in-flight state from that answer.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { RouteEntry } from "../schemas/generated/types.ts";
import { connectionOptions, isForwardable, submitRequest, writeBufferedAnswer, type BackendResponse } from "./backend-http.ts";
import { isUnhealthyStatus } from "./breaker.ts";
import type { GatewayCore, SubmitServices } from "./core.ts";
import { appendForwardedHeaders, type ForwardedView } from "./forwarded.ts";
import { coordinatorIdOf } from "./query-id.ts";
import { routeKey } from "./route-table.ts";
import type { QueryOwner } from "./sticky.ts";
import { tagStartedTransactionRaw } from "./transactions.ts";

const submitTimeoutMs = 120_000;

/** Trino writes the query id first in every QueryResults document (compact JSON). */
const idFirst = Buffer.from('{"id":"', "latin1");
/** The nextUri key with a string value: unescaped quotes cannot occur inside a JSON string, so this is a key. */
const nextUriMember = Buffer.from('"nextUri":"', "latin1");
const quote = 0x22;
const closingBrace = 0x7d;

/**
 * The query id of a statement answer and whether it carries a nextUri. Trino's compact answer
 * (`{"id":"…",…}`) is read from its bytes without decoding or building the document: the id is
 * checked to be a query id, and nextUri looked for as a key (as the follow-up relay does); anything
 * else is parsed as JSON. Undefined when the answer is no QueryResults document.
 *
 * The id is copied out of the bytes on its own: a slice of the decoded text would keep the whole
 * answer alive for as long as the id is tracked (V8 keeps substrings as views of their parent),
 * ~0.5 KiB per in-flight query.
 */
export function statementAnswerOf(body: Buffer): { id: string; running: boolean } | undefined {
  if (
    body.length > idFirst.length &&
    body[body.length - 1] === closingBrace &&
    body.compare(idFirst, 0, idFirst.length, 0, idFirst.length) === 0
  ) {
    const idEnd = body.indexOf(quote, idFirst.length);
    const id = body.toString("latin1", idFirst.length, idEnd < 0 ? idFirst.length : idEnd);
    const at = body.indexOf(nextUriMember);
    if (coordinatorIdOf(id)) return { id, running: at >= 0 && body[at + nextUriMember.length] !== quote };
  }
  try {
    const results = JSON.parse(body.toString("utf8")) as { id?: unknown; nextUri?: unknown } | null;
    if (!results || typeof results.id !== "string" || !results.id) return undefined;
    return { id: results.id, running: Boolean(results.nextUri) };
  } catch {
    return undefined; // not a QueryResults document: passed on untouched
  }
}

/**
 * Learns query ownership and in-flight state from a backend's statement response; tags a started
 * transaction with the backend. `runtimeKey` is routeKey(runtime), passed in because the caller
 * has it already (one string less per statement). `owner` is recorded only when given (authentication on: follow-ups
 * are then checked against it; without authentication nobody reads it).
 */
export function learnFromStatementResponse(
  core: Pick<GatewayCore, "activity" | "inFlight" | "owners" | "sticky">,
  backend: string,
  runtime: RouteEntry,
  runtimeKey: string,
  response: BackendResponse,
  owner: QueryOwner | undefined,
): void {
  tagStartedTransactionRaw(response.rawHeaders, backend);
  if (response.status !== 200) return;
  const answer = statementAnswerOf(response.body);
  if (!answer) return;
  core.sticky.learnQuery(answer.id, backend);
  if (owner) core.owners.record(answer.id, owner);
  if (answer.running) core.inFlight.running(answer.id, runtimeKey, backend);
  core.activity.seen(runtime.namespace, runtime.name);
}

/**
 * Errors of the connection, not of Trino: the statement may go to another member. The socket's own
 * codes, and undici's for a connection closed under the request (its ECONNRESET/EPIPE) or one that
 * never connected.
 */
const connectionErrorCodes: ReadonlySet<string | undefined> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function isConnectionError(error: unknown): boolean {
  return connectionErrorCodes.has((error as NodeJS.ErrnoException).code);
}

/** Client headers a statement never carries on: its encoding and Expect (the gateway has the whole body). */
const notSubmitted: ReadonlySet<string> = new Set(["accept-encoding", "expect"]);

/**
 * A statement's request headers as undici takes them ([name, value, …]), in one pass over the
 * client's (lower-case) headers: the forwardable ones (isForwardable) but its Accept-Encoding and
 * Expect, then the gateway's X-Forwarded-For/Proto/Host, Accept-Encoding identity and the body's length.
 */
export function statementHeaders(headers: OutgoingHttpHeaders, forwarded: ForwardedView, length: number): string[] {
  const out: string[] = [];
  const listed = connectionOptions(headers.connection as string | string[] | undefined);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !isForwardable(name) || notSubmitted.has(name) || listed?.has(name)) continue;
    if (Array.isArray(value)) for (const each of value) out.push(name, each);
    else out.push(name, String(value));
  }
  appendForwardedHeaders(out, forwarded);
  out.push("accept-encoding", "identity", "content-length", String(length));
  return out;
}

export type SubmitOutcome = { ok: true; response: BackendResponse } | { ok: false; retryable: boolean; message: string };

/** POSTs a statement to a backend and reads its (small) first answer; records the backend's health. */
export async function sendStatement(
  core: Pick<GatewayCore, "backends">,
  forwarded: ForwardedView,
  route: RouteEntry,
  body: Buffer,
  headers: OutgoingHttpHeaders,
): Promise<SubmitOutcome> {
  let response: BackendResponse;
  try {
    // accept-encoding identity: the gateway reads this answer (the query id tells the owning
    // coordinator); real Trino gzips it when the client accepts gzip (the JDBC driver, the CLI,
    // Python requests and trino-client all do). The first answer is small.
    response = await submitRequest(
      route.backend,
      "POST",
      "/v1/statement",
      statementHeaders(headers, forwarded, body.length),
      body,
      submitTimeoutMs,
    );
  } catch (error) {
    core.backends.recordFailure(route.backend, (error as Error).message);
    return {
      ok: false,
      retryable: isConnectionError(error),
      message: `${routeKey(route)} (${route.backend}) unreachable: ${(error as Error).message}`,
    };
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
  core: SubmitServices,
  res: ServerResponse,
  forwarded: ForwardedView,
  route: RouteEntry,
  runtimeKey: string,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  owner: QueryOwner | undefined,
): Promise<SubmitOutcome> {
  const outcome = await sendStatement(core, forwarded, route, body, headers);
  if (!outcome.ok) return outcome;
  learnFromStatementResponse(core, route.backend, route, runtimeKey, outcome.response, owner);
  writeBufferedAnswer(res, outcome.response);
  return outcome;
}
