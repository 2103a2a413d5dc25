// XTrinode status as a pure function of what the reconcile found: phase, route state, conditions
// (metav1.Condition-shaped, lastTransitionTime kept while a condition's status does not change)
// and observedGeneration.
import type { Condition, XTrinodeStatus } from "../schemas/generated/types.ts";
import type { Phase } from "./lifecycle-decisions.ts";
import type { RouteState } from "./routes.ts";

export type ConditionType = "Ready" | "Progressing" | "CatalogsResolved" | "SecretsResolved" | "NodePoolReady" | "RoutePublished";

export interface ConditionInput {
  type: ConditionType;
  status: Condition["status"];
  reason: string;
  message: string;
}

export const conditionOrder: ConditionType[] = [
  "Ready",
  "Progressing",
  "CatalogsResolved",
  "SecretsResolved",
  "NodePoolReady",
  "RoutePublished",
];

export function mergeConditions(
  previous: Condition[] | undefined,
  next: ConditionInput[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  const sorted = [...next].sort((a, b) => conditionOrder.indexOf(a.type) - conditionOrder.indexOf(b.type));
  return sorted.map((condition) => {
    const before = previous?.find((p) => p.type === condition.type);
    const lastTransitionTime =
      before && before.status === condition.status && before.lastTransitionTime ? before.lastTransitionTime : now.toISOString();
    return { ...condition, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  });
}

export interface StatusInput {
  previous: XTrinodeStatus | undefined;
  generation: number | undefined;
  now: Date;
  phase: Phase;
  routeState?: RouteState;
  message?: string;
  conditions: ConditionInput[];
  catalogs?: string[];
  workers?: number;
  suspendedAt?: string;
  lastActivityTime?: string;
  configChecksum?: string;
}

export function buildStatus(input: StatusInput): XTrinodeStatus {
  const { previous, now } = input;
  const becameReady = input.phase === "Ready" && previous?.phase !== "Ready";
  const suspending = input.phase === "Suspending" || input.phase === "Suspended";
  const status: XTrinodeStatus = {
    phase: input.phase,
    routeState: input.routeState ?? previous?.routeState,
    observedGeneration: input.generation,
    workers: input.workers ?? previous?.workers,
    message: input.message,
    conditions: mergeConditions(previous?.conditions, input.conditions, input.generation, now),
    catalogs: input.catalogs ?? previous?.catalogs,
    // readySince survives a suspension: with resume-requested-at it anchors the idle rule.
    readySince: becameReady ? now.toISOString() : previous?.readySince,
    lastActivityTime: input.lastActivityTime ?? previous?.lastActivityTime,
    suspendedAt: suspending ? (input.suspendedAt ?? previous?.suspendedAt) : undefined,
    configChecksum: input.configChecksum ?? previous?.configChecksum,
  };
  return dropUndefined(status);
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Same status for the purpose of deciding a write (conditions compare without their timestamps). */
export function sameStatus(a: XTrinodeStatus | undefined, b: XTrinodeStatus): boolean {
  return JSON.stringify(comparable(a ?? {})) === JSON.stringify(comparable(b));
}

function comparable(status: XTrinodeStatus): unknown {
  const conditions = (status.conditions ?? []).map(({ lastTransitionTime: _t, ...rest }) => sortKeys(rest));
  return sortKeys({ ...dropUndefined(status), conditions });
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}
