// Follow-ups of statements the gateway holds (or held): cancels, polls answered QUEUED while the
// runtime resumes, the hand-over of the real query's first page, and how an ended statement ended.
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { failedRouteMessage } from "../backend-choice.ts";
import { writeBufferedAnswer } from "../backend-http.ts";
import type { GatewayCore, HeldFollowUpServices } from "../core.ts";
import { firstValue, requestHeader, type Exchange } from "../exchange.ts";
import { answerFailedPoll, baseUrl, writeJson, writeNoContent, writeTrinoError } from "../answers.ts";
import { gatewayErrors, queuedQueryResults, type TrinoErrorKind } from "../trino-protocol.ts";
import { adoptHeldTicket } from "./hold.ts";
import type { HeldEnding, HeldQuery } from "./queries.ts";
import { submitHeld } from "./submit.ts";

const heldSlugInPath = /^\/v1\/statement\/queued\/[^/]+\/([^/]+)\//;
/** The last segment of a held nextUri: its token, then `~<ms, base 36>` while a replica submits it. */
const heldTokenInPath = /\/(\d+)(?:~([0-9a-z]{1,11}))?$/;
/**
 * How long a "submitting" mark in a held nextUri keeps other replicas from submitting the statement
 * too. The replica that submits refreshes the mark on every poll that reaches it; polls spread
 * over replicas without affinity reach it again long before this, unless it is gone.
 */
const heldSubmittingMarkFreshMs = 15_000;

/** The "submitting" mark a held poll carries (when some replica answered it while submitting). */
function submittingMarkOf(path: string): number | undefined {
  const mark = heldTokenInPath.exec(path)?.[2];
  const ms = mark === undefined ? NaN : parseInt(mark, 36);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

const cancelled = (queryId: string) => ({ kind: gatewayErrors.queryCancelled, message: `query ${queryId} was cancelled` });

/**
 * Follow-ups of statements the gateway holds (or held). A held statement is known by its id AND the
 * slug of its nextUri, which only its client has: ids are guessable. `/v1/query/{id}` carries no
 * slug, so it tells nothing about held statements. With authentication on, only the principal
 * that submitted a held statement may poll it, cancel it, or be shown its first page after the
 * hand-over (and only while it may still use the runtime).
 */
export async function followUpOfHeld(core: HeldFollowUpServices, x: Exchange): Promise<void> {
  const queryId = x.request.queryId!;
  const principal = x.principal;
  const mayFollow = (submitter: string, runtime: string) =>
    !principal || (principal.name === submitter && core.auth.mayUse(principal, runtime));
  const denied = (runtime: string) =>
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.accessDenied,
      `access denied: query ${queryId} on ${runtime} was submitted by another principal`,
      403,
    );
  if (x.request.kind === "query") {
    if (x.req.method === "DELETE") {
      // trino-js cancel(): like Trino's kill of one's own query, it cancels what this principal
      // (without authentication: this X-Trino-User) holds under that id.
      const user = requestHeader(x, "x-trino-user");
      for (const held of core.held.withId(queryId)) {
        const own = principal
          ? held.principal === principal.name
          : user !== undefined && firstValue(held.headers["x-trino-user"] as string | string[] | undefined) === user;
        if (own) core.held.end(held, cancelled(queryId));
      }
      writeNoContent(x.res);
      return;
    }
    writeJson(x.res, 404, {
      error: {
        code: "QUERY_NOT_FOUND",
        message: `query ${queryId} is not a Trino query yet (held by the gateway while its runtime resumes): poll or cancel it through its nextUri`,
      },
    });
    return;
  }
  const slug = heldSlugInPath.exec(x.request.path)?.[1];
  let held = slug ? core.held.get(queryId, slug) : undefined;
  if (held) {
    x.runtime = `${held.namespace}/${held.name}`;
    if (!mayFollow(held.principal, x.runtime)) return denied(x.runtime);
  }
  if (x.req.method === "DELETE") {
    if (held) core.held.end(held, cancelled(queryId));
    writeNoContent(x.res); // as Trino answers a DELETE of its nextUri, also for what is gone already
    return;
  }
  if (answerFailedPoll(core, x.res, x.forwarded, queryId, x.request.path, requestHeader(x, "x-trino-user") ?? "")) return;
  if (!held && slug) {
    // A repeated hand-over poll (the client retried): the same first page again, not a second run.
    const handed = core.held.handedOver(queryId, slug);
    if (handed) {
      x.runtime = handed.runtime;
      if (!mayFollow(handed.principal, handed.runtime)) return denied(handed.runtime);
      writeBufferedAnswer(x.res, handed.answer);
      return;
    }
    const ending = core.held.ending(queryId, slug);
    if (ending) {
      writeTrinoError(core, x.res, x.forwarded, ending.kind, ending.message);
      return;
    }
    const adopted = adoptHeldTicket(core, x, queryId, slug);
    if (adopted === "refused") return;
    held = adopted;
  }
  if (!held) {
    writeTrinoError(
      core,
      x.res,
      x.forwarded,
      gatewayErrors.queryNotFound,
      `query ${queryId} is no longer held by this gateway (cancelled, abandoned, expired, or held by another gateway replica that shares no XTRINODE_GATEWAY_TICKET_KEY with this one); run it again`,
    );
    return;
  }
  await pollHeld(core, x, held);
}

type HeldReadiness =
  { status: "ready"; route: RouteEntry } | { status: "waiting" } | { status: "failed"; kind: TrinoErrorKind; message: string };

