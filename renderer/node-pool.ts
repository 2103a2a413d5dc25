// Cluster API infrastructure machine templates per provider (the MachineDeployment references one).
import { NODE_POOL_PROVIDERS, type NodePoolProvider } from "../schemas/api/index.ts";
export interface InfrastructureTemplate {
  apiVersion: string;
  kind: string;
  /** spec.template.spec of the machine template. */
  spec: Record<string, unknown>;
}

const providers: Record<NodePoolProvider, (instanceType: string) => InfrastructureTemplate> = {
  aws: (instanceType) => ({ apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "AWSMachineTemplate", spec: { instanceType } }),
  gcp: (instanceType) => ({ apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "GCPMachineTemplate", spec: { instanceType } }),
  azure: (instanceType) => ({
    apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1",
    kind: "AzureMachineTemplate",
    spec: { vmSize: instanceType, osDisk: { osType: "Linux", diskSizeGB: 128 } },
  }),
  // Docker (CAPD, for local clusters) has no instance types; the type is kept as a label only.
  docker: () => ({ apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "DockerMachineTemplate", spec: {} }),
};

export function infrastructureTemplate(provider: string, instanceType: string): InfrastructureTemplate {
  const build = (NODE_POOL_PROVIDERS as readonly string[]).includes(provider) ? providers[provider as NodePoolProvider] : undefined;
  if (!build) throw new Error(`unknown node pool provider "${provider}" (supported: ${NODE_POOL_PROVIDERS.join(", ")})`);
  return build(instanceType);
}
