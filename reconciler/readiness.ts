// Reading readiness from live objects: coordinator and worker Deployments, Cluster API node pools.
import type { KubeObject } from "./apply-decision.ts";
import type { ConditionInput } from "./status.ts";

const componentLabel = "app.kubernetes.io/component";

interface DeploymentView {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; replicas?: number; observedGeneration?: number };
}

function component(object: KubeObject): string | undefined {
  return object.metadata?.labels?.[componentLabel];
}

function readyReplicas(object: KubeObject): number {
  return (object as DeploymentView).status?.readyReplicas ?? 0;
}

export function coordinatorReady(deployments: KubeObject[]): boolean {
  const coordinator = deployments.find((d) => component(d) === "coordinator");
  if (!coordinator) return false;
  const { spec, status } = coordinator as DeploymentView;
  // A status from before the latest spec change says nothing about the new pods.
  if (
    status?.observedGeneration !== undefined &&
    coordinator.metadata?.generation !== undefined &&
    status.observedGeneration < coordinator.metadata.generation
  )
    return false;
  return (spec?.replicas ?? 1) > 0 && readyReplicas(coordinator) >= 1;
}

/** No Trino pod runs: every Deployment asks for zero replicas and none is ready. */
export function computeStopped(deployments: KubeObject[]): boolean {
  return deployments.every(
    (d) => (d as DeploymentView).spec?.replicas === 0 && readyReplicas(d) === 0 && ((d as DeploymentView).status?.replicas ?? 0) === 0,
  );
}

export function readyWorkers(deployments: KubeObject[]): number {
  return deployments.filter((d) => component(d) === "worker").reduce((sum, d) => sum + readyReplicas(d), 0);
}

export type NodePoolState = { state: "none" } | { state: "provisioning" | "ready" | "failed"; condition: ConditionInput };

/** Cluster API MachineDeployment: Ready when status.phase is Running, failed when Failed. */
export function nodePoolState(pools: KubeObject[]): NodePoolState {
  if (pools.length === 0) return { state: "none" };
  const views = pools.map((p) => ({
    name: p.metadata?.name,
    status: (p.status ?? {}) as { phase?: string; failureMessage?: string; failureReason?: string },
  }));
  const failed = views.find((v) => v.status.phase === "Failed");
  if (failed) {
    const message = `MachineDeployment ${failed.name}: ${failed.status.failureMessage ?? failed.status.failureReason ?? "provisioning failed"}`;
    return { state: "failed", condition: { type: "NodePoolReady", status: "False", reason: "ProvisioningFailed", message } };
  }
  const waiting = views.filter((v) => v.status.phase !== "Running");
  if (waiting.length) {
    return {
      state: "provisioning",
      condition: {
        type: "NodePoolReady",
        status: "False",
        reason: "Provisioning",
        message: `waiting for ${waiting.map((v) => `${v.name} (${v.status.phase ?? "no phase yet"})`).join(", ")}`,
      },
    };
  }
  return { state: "ready", condition: { type: "NodePoolReady", status: "True", reason: "Running", message: "node pool Running" } };
}

/** Some Deployment wants more ready pods than it has. */
export function awaitingPods(deployments: KubeObject[]): boolean {
  return deployments.some((d) => readyReplicas(d) < ((d as DeploymentView).spec?.replicas ?? 1));
}

/** Why a rollout will not finish by itself: the Deployment and, when known, its pods' reason. */
export interface RolloutStall {
  reason: string;
  message: string;
}

interface DeploymentProgressView {
  spec?: { progressDeadlineSeconds?: number; selector?: { matchLabels?: Record<string, string> } };
  status?: { observedGeneration?: number; conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }> };
}

const defaultProgressDeadlineSeconds = 600;

function objectName(object: KubeObject): string {
  return `${object.metadata?.namespace}/${object.metadata?.name}`;
}

