// Names of the operator itself. The XTrinode API's names (group, version, kinds, labels, annotations,
// the finalizer, the routes ConfigMap) live in schemas/api/ (see its README).
export const fieldManager = "xtrinode-operator";

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
export interface OwnedKind extends KindRef {
  /** Resource name in the API path (for watches). */
  plural: string;
}

export const prunableKinds: readonly OwnedKind[] = [
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps" },
  { apiVersion: "v1", kind: "Service", plural: "services" },
  { apiVersion: "v1", kind: "ServiceAccount", plural: "serviceaccounts" },
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets" },
  { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers" },
  { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", plural: "scaledobjects" },
  { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", plural: "servicemonitors" },
  { apiVersion: "cluster.x-k8s.io/v1beta1", kind: "MachineDeployment", plural: "machinedeployments" },
  { apiVersion: "bootstrap.cluster.x-k8s.io/v1beta1", kind: "KubeadmConfigTemplate", plural: "kubeadmconfigtemplates" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "AWSMachineTemplate", plural: "awsmachinetemplates" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "GCPMachineTemplate", plural: "gcpmachinetemplates" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "AzureMachineTemplate", plural: "azuremachinetemplates" },
  { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "DockerMachineTemplate", plural: "dockermachinetemplates" },
];

/** Node pool objects (Cluster API): applied first; Trino pods wait until the pool is Ready. */
export function isNodePoolObject(object: { apiVersion?: string }): boolean {
  return /(^|\.)cluster\.x-k8s\.io\//.test(object.apiVersion ?? "");
}
