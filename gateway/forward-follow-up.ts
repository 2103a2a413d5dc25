// Streaming a follow-up (nextUri poll, cancel, query info) to the backend owning its query, and
// learning from the answer whether the query still runs (query pressure).
import zlib from "node:zlib";
import { isUnhealthyStatus } from "./breaker.ts";
import { writeJson, writeTrinoError } from "./answers.ts";
import type { GatewayCore, ForwardServices } from "./core.ts";
import type { Exchange } from "./exchange.ts";
import type { BodyObserver, RelayHooks } from "./proxy.ts";
import { routeKey } from "./route-table.ts";
import { gatewayErrors } from "./trino-protocol.ts";

/** "namespace/name" a follow-up counts against: its tracked query's, else the first route served by `backend`. */
export function runtimeOfFollowUp(core: Pick<GatewayCore, "inFlight" | "routes">, queryId: string, backend: string): string {
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
export function bodyScanner(contentEncoding: string | undefined): {
  push(chunk: Buffer): void;
  end(done: (running: boolean) => void): void;
} {
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
      seen =
        chunk.includes(nextUriKey) ||
        (tail !== undefined && Buffer.concat([tail, chunk.subarray(0, nextUriKey.length)]).includes(nextUriKey));
      tail = chunk.subarray(-nextUriKey.length);
    },
    get seen() {
      return seen;
    },
  };
}

/** A poll's answer as it passes: does it still carry a nextUri (the query runs on) or not (it is done)? */
class PollObserver implements BodyObserver {
  private readonly core: Pick<GatewayCore, "inFlight">;
  private readonly queryId: string;
  private readonly runtime: string;
  private readonly backend: string;
  private readonly scanner: ReturnType<typeof bodyScanner>;

  constructor(core: Pick<GatewayCore, "inFlight">, x: Exchange, backend: string, contentEncoding: string | undefined) {
    this.core = core;
    this.queryId = x.request.queryId!;
    this.runtime = x.runtime;
    this.backend = backend;
    this.scanner = bodyScanner(contentEncoding);
  }

  push(chunk: Buffer): void {
    this.scanner.push(chunk);
  }

  end(): void {
    this.scanner.end((running) => {
      if (running) this.core.inFlight.running(this.queryId, this.runtime, this.backend);
      else this.core.inFlight.finished(this.queryId);
    });
  }
}

/** What the relay reports for a follow-up (one object per gateway instance: see followUpHooks). */
function createFollowUpHooks(core: ForwardServices): RelayHooks<Exchange> {
  return {
    onResponse(x, status, contentEncoding) {
      const backend = x.backend!;
      if (isUnhealthyStatus(status)) core.backends.recordFailure(backend, `HTTP ${status}`);
      else core.backends.recordAnswer(backend);
      if (x.req.method === "DELETE") {
        core.inFlight.finished(x.request.queryId!);
        return undefined;
      }
      // Long queries keep their runtime awake: polls count as activity (throttled per runtime).
      core.activity.seenRuntime(x.runtime);
      // Trino writes nextUri before columns/data; the scan stops once it is seen (also when a chunk
      // boundary splits the key). No nextUri by the end: the query is done.
      return x.request.kind === "poll" && status === 200 ? new PollObserver(core, x, backend, contentEncoding) : undefined;
    },
    onError(x, error, answered) {
      const backend = x.backend!;
      const queryId = x.request.queryId!;
      core.backends.recordFailure(backend, error.message);
      core.logger.warn({ event: "followup-failed", queryId, backend, err: error.message }, "follow-up to the owning backend failed");
      core.inFlight.finished(queryId);
      if (answered) return; // the relay closes the connection: clients retry a poll cut so
      const message = `the Trino coordinator owning query ${queryId} (${backend}) is unreachable: ${error.message}`;
      if (x.request.kind === "poll") writeTrinoError(core, x.res, x.forwarded, gatewayErrors.backendUnreachable, message);
      else writeJson(x.res, 502, { error: { code: "BACKEND_UNREACHABLE", message } });
    },
  };
}

const followUpHooks = new WeakMap<ForwardServices, RelayHooks<Exchange>>();

/**
 * Streams a follow-up to `backend`, which owns its query, counted against `x.runtime`; a connection
 * failure becomes a Trino error.
 */
export function forwardFollowUp(core: ForwardServices, x: Exchange, backend: string): void {
  let hooks = followUpHooks.get(core);
  if (!hooks) followUpHooks.set(core, (hooks = createFollowUpHooks(core)));
  x.backend = backend;
  core.proxy.relay(x.req, x.res, backend, x.forwarded, hooks, x);
}