function heldReadiness(core: Pick<GatewayCore, "backends" | "resume" | "routes">, namespace: string, name: string): HeldReadiness {
  const route = core.routes.table.byKey.get(`${namespace}/${name}`);
  if (!route || route.state === "REMOVED")
    return {
      status: "failed",
      kind: gatewayErrors.runtimeRemoved,
      message: `XTrinode runtime ${namespace}/${name} was removed while the statement waited for it`,
    };
  if (route.state === "FAILED") return { status: "failed", kind: gatewayErrors.resumeFailed, message: failedRouteMessage(route) };
  if (route.state !== "RUNNING") {
    core.resume.ensureResuming(namespace, name, route.state);
    return { status: "waiting" };
  }
  core.resume.settled(namespace, name);
  if (core.backends.confirmedHealthy(route.backend)) return { status: "ready", route };
  void core.backends.probe(core.backends.state(route.backend));
  return { status: "waiting" };
}

/**
 * QUEUED again, with the held nextUri's next token (the client polls it, as it would Trino's queued
 * URI), carrying `submittingMark` (ms) when a replica is submitting the statement.
 */
function answerStillQueued(x: Exchange, held: HeldQuery, submittingMark?: number): void {
  const base = baseUrl(x.forwarded);
  const token = Number(heldTokenInPath.exec(x.request.path)?.[1] ?? "0") + 1;
  const mark = submittingMark === undefined ? "" : `~${submittingMark.toString(36)}`;
  const nextUri = `${base}/v1/statement/queued/${held.id}/${held.slug}/${token}${mark}`;
  writeJson(x.res, 200, queuedQueryResults(held.id, `${base}/ui/query.html?${held.id}`, nextUri));
}

/** Answers a poll of a held statement: QUEUED again, a failure, or the real query's first page. */
async function pollHeld(core: HeldFollowUpServices, x: Exchange, held: HeldQuery): Promise<void> {
  const { req, res, forwarded } = x;
  held.lastPollMs = Date.now();
  const deadline = Date.now() + core.settings.held.pollWaitMs;
  let readiness = heldReadiness(core, held.namespace, held.name);
  while (readiness.status === "waiting" && Date.now() < deadline && core.held.holds(held)) {
    await Promise.race([
      core.nextChange(),
      new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now())))),
    ]);
    readiness = heldReadiness(core, held.namespace, held.name);
  }
  if (!core.held.holds(held)) {
    const ending = core.held.ending(held.id, held.slug);
    writeTrinoError(
      core,
      res,
      forwarded,
      ending?.kind ?? gatewayErrors.queryCancelled,
      ending?.message ?? `query ${held.id} was cancelled`,
    );
    return;
  }
  if (readiness.status === "failed") {
    endHeld(core, x, held, { kind: readiness.kind, message: readiness.message });
    return;
  }
  if (readiness.status === "waiting") {
    if (Date.now() - held.createdAtMs > core.settings.held.maxAgeMs) {
      const lastError = core.resume.lastError(held.namespace, held.name);
      endHeld(core, x, held, {
        kind: gatewayErrors.resumeTimeout,
        message: `XTrinode runtime ${held.namespace}/${held.name} did not resume within ${Math.round(core.settings.held.maxAgeMs / 1000)} s${lastError ? ` (last resume error: ${lastError})` : ""}`,
      });
      return;
    }
    answerStillQueued(x, held);
    return;
  }
  // Ready: the first poll to get here starts the submission; it and any later poll wait for it
  // within held.pollWaitMs, then get the page reached, or QUEUED again (the same held nextUri,
  // marked "submitting", so that another replica the next poll reaches does not submit it too).
  const otherSubmitting = submittingMarkOf(x.request.path);
  const markFresh = otherSubmitting !== undefined && Math.abs(Date.now() - otherSubmitting) < heldSubmittingMarkFreshMs;
  // A mark never defers past held.maxAgeMs: clients write their nextUris, so a made-up mark must not hold a slot for long.
  if (!held.submission && markFresh && Date.now() - held.createdAtMs < core.settings.held.maxAgeMs) {
    // Another replica (without affinity, polls alternate) submits it: wait, then QUEUED with its mark.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())));
    answerStillQueued(x, held, otherSubmitting);
    return;
  }
  if (!held.submission) {
    // Credentials of the poll (an adopted ticket carries none; a token may have been refreshed).
    const credentials = req.headers.authorization ? { authorization: req.headers.authorization } : {};
    const user = held.headers["x-trino-user"];
    held.submission = submitHeld(
      core,
      forwarded,
      readiness.route,
      held,
      { ...held.headers, ...credentials },
      { user: typeof user === "string" ? user : "", principal: held.principal },
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const submitted = await Promise.race([
    held.submission.then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())))),
  ]);
  clearTimeout(timer);
  if (!submitted) {
    answerStillQueued(x, held, Date.now());
    return;
  }
  const handed = core.held.handedOver(held.id, held.slug);
  if (handed) {
    writeBufferedAnswer(res, handed.answer);
    return;
  }
  const ending = core.held.ending(held.id, held.slug);
  writeTrinoError(core, res, forwarded, ending?.kind ?? gatewayErrors.queryCancelled, ending?.message ?? `query ${held.id} was cancelled`);
}

/** Ends a held statement and tells this poll how (later polls of its nextUri are told the same). */
function endHeld(core: Pick<GatewayCore, "held" | "newHeldId">, x: Exchange, held: HeldQuery, ending: HeldEnding): void {
  core.held.end(held, ending);
  writeTrinoError(core, x.res, x.forwarded, ending.kind, ending.message);
}
