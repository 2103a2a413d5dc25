// The gateway's own answers to clients: JSON, 204, Trino errors (a FAILED QueryResults), plain-text
// refusals, and failures of new statements (QUEUED first, FAILED on the first poll) with the poll
// that shows them.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { GatewayCore } from "./core.ts";
import type { ForwardedView } from "./forwarded.ts";
import { failedQueryResults, gatewayErrors, queuedQueryResults, type TrinoErrorKind } from "./trino-protocol.ts";

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
export function writeTrinoError(
  core: Pick<GatewayCore, "newHeldId">,
  res: ServerResponse,
  forwarded: ForwardedView,
  kind: TrinoErrorKind,
  message: string,
  status = 200,
  headers: OutgoingHttpHeaders = {},
): void {
  const id = core.newHeldId();
  writeJson(res, status, failedQueryResults(id, `${baseUrl(forwarded)}/ui/query.html?${id}`, kind, message), headers);
}

/**
 * Refuses a request before it is a query (no QueryResults): a plain-text "ERROR_NAME: message".
 * The Trino Java client (CLI, JDBC) shows the body of a non-200 answer only when it is not a
 * QueryResults document, and trino-js and the Python client show any body; so plain text is what
 * every client displays.
 */
export function writeRefusal(
  res: ServerResponse,
  status: number,
  kind: TrinoErrorKind,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
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
export function failNewStatement(
  core: Pick<GatewayCore, "newHeldId" | "tickets">,
  res: ServerResponse,
  forwarded: ForwardedView,
  kind: TrinoErrorKind,
  message: string,
  headers: OutgoingHttpHeaders = {},
  user = "",
): void {
  const id = core.newHeldId();
  const base = baseUrl(forwarded);
  const sealed = core.tickets.sealFailure({
    id,
    errorName: kind.errorName,
    message: message.slice(0, maxFailureMessageChars),
    user,
    createdAtMs: Date.now(),
  });
  writeJson(
    res,
    200,
    queuedQueryResults(id, `${base}/ui/query.html?${id}`, `${base}/v1/statement/queued/${id}/failed/${kind.errorName}~${sealed}`),
    headers,
  );
}

/** Longest failure message sealed into a nextUri (longer ones are cut). */
const maxFailureMessageChars = 1000;
const failedPollPath = /^\/v1\/statement\/queued\/[^/]+\/failed\/([A-Z_]+)(?:~([A-Za-z0-9._-]+))?$/;

/**
 * Answers the poll of a failNewStatement nextUri; false when the path is not one. Only the gateway's
 * own error kinds, and the sealed message only for the statement's own user (X-Trino-User) within
 * `held.maxAgeMs` on a replica holding the key; anyone else gets the error name and a fixed text.
 */
export function answerFailedPoll(
  core: Pick<GatewayCore, "settings" | "tickets">,
  res: ServerResponse,
  forwarded: ForwardedView,
  queryId: string,
  path: string,
  user: string,
): boolean {
  const match = failedPollPath.exec(path);
  if (!match) return false;
  const kind = Object.values(gatewayErrors).find((candidate) => candidate.errorName === match[1]) ?? gatewayErrors.queryNotFound;
  const sealed = match[2] ? core.tickets.openFailure(match[2]) : undefined;
  const readable =
    sealed &&
    sealed.id === queryId &&
    sealed.errorName === kind.errorName &&
    sealed.user === user &&
    Date.now() - sealed.createdAtMs <= core.settings.held.maxAgeMs;
  const message = readable
    ? sealed.message
    : `${kind.errorName}: the gateway refused statement ${queryId} (its message is shown only to the client that sent it, on a gateway replica sharing XTRINODE_GATEWAY_TICKET_KEY, within ${Math.round(core.settings.held.maxAgeMs / 1000)} s)`;
  writeJson(res, 200, failedQueryResults(queryId, `${baseUrl(forwarded)}/ui/query.html?${queryId}`, kind, message));
  return true;
}
