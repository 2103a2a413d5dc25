// Submitting a held statement once its runtime runs: in the background of the polls that wait for
// it, following the query while it has not run and submitting it again when a just-started Trino
// fails it with NO_NODES_AVAILABLE; then handing it over (or ending it with the reason it failed).
import type { OutgoingHttpHeaders } from "node:http";
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { backendRequest, type BackendResponse } from "../backend-http.ts";
import type { HeldSubmitServices } from "../core.ts";
import { forwardedHeaders, type ForwardedView } from "../forwarded.ts";
import { routeKey } from "../route-table.ts";
import { learnFromStatementResponse, sendStatement, type SubmitOutcome } from "../submit-statement.ts";
import type { QueryOwner } from "../sticky.ts";
import { tagStartedTransactionRaw } from "../transactions.ts";
import { gatewayErrors } from "../trino-protocol.ts";
import type { HeldQuery } from "./queries.ts";

/** Trino query states after which a query makes no more progress. */
const doneStates = new Set(["FINISHED", "FAILED"]);
/** How long the gateway follows one submission of a held statement before handing over the page it reached. */
const heldFollowMaxMs = 15_000;
/**
 * A held statement the coordinator fails with NO_NODES_AVAILABLE (it never ran) is submitted again
 * this long after, at most heldSubmitMaxAttempts times in all (and never past held.maxAgeMs):
 * Trino memoises its node map for ~5 s after start (trinodb/trino issue 2214).
 */
export const heldResubmitDelayMs = 1000;
export const heldSubmitMaxAttempts = 30;

interface PageView {
  id?: string;
  nextUri?: string;
  columns?: unknown;
  data?: unknown;
  stats?: { state?: string };
  error?: { errorName?: string; message?: string };
}

