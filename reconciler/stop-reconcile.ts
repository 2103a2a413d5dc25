// How a reconcile step reports a problem the user must fix (or the API server failed): it throws
// StopReconcile, and the reconcile writes phase Error with its reason and message (reconcile.ts).
import type { KubeObject } from "./apply-decision.ts";
import { describeError, httpStatus, isKindMissing, isRejected } from "./kube-client.ts";
import type { ConditionInput } from "./status.ts";

export class StopReconcile extends Error {
  readonly reason: string;
  readonly conditions: ConditionInput[];
  /** Retry with back-off after reporting (the server failed, it may succeed later); else wait for a change. */
  readonly retry: boolean;
  readonly cause: unknown;
  constructor(reason: string, message: string, conditions: ConditionInput[], options: { retry?: boolean; cause?: unknown } = {}) {
    super(message);
    this.reason = reason;
    this.conditions = conditions;
    this.retry = options.retry === true;
    this.cause = options.cause;
  }
}

/** Reasons of an apply the API server did not take: each is in status and one Warning Event. */
export const applyFailureReasons: ReadonlySet<string> = new Set(["ApplyRejected", "ApplyFailed"]);

/** Who serves the optional kinds a runtime may render. */
const missingKindHint: Record<string, string> = {
  ScaledObject: "KEDA, for spec.workers.mode keda",
  ServiceMonitor: "the Prometheus Operator, for spec.monitoring.serviceMonitor",
  MachineDeployment: "Cluster API, for spec.nodePool",
};

/**
 * A refusal by the API server (isRejected: 4xx) becomes StopReconcile ApplyRejected naming the
 * object and the server's message, retried when the runtime changes. Any other HTTP error (5xx, e.g.
 * 500 "failed to create typed patch object" for a value of the wrong type; 401, 429) and a kind the
 * server does not serve (KEDA or the Prometheus Operator not installed) are reported the same way as
 * ApplyFailed and then retried with back-off (they may pass). A 409 or a network error is rethrown.
 */
export function rethrowRejection(error: unknown, object: KubeObject, fix: string): never {
  const ref = `${object.kind} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata?.name}`;
  if (isRejected(error)) throw new StopReconcile("ApplyRejected", `the API server rejected ${ref}: ${describeError(error)}; ${fix}`, []);
  if (isKindMissing(error)) {
    const fixKind = `install its CustomResourceDefinition (${missingKindHint[object.kind ?? ""] ?? object.apiVersion}) or change the spec that renders it`;
    throw new StopReconcile(
      "ApplyFailed",
      `the API server does not serve ${object.apiVersion} ${object.kind}, needed for ${ref}; ${fixKind}; retried with back-off`,
      [],
      { retry: true, cause: error },
    );
  }
  const status = httpStatus(error);
  // 409 is an optimistic-concurrency race, retried at once by the queue; anything else the user should see.
  if (status !== undefined && status !== 409) {
    throw new StopReconcile(
      "ApplyFailed",
      `the API server failed to apply ${ref}: ${describeError(error)}; retried with back-off; if it persists, ${fix}`,
      [],
      { retry: true, cause: error },
    );
  }
  throw error;
}
