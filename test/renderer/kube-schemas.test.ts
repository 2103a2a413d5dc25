// Every object rendered from every fixture and example validates against the Kubernetes OpenAPI
// schemas (kubernetes-models; @kubernetes-models/keda for ScaledObject).
import { expect } from "chai";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { LimitRange } from "kubernetes-models/v1/LimitRange";
import { ResourceQuota } from "kubernetes-models/v1/ResourceQuota";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { loadSpecs, renderAll, type KubeObject } from "../../renderer/index.ts";
import { examplesDir, fixtureNames, renderFixture, specsDir } from "./support.ts";

type Validatable = { validate(): void };
const models: Record<string, (o: KubeObject) => Validatable> = {
  "v1/ConfigMap": (o) => new ConfigMap(o as never),
  "v1/LimitRange": (o) => new LimitRange(o as never),
  "v1/ResourceQuota": (o) => new ResourceQuota(o as never),
  "v1/Service": (o) => new Service(o as never),
  "v1/ServiceAccount": (o) => new ServiceAccount(o as never),
  "apps/v1/Deployment": (o) => new Deployment(o as never),
  "policy/v1/PodDisruptionBudget": (o) => new PodDisruptionBudget(o as never),
  "autoscaling/v2/HorizontalPodAutoscaler": (o) => new HorizontalPodAutoscaler(o as never),
  "keda.sh/v1alpha1/ScaledObject": (o) => new ScaledObject(o as never),
};

/**
 * Kinds with no model package installed (Cluster API, Prometheus Operator): their metadata is
 * validated as Kubernetes ObjectMeta and their references checked by hand below.
 */
const withoutModel = new Set([
  "cluster.x-k8s.io/v1beta1/MachineDeployment",
  "bootstrap.cluster.x-k8s.io/v1beta1/KubeadmConfigTemplate",
  "infrastructure.cluster.x-k8s.io/v1beta2/AWSMachineTemplate",
  "infrastructure.cluster.x-k8s.io/v1beta1/GCPMachineTemplate",
  "infrastructure.cluster.x-k8s.io/v1beta1/AzureMachineTemplate",
  "infrastructure.cluster.x-k8s.io/v1beta1/DockerMachineTemplate",
  "monitoring.coreos.com/v1/ServiceMonitor",
]);

function validateObject(object: KubeObject): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const model = models[key];
  if (model) return model(object).validate();
  if (!withoutModel.has(key)) throw new Error(`no schema known for ${key}`);
  new ConfigMap({ metadata: object.metadata } as never).validate();
}

describe("rendered objects against Kubernetes OpenAPI schemas", () => {
  for (const name of fixtureNames(specsDir)) {
    it(`validates every object of fixtures/specs/${name}.yaml`, async () => {
      const result = await renderFixture(name);
      expect(result.objects).to.not.be.empty;
      for (const object of result.objects) {
        try {
          validateObject(object);
        } catch (error) {
          throw new Error(`${object.kind}/${object.metadata.name}: ${(error as Error).message}`);
        }
      }
    });
  }
  it("validates every object of examples/specs", async () => {
    const result = renderAll(await loadSpecs([examplesDir]));
    for (const object of result.objects) validateObject(object);
  });
  it("the fixtures above cover every kind the renderer emits", async () => {
    // Renders the fixtures itself, so it holds whether or not (and in whatever order) the tests above ran.
    const seenKinds = new Set<string>();
    for (const name of fixtureNames(specsDir)) for (const object of (await renderFixture(name)).objects) seenKinds.add(object.kind);
    expect([...seenKinds].sort()).to.include.members([
      "AWSMachineTemplate",
      "ConfigMap",
      "Deployment",
      "HorizontalPodAutoscaler",
      "KubeadmConfigTemplate",
      "LimitRange",
      "MachineDeployment",
      "PodDisruptionBudget",
      "ResourceQuota",
      "ScaledObject",
      "Service",
      "ServiceAccount",
      "ServiceMonitor",
    ]);
  });
  it("rejects a broken object (the validator is live)", () => {
    const broken = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: { replicas: "two" },
    } as unknown as KubeObject;
    expect(() => validateObject(broken)).to.throw();
  });
  it("node pool objects reference each other and pin pods to the pool", async () => {
    const result = await renderFixture("node-pool");
    const md = result.objects.find((o) => o.kind === "MachineDeployment")!;
    const infra = result.objects.find((o) => o.kind === "AWSMachineTemplate")!;
    const bootstrap = result.objects.find((o) => o.kind === "KubeadmConfigTemplate")!;
    const template = (md.spec as any).template.spec;
    expect(template.infrastructureRef).to.deep.include({ kind: infra.kind, name: infra.metadata.name });
    expect(template.bootstrap.configRef).to.deep.include({ kind: bootstrap.kind, name: bootstrap.metadata.name });
    expect((md.spec as any).clusterName).to.equal("prod-eu");
    expect((infra.spec as any).template.spec.instanceType).to.equal("r6i.4xlarge");
    const registration = (bootstrap.spec as any).template.spec.joinConfiguration.nodeRegistration;
    const poolLabel = "xtrinode.io/node-pool";
    const poolValue = registration.kubeletExtraArgs["node-labels"]
      .split(",")
      .find((l: string) => l.startsWith(`${poolLabel}=`))
      .split("=")[1];
    for (const deployment of result.objects.filter((o) => o.kind === "Deployment")) {
      const pod = (deployment.spec as any).template.spec;
      expect(pod.nodeSelector[poolLabel]).to.equal(poolValue);
      for (const taint of registration.taints) {
        expect(pod.tolerations, `${deployment.metadata.name} tolerates ${taint.key}`).to.deep.include({
          key: taint.key,
          operator: "Equal",
          value: taint.value,
          effect: taint.effect,
        });
      }
    }
  });
});