/** A backend answer as a QueryResults page; undefined when it is not one. */
function pageOf(response: BackendResponse): PageView | undefined {
  if (response.status !== 200) return undefined;
  try {
    const page = JSON.parse(response.body.toString("utf8")) as unknown;
    return typeof page === "object" && page !== null ? (page as PageView) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A page the gateway may follow itself: the query goes on and the page carries no rows and no error,
 * so a client that never sees it loses nothing (Trino repeats the columns on every later page). This
 * includes RUNNING pages: a real Trino 476 reports RUNNING, with columns, before its scheduler meets
 * the empty node map ("nodes is empty").
 */
function followable(page: PageView | undefined): page is PageView & { nextUri: string } {
  return (
    !!page &&
    typeof page.nextUri === "string" &&
    page.data === undefined &&
    page.error === undefined &&
    !doneStates.has(page.stats?.state ?? "")
  );
}

/**
 * Follows a just-submitted query on its backend while it has produced nothing yet (GETs of its nextUri
 * path, as the client would), for at most heldFollowMaxMs; answers the last page reached. A
 * follow-up that fails leaves the last page: the client follows it itself and sees the error.
 */
async function followWhileNothingProduced(backend: string, first: BackendResponse, headers: OutgoingHttpHeaders): Promise<BackendResponse> {
  const deadline = Date.now() + heldFollowMaxMs;
  let reached = first;
  for (let page = pageOf(first); followable(page) && Date.now() < deadline; page = pageOf(reached)) {
    let path: string;
    try {
      const url = new URL(page.nextUri);
      path = url.pathname + url.search;
    } catch {
      return reached;
    }
    try {
      const next = await backendRequest(backend, "GET", path, headers, undefined, Math.max(1000, deadline - Date.now()));
      if (next.status !== 200) return reached;
      reached = next;
    } catch {
      return reached;
    }
  }
  return reached;
}

/**
 * Whether a query failed because the coordinator's scheduler knew no nodes yet: NO_NODES_AVAILABLE,
 * or the same race met while partitioning (Trino 476's NodePartitioningManager and
 * FixedSourcePartitionedScheduler: GENERIC_INTERNAL_ERROR "nodes is empty", seen with tpch tables).
 */
function isNoNodesFailure(response: BackendResponse): boolean {
  const page = pageOf(response);
  if (page?.stats?.state !== "FAILED") return false;
  return (
    page.error?.errorName === "NO_NODES_AVAILABLE" ||
    (page.error?.errorName === "GENERIC_INTERNAL_ERROR" && page.error.message === "nodes is empty")
  );
}

/**
 * Submits a held statement (nobody has seen it run): follows the query while it produced nothing, and
 * submits it again, heldResubmitDelayMs later, while the coordinator fails it with
 * NO_NODES_AVAILABLE (a query that never ran; a start-up race of Trino). Answers the page reached:
 * one carrying rows is handed over as it is, so no row is lost.
 */
async function submitHeldWithRetries(
  core: HeldSubmitServices,
  forwarded: ForwardedView,
  route: RouteEntry,
  held: HeldQuery,
  headers: OutgoingHttpHeaders,
  owner: QueryOwner,
): Promise<SubmitOutcome> {
  const { "content-type": _contentType, ...pollHeaders } = headers;
  const followHeaders = { ...pollHeaders, ...forwardedHeaders(forwarded), "accept-encoding": "identity" };
  for (let attempt = 1; ; attempt++) {
    const sent = await sendStatement(core, forwarded, route, held.body, headers);
    if (!sent.ok) return sent;
    const reached = await followWhileNothingProduced(route.backend, sent.response, followHeaders);
    const again =
      isNoNodesFailure(reached) &&
      attempt < heldSubmitMaxAttempts &&
      core.held.holds(held) &&
      Date.now() - held.createdAtMs < core.settings.held.maxAgeMs;
    if (!again) {
      learnFromStatementResponse(core, route.backend, route, routeKey(route), sent.response, owner);
      if (reached !== sent.response) {
        tagStartedTransactionRaw(reached.rawHeaders, route.backend);
        const page = pageOf(reached);
        if (page?.id && !page.nextUri) core.inFlight.finished(page.id);
      }
      return { ok: true, response: reached };
    }
    core.metrics.heldResubmissions.inc({ namespace: route.namespace, runtime: route.name });
    core.logger.info(
      { event: "held-resubmitted", runtime: routeKey(route), queryId: held.id, failedQueryId: pageOf(reached)?.id, attempt },
      "held statement failed with NO_NODES_AVAILABLE before it ran; submitting it again",
    );
    await new Promise((resolve) => setTimeout(resolve, heldResubmitDelayMs));
  }
}

/**
 * Runs a held statement's submission (in the background of the polls that wait for it): hands it
 * over (later polls of its nextUri get the page reached) or ends it with the reason it failed.
 */
export async function submitHeld(
  core: HeldSubmitServices,
  forwarded: ForwardedView,
  route: RouteEntry,
  held: HeldQuery,
  headers: OutgoingHttpHeaders,
  owner: QueryOwner,
): Promise<void> {
  let outcome: SubmitOutcome;
  try {
    outcome = await submitHeldWithRetries(core, forwarded, route, held, headers, owner);
  } catch (error) {
    outcome = { ok: false, retryable: false, message: `${routeKey(route)} (${route.backend}): ${(error as Error).message}` };
  }
  if (!outcome.ok) {
    core.held.end(held, {
      kind: gatewayErrors.backendUnreachable,
      message: `XTrinode runtime ${held.namespace}/${held.name} resumed but ${outcome.message}`,
    });
    return;
  }
  if (!core.held.holds(held)) {
    // Cancelled while it was being submitted: nobody will follow the query, so it is cancelled too.
    const nextUri = pageOf(outcome.response)?.nextUri;
    if (nextUri) void cancelOnBackend(route.backend, nextUri, headers);
    return;
  }
  core.held.handOver(held, outcome.response);
}

/** Best-effort DELETE of a query's nextUri on its backend (as a client cancels it). */
async function cancelOnBackend(backend: string, nextUri: string, headers: OutgoingHttpHeaders): Promise<void> {
  try {
    const url = new URL(nextUri);
    const { "content-type": _contentType, ...deleteHeaders } = headers;
    await backendRequest(backend, "DELETE", url.pathname + url.search, deleteHeaders, undefined, 10_000);
  } catch {
    // The coordinator forgets an abandoned query by itself.
  }
}