/**
 * The first Deployment whose pods admission refuses (ReplicaFailure=True, e.g. FailedCreate: exceeded quota;
 * final until the quota or the spec changes, so no deadline is waited for) or that the Deployment controller
 * marked Progressing=False (ProgressDeadlineExceeded), for its current generation; or, when the controller cannot tell (a scale-up from zero is not a
 * rollout, so no deadline applies to it), one whose pods have not been ready for longer than its
 * progressDeadlineSeconds since `waitingSinceMs`.
 */
export function stalledDeployment(
  deployments: KubeObject[],
  waitingSinceMs: number | undefined,
  nowMs: number,
): { deployment: KubeObject; stall: RolloutStall } | undefined {
  for (const deployment of deployments) {
    const { status } = deployment as DeploymentProgressView;
    const current =
      status?.observedGeneration === undefined ||
      deployment.metadata?.generation === undefined ||
      status.observedGeneration >= deployment.metadata.generation;
    const refused = status?.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
    if (current && refused) {
      return {
        deployment,
        stall: {
          reason: refused.reason ?? "FailedCreate",
          message: `Deployment ${objectName(deployment)}: ${refused.message ?? refused.reason ?? "pods refused"}`,
        },
      };
    }
    const progressing = status?.conditions?.find((c) => c.type === "Progressing");
    if (current && progressing?.status === "False") {
      return {
        deployment,
        stall: {
          reason: progressing.reason ?? "ProgressDeadlineExceeded",
          message: `Deployment ${objectName(deployment)}: ${progressing.message ?? progressing.reason ?? "not progressing"}`,
        },
      };
    }
  }
  if (waitingSinceMs === undefined) return undefined;
  for (const deployment of deployments) {
    const wanted = (deployment as DeploymentView).spec?.replicas ?? 1;
    if (wanted === 0 || readyReplicas(deployment) >= wanted) continue;
    const deadline = (deployment as DeploymentProgressView).spec?.progressDeadlineSeconds ?? defaultProgressDeadlineSeconds;
    if (nowMs - waitingSinceMs > deadline * 1000) {
      return {
        deployment,
        stall: {
          reason: "ProgressDeadlineExceeded",
          message: `Deployment ${objectName(deployment)}: ${readyReplicas(deployment)} of ${wanted} pods ready after its progressDeadlineSeconds (${deadline} s)`,
        },
      };
    }
  }
  return undefined;
}

interface PodView {
  metadata?: { name?: string };
  status?: {
    phase?: string;
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{
      name?: string;
      ready?: boolean;
      state?: { waiting?: { reason?: string; message?: string }; terminated?: { reason?: string; message?: string } };
    }>;
  };
}

/** What keeps the first unready pod from running (unschedulable, image pull, crash loop), or undefined. */
export function podProblem(pods: KubeObject[]): RolloutStall | undefined {
  for (const pod of pods as PodView[]) {
    const name = pod.metadata?.name;
    const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (scheduled?.status === "False")
      return {
        reason: scheduled.reason ?? "Unschedulable",
        message: `pod ${name} ${pod.status?.phase ?? "Pending"}: ${scheduled.reason ?? "Unschedulable"}: ${scheduled.message ?? "not scheduled"}`,
      };
    for (const container of pod.status?.containerStatuses ?? []) {
      if (container.ready) continue;
      const state = container.state?.waiting ?? container.state?.terminated;
      if (state?.reason)
        return {
          reason: state.reason,
          message: `pod ${name} container ${container.name}: ${state.reason}${state.message ? `: ${state.message}` : ""}`,
        };
    }
  }
  return undefined;
}

/** The label selector of a Deployment's pods (matchLabels), for listing them. */
export function podSelector(deployment: KubeObject): string | undefined {
  const labels = (deployment as DeploymentProgressView).spec?.selector?.matchLabels;
  return labels && Object.keys(labels).length
    ? Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",")
    : undefined;
}
