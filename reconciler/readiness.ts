// Reading readiness from live objects: coordinator and worker Deployments, Cluster API node pools.
import type { KubeObject } from "./diff.ts";
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
  if (status?.observedGeneration !== undefined && coordinator.metadata?.generation !== undefined && status.observedGeneration < coordinator.metadata.generation) return false;
  return (spec?.replicas ?? 1) > 0 && readyReplicas(coordinator) >= 1;
}

/** No Trino pod runs: every Deployment asks for zero replicas and none is ready. */
export function computeStopped(deployments: KubeObject[]): boolean {
  return deployments.every((d) => (d as DeploymentView).spec?.replicas === 0 && readyReplicas(d) === 0 && ((d as DeploymentView).status?.replicas ?? 0) === 0);
}

export function readyWorkers(deployments: KubeObject[]): number {
  return deployments.filter((d) => component(d) === "worker").reduce((sum, d) => sum + readyReplicas(d), 0);
}

export type NodePoolState =
  | { state: "none" }
  | { state: "provisioning" | "ready" | "failed"; condition: ConditionInput };

/** Cluster API MachineDeployment: Ready when status.phase is Running, failed when Failed. */
export function nodePoolState(pools: KubeObject[]): NodePoolState {
  if (pools.length === 0) return { state: "none" };
  const views = pools.map((p) => ({ name: p.metadata?.name, status: (p.status ?? {}) as { phase?: string; failureMessage?: string; failureReason?: string } }));
  const failed = views.find((v) => v.status.phase === "Failed");
  if (failed) {
    const message = `MachineDeployment ${failed.name}: ${failed.status.failureMessage ?? failed.status.failureReason ?? "provisioning failed"}`;
    return { state: "failed", condition: { type: "NodePoolReady", status: "False", reason: "ProvisioningFailed", message } };
  }
  const waiting = views.filter((v) => v.status.phase !== "Running");
  if (waiting.length) {
    return { state: "provisioning", condition: { type: "NodePoolReady", status: "False", reason: "Provisioning", message: `waiting for ${waiting.map((v) => `${v.name} (${v.status.phase ?? "no phase yet"})`).join(", ")}` } };
  }
  return { state: "ready", condition: { type: "NodePoolReady", status: "True", reason: "Running", message: "node pool Running" } };
}
