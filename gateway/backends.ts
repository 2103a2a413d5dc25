// Per-backend state: active health (/v1/info, starting=false), and the passive-ejection breaker.
// Backends are keyed by their base URL from the routes.
import type { Logger } from "../lib/logger.ts";
import { admitNewQuery, advanceBreaker, breakerAllows, closedBreaker, recordFailure, recordSuccess, type BreakerState } from "./breaker.ts";
import { backendRequest } from "./backend-http.ts";
import type { GatewaySettings } from "./config.ts";

export type HealthState = "unknown" | "healthy" | "starting" | "unhealthy";

export interface BackendState {
  url: string;
  health: HealthState;
  failedProbes: number;
  breaker: BreakerState;
  probing?: Promise<void>;
  /** Bumped when the health is reset (sync): a probe started before a reset changes nothing when it ends. */
  epoch: number;
}

export class Backends {
  private readonly states = new Map<string, BackendState>();
  private readonly settings: GatewaySettings["health"];
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly listeners: Array<() => void> = [];
  /** Backends of RUNNING routes at the last sync (a route turning RUNNING resets its backend's health). */
  private runningBefore = new Set<string>();

  constructor(settings: GatewaySettings["health"], logger: Logger) {
    this.settings = settings;
    this.logger = logger;
  }

  /** Called whenever a backend's health or breaker changes (wakes held queries). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  state(url: string): BackendState {
    let state = this.states.get(url);
    if (!state) {
      state = { url, health: "unknown", failedProbes: 0, breaker: closedBreaker, epoch: 0 };
      this.states.set(url, state);
    }
    return state;
  }

  all(): BackendState[] {
    return [...this.states.values()];
  }

  /**
   * Keeps state for the backends of the given routes only, and probes new ones at once. A backend
   * whose route has just turned RUNNING has its failed probes forgotten and is probed at once (a
   * probe still in flight from before no longer counts); if it was unhealthy it is usable again
   * ("unknown") meanwhile. Probes that failed while its runtime was paused or starting say nothing
   * about the coordinator the operator now reports ready, and must not turn its first statements
   * away until the next probe round. The breaker is kept (it judges the coordinator's answers, not
   * its absence); "starting" too (the coordinator said so itself: statements are held for it).
   */
  sync(routes: ReadonlyArray<{ backend: string; state: string }>): void {
    const wanted = new Set(routes.map((route) => route.backend));
    for (const url of this.states.keys()) if (!wanted.has(url)) this.states.delete(url);
    const running = new Set(routes.filter((route) => route.state === "RUNNING").map((route) => route.backend));
    for (const url of running) {
      const state = this.states.get(url);
      if (!state || this.runningBefore.has(url) || state.health === "starting") continue;
      if (state.health === "unhealthy") state.health = "unknown";
      state.failedProbes = 0;
      state.epoch++;
      state.probing = undefined;
      void this.probe(state);
    }
    this.runningBefore = running;
    for (const url of wanted) if (!this.states.has(url)) void this.probe(this.state(url));
  }

  /** Healthy (or not yet probed) and the breaker admits new queries. */
  usable(url: string, nowMs = Date.now()): boolean {
    const state = this.state(url);
    return (state.health === "healthy" || state.health === "unknown") && breakerAllows(state.breaker, nowMs);
  }

  /** Ready for a held statement: a probe has confirmed it (not merely "unknown"). */
  confirmedHealthy(url: string, nowMs = Date.now()): boolean {
    const state = this.state(url);
    return state.health === "healthy" && breakerAllows(state.breaker, nowMs);
  }

  /** Takes the breaker's half-open trial slot if it is the one being admitted. */
  admit(url: string, nowMs = Date.now()): boolean {
    const state = this.state(url);
    const { admitted, state: next } = admitNewQuery(state.breaker, nowMs);
    state.breaker = next;
    return admitted;
  }

  recordSuccess(url: string): void {
    const state = this.state(url);
    if (state.breaker.phase !== "closed") {
      this.logger.info({ event: "backend-breaker-closed", backend: url }, "backend recovered");
      state.breaker = recordSuccess(state.breaker);
      this.changed();
    }
  }

