// Names the operator shares with the rest of XTrinode (see docs/CONTRACTS.md).
export const fieldManager = "xtrinode-operator";
export const group = "xtrinode.io";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;
export const runtimePlural = "xtrinodes";
export const catalogPlural = "xtrinodecatalogs";

export const ownerLabel = "xtrinode.io/runtime";
export const guardrailsLabel = "xtrinode.io/guardrails";
export const finalizer = "xtrinode.io/finalizer";

export const annotations = {
  lastActivity: "xtrinode.io/last-activity",
  resumeRequestedAt: "xtrinode.io/resume-requested-at",
  suspendRequestedAt: "xtrinode.io/suspend-requested-at",
} as const;

export const routesConfigMapName = "trino-gateway-routes";
export const routesDataKey = "routes.yaml";
export const defaultGatewayNamespace = "xtrinode-gateway";

export const operatorNamespace = "xtrinode-system";
export const leaseName = "xtrinode-operator";
export const policyConfigMapName = "xtrinode-policy";
export const policyDataKey = "policy.yaml";

export interface KindRef {
  apiVersion: string;
  kind: string;
}

/**
 * Every kind the renderer may emit for a runtime: the only kinds the operator ever prunes (by the
 * ownership label). Listed explicitly so pruning can never touch anything else.
 */
export const prunableKinds: readonly KindRef[] = [
  { apiVersion: "v1", kind: "ConfigMap" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "v1", kind: "ServiceAccount" },
  { apiVersion: "apps/v1", kind: "Deployment" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget" },
  { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" },
  { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject" },
  { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor" },
  { apiVersion: "cluster.x-k8s.io/v1beta1", kind: "MachineDeployment" },
  { apiVersion: "bootstrap.cluster.x-k8s.io/v1beta1", kind: "KubeadmConfigTemplate" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "AWSMachineTemplate" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "GCPMachineTemplate" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "AzureMachineTemplate" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "DockerMachineTemplate" },
];

/** Node pool objects (Cluster API): applied first; Trino pods wait until the pool is Ready. */
export function isNodePoolObject(object: { apiVersion?: string }): boolean {
  return /(^|\.)cluster\.x-k8s\.io\//.test(object.apiVersion ?? "");
}
