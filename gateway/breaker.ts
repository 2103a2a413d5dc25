// Circuit breaker per backend (pure state machine) for passive outlier ejection:
// closed --N consecutive failures--> open (ejected for a back-off that doubles per ejection, capped)
// --back-off elapsed--> half-open (one trial request or probe) --success--> closed / --failure--> open.
// Failures are what says the backend is unhealthy: connection errors, timeouts, 502/503/504 answers
// and failed health probes; never an answer to one client's request (isUnhealthyStatus).
export type BreakerPhase = "closed" | "open" | "half-open";

export interface BreakerState {
  phase: BreakerPhase;
  consecutiveFailures: number;
  /** Ejections since the backend was last healthy; sets the next back-off. */
  ejections: number;
  openUntilMs: number;
  /** In half-open, whether the single trial is already out. */
  trialInFlight: boolean;
}

export interface BreakerSettings {
  failureThreshold: number;
  ejectionBaseMs: number;
  ejectionMaxMs: number;
}

/**
 * Whether a backend's HTTP answer says the backend itself is unhealthy: only 502/503/504. Any other
 * status (a 500 or 404 for a client's junk follow-up, a 400 for bad SQL) answers that client's
 * request and must not count towards ejection, or one client could eject a runtime for everyone.
 */
export function isUnhealthyStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

export const closedBreaker: BreakerState = { phase: "closed", consecutiveFailures: 0, ejections: 0, openUntilMs: 0, trialInFlight: false };

export function ejectionMs(ejections: number, settings: BreakerSettings): number {
  return Math.min(settings.ejectionMaxMs, settings.ejectionBaseMs * 2 ** Math.max(0, ejections - 1));
}

/** Moves an open breaker whose back-off has elapsed to half-open. */
export function advanceBreaker(state: BreakerState, nowMs: number): BreakerState {
  if (state.phase === "open" && nowMs >= state.openUntilMs) return { ...state, phase: "half-open", trialInFlight: false };
  return state;
}

/** Whether a new query may go to the backend now; in half-open, admitting one marks the trial out. */
export function admitNewQuery(state: BreakerState, nowMs: number): { admitted: boolean; state: BreakerState } {
  const current = advanceBreaker(state, nowMs);
  if (current.phase === "closed") return { admitted: true, state: current };
  if (current.phase === "half-open" && !current.trialInFlight) return { admitted: true, state: { ...current, trialInFlight: true } };
  return { admitted: false, state: current };
}

/** Whether the backend is currently usable for new queries (no side effect). */
export function breakerAllows(state: BreakerState, nowMs: number): boolean {
  const current = advanceBreaker(state, nowMs);
  return current.phase === "closed" || (current.phase === "half-open" && !current.trialInFlight);
}

export function recordSuccess(_state: BreakerState): BreakerState {
  return closedBreaker;
}

export function recordFailure(state: BreakerState, nowMs: number, settings: BreakerSettings): BreakerState {
  const current = advanceBreaker(state, nowMs);
  if (current.phase === "half-open") return open(current.ejections + 1, nowMs, settings);
  if (current.phase === "open") return current;
  const failures = current.consecutiveFailures + 1;
  if (failures >= settings.failureThreshold) return open(current.ejections + 1, nowMs, settings);
  return { ...current, consecutiveFailures: failures };
}

function open(ejections: number, nowMs: number, settings: BreakerSettings): BreakerState {
  return { phase: "open", consecutiveFailures: 0, ejections, openUntilMs: nowMs + ejectionMs(ejections, settings), trialInFlight: false };
}