  /**
   * A follow-up's answer that says nothing bad about the backend: resets the count of consecutive
   * failures of a closed breaker, but never closes an open one (a client's cheap answered junk
   * must not re-admit a backend ejected for 503s: that is the half-open trial's or a probe's job).
   */
  recordAnswer(url: string): void {
    const state = this.state(url);
    if (state.breaker.phase === "closed" && state.breaker.consecutiveFailures > 0) state.breaker = recordSuccess(state.breaker);
  }

  recordFailure(url: string, reason: string, nowMs = Date.now()): void {
    const state = this.state(url);
    const before = state.breaker.phase;
    state.breaker = recordFailure(state.breaker, nowMs, this.settings);
    if (state.breaker.phase === "open" && before !== "open") {
      this.logger.warn(
        {
          event: "backend-ejected",
          backend: url,
          reason,
          ejections: state.breaker.ejections,
          openForMs: state.breaker.openUntilMs - nowMs,
        },
        "backend ejected",
      );
      this.schedule();
      this.changed();
    }
  }

  /** Probes /v1/info once (concurrent callers share the probe). */
  probe(state: BackendState): Promise<void> {
    if (!state.probing) {
      const probing = this.runProbe(state).finally(() => {
        if (state.probing === probing) state.probing = undefined; // not one started after a reset
      });
      state.probing = probing;
    }
    return state.probing;
  }

  private async runProbe(state: BackendState): Promise<void> {
    const epoch = state.epoch;
    const before = `${state.health}/${state.breaker.phase}`;
    let ok = false;
    let starting = false;
    try {
      const response = await backendRequest(
        state.url,
        "GET",
        "/v1/info",
        { accept: "application/json" },
        undefined,
        this.settings.timeoutMs,
      );
      if (response.status === 200) {
        starting = (JSON.parse(response.body.toString("utf8")) as { starting?: boolean }).starting === true;
        ok = !starting;
      }
    } catch {
      ok = false;
    }
    if (!this.states.has(state.url) || state.epoch !== epoch) return;
    if (ok) {
      state.failedProbes = 0;
      state.health = "healthy";
      if (state.breaker.phase === "half-open") state.breaker = recordSuccess(state.breaker);
    } else {
      state.failedProbes++;
      // A coordinator saying starting=true is "starting"; otherwise only N consecutive failed probes
      // mark it unhealthy (one slow probe on a busy node must not turn a resuming runtime away).
      if (starting) state.health = "starting";
      else if (state.failedProbes >= this.settings.failureThreshold) state.health = "unhealthy";
      if (state.breaker.phase === "half-open") state.breaker = recordFailure(state.breaker, Date.now(), this.settings);
    }
    const after = `${state.health}/${state.breaker.phase}`;
    if (after !== before) {
      this.logger.info(
        { event: "backend-health", backend: state.url, health: state.health, breaker: state.breaker.phase },
        "backend health changed",
      );
      this.changed();
    }
  }

  /** One round: probe every backend; an ejected backend whose back-off elapsed gets its half-open probe. */
  tick(nowMs = Date.now()): Promise<void> {
    const probes: Array<Promise<void>> = [];
    for (const state of this.states.values()) {
      state.breaker = advanceBreaker(state.breaker, nowMs);
      probes.push(this.probe(state));
    }
    return Promise.all(probes).then(() => undefined);
  }

  start(): void {
    this.running = true;
    void this.tick().finally(() => this.schedule());
  }

  /** Next round after the interval, or when the earliest back-off ends (for its half-open probe). */
  private schedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => void this.tick().finally(() => this.schedule()),
      Math.min(this.settings.intervalMs, this.nextBackoffEndMs()),
    );
    this.timer.unref();
  }

  private nextBackoffEndMs(): number {
    const now = Date.now();
    let soonest = Infinity;
    for (const state of this.states.values())
      if (state.breaker.phase === "open") soonest = Math.min(soonest, Math.max(10, state.breaker.openUntilMs - now));
    return soonest;
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }
}
