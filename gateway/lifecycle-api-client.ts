// The gateway's side of the lifecycle API (docs/CONTRACTS.md): resume calls, at most one in flight
// per runtime and repeated only after Retry-After, and throttled activity reports.
import type { Logger } from "../lib/logger.ts";

export interface LifecycleApi {
  resume(namespace: string, name: string): Promise<{ state: string; retryAfterSeconds: number }>;
  activity(namespace: string, name: string, at: Date): Promise<void>;
}

export function httpLifecycleApi(baseUrl: string, token: () => string | undefined, timeoutMs = 5000): LifecycleApi {
  const call = async (path: string, body: unknown) => {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    const bearer = token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    return fetch(new URL(path, baseUrl), { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  };
  const runtimePath = (namespace: string, name: string, verb: string) =>
    `/v1/runtimes/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${verb}`;
  return {
    async resume(namespace, name) {
      const response = await call(runtimePath(namespace, name, "resume"), {});
      const text = await response.text();
      if (response.status !== 200 && response.status !== 202) {
        let message = text.slice(0, 300);
        try {
          message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
        } catch {
          // not JSON: keep the text
        }
        throw new Error(`lifecycle API resume ${namespace}/${name}: HTTP ${response.status}: ${message}`);
      }
      const body = (text ? JSON.parse(text) : {}) as { state?: string; retryAfterSeconds?: number };
      const header = Number(response.headers.get("retry-after"));
      return {
        state: body.state ?? (response.status === 200 ? "RUNNING" : "RESUMING"),
        retryAfterSeconds: body.retryAfterSeconds ?? (Number.isFinite(header) && header > 0 ? header : 5),
      };
    },
    async activity(namespace, name, at) {
      const response = await call(runtimePath(namespace, name, "activity"), { at: at.toISOString() });
      await response.arrayBuffer();
      if (response.status >= 300) throw new Error(`lifecycle API activity ${namespace}/${name}: HTTP ${response.status}`);
    },
  };
}

interface ResumeState {
  inFlight: boolean;
  notBeforeMs: number;
  /** The lifecycle API accepted a resume (answered RESUMING or RUNNING) since the runtime last ran. */
  accepted: boolean;
  lastError?: string;
}

/** One resume call per runtime at a time; the next only after the previous Retry-After. */
export class ResumeCoordinator {
  private readonly states = new Map<string, ResumeState>();
  private readonly api: LifecycleApi | undefined;
  private readonly logger: Logger;
  private readonly onCall: (runtime: string, outcome: string) => void;

  constructor(api: LifecycleApi | undefined, logger: Logger, onCall: (runtime: string, outcome: string) => void = () => undefined) {
    this.api = api;
    this.logger = logger;
    this.onCall = onCall;
  }

  lastError(namespace: string, name: string): string | undefined {
    return this.states.get(`${namespace}/${name}`)?.lastError;
  }

  /**
   * Asks for a resume unless one is in flight or its Retry-After has not passed. Once a resume was
   * accepted, a route in RESUMING shows the operator at work: only a route still PAUSED after
   * Retry-After (the intent did not take) is asked again.
   */
  ensureResuming(namespace: string, name: string, routeState: string, nowMs = Date.now()): void {
    const key = `${namespace}/${name}`;
    const state = this.states.get(key) ?? { inFlight: false, notBeforeMs: 0, accepted: false };
    this.states.set(key, state);
    if (!this.api || state.inFlight || nowMs < state.notBeforeMs) return;
    if (state.accepted && routeState === "RESUMING") return;
    state.inFlight = true;
    this.api
      .resume(namespace, name)
      .then(
        (result) => {
          state.lastError = undefined;
          state.accepted = true;
          state.notBeforeMs = Date.now() + Math.max(1, result.retryAfterSeconds) * 1000;
          this.onCall(key, result.state);
          this.logger.info(
            { event: "resume-requested", runtime: key, state: result.state, retryAfterSeconds: result.retryAfterSeconds },
            "asked the lifecycle API to resume",
          );
        },
        (error: Error) => {
          state.lastError = error.message;
          state.notBeforeMs = Date.now() + 2000;
          this.onCall(key, "error");
          this.logger.warn({ event: "resume-failed", runtime: key, err: error.message }, "resume call failed; retrying in 2 s");
        },
      )
      .finally(() => {
        state.inFlight = false;
      });
  }

  /** Forgets runtimes that are running again, so a later pause resumes at once. */
  settled(namespace: string, name: string): void {
    this.states.delete(`${namespace}/${name}`);
  }
}

/** Reports activity per runtime at most every `intervalMs` while queries flow. */
export class ActivityReporter {
  private readonly lastSentMs = new Map<string, number>();
  private readonly api: LifecycleApi | undefined;
  private readonly intervalMs: number;
  private readonly logger: Logger;

  constructor(api: LifecycleApi | undefined, intervalMs: number, logger: Logger) {
    this.api = api;
    this.intervalMs = intervalMs;
    this.logger = logger;
  }

  seen(namespace: string, name: string, nowMs = Date.now()): void {
    this.seenRuntime(`${namespace}/${name}`, nowMs);
  }

  /** `seen` for a "namespace/name" key (a follow-up's runtime; anything else, e.g. a backend URL, is no runtime). */
  seenRuntime(key: string, nowMs = Date.now()): void {
    if (!this.api) return;
    const last = this.lastSentMs.get(key);
    if (last !== undefined && nowMs - last < this.intervalMs) return;
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (slash < 0 || !name || name.includes("/")) return;
    this.lastSentMs.set(key, nowMs);
    this.api.activity(namespace, name, new Date(nowMs)).catch((error: Error) => {
      this.logger.warn({ event: "activity-report-failed", runtime: key, err: error.message }, "activity report failed");
    });
  }
}
