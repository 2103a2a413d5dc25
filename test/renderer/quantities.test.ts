// Resource quantities leave the renderer as strings: the spec schemas take `pods: 30` or `cpu: 2`,
// but a quantity is a string in the Kubernetes API schema and server-side apply refuses a number
// (HTTP 500 "failed to create typed patch object … expected string"). Checked with the test API
// server's own finder of quantity fields (fixtures/kube-api-server/defaults.ts), not the renderer's.
import path from "node:path";
import { expect } from "chai";
import { numericQuantity } from "../../fixtures/kube-api-server/defaults.ts";
import type { JsonObject } from "../../fixtures/kube-api-server/json.ts";
import { ResourceRegistry } from "../../fixtures/kube-api-server/resources.ts";
import { loadSpecs, renderAll, type KubeObject, type SpecSet } from "../../renderer/index.ts";
import type { XTrinode, XTrinodePolicy } from "../../schemas/generated/types.ts";
import { examplesDir, fixtureNames, specsDir } from "./support.ts";

const registry = new ResourceRegistry();

function numericQuantities(objects: KubeObject[]): string[] {
  return objects.flatMap((object) => {
    const group = object.apiVersion!.includes("/") ? object.apiVersion!.split("/")[0] : "";
    const type = registry.byKind(group, object.kind!);
    const problem = type && numericQuantity(type, object as unknown as JsonObject);
    return problem ? [`${object.kind} ${object.metadata?.name}: ${problem}`] : [];
  });
}

function allObjects(set: SpecSet): KubeObject[] {
  const result = renderAll(set);
  return [...result.namespaces.flatMap((n) => n.objects), ...result.runtimes.flatMap((r) => r.objects)];
}

describe("renderer: resource quantities are strings", () => {
  it("every fixture and example (the example policy writes `pods: 30`)", async () => {
    for (const file of [...fixtureNames(specsDir).map((n) => path.join(specsDir, `${n}.yaml`)), examplesDir]) {
      const objects = allObjects(await loadSpecs([file]));
      expect(objects.length, file).to.be.greaterThan(0);
      expect(numericQuantities(objects), file).to.deep.equal([]);
    }
    const quota = allObjects(await loadSpecs([examplesDir])).find((o) => o.kind === "ResourceQuota") as unknown as {
      spec: { hard: Record<string, unknown> };
    };
    expect(quota.spec.hard.pods).to.equal("30");
  });

  it("numbers in every quantity field of the policy, the spec and the overlay", () => {
    const policy: XTrinodePolicy = {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinodePolicy",
      defaults: {
        allowValuesOverlay: true,
        quota: { pods: 30, "requests.cpu": 48 },
        defaultResources: { requests: { cpu: 1, memory: "1Gi" }, limits: { cpu: 2, memory: "2Gi" } },
        maxResources: { cpu: 16, memory: "64Gi" },
      },
    };
    const runtime: XTrinode = {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "numbers", namespace: "team-a" },
      spec: {
        coordinator: { resources: { requests: { cpu: 2, memory: "4Gi" }, limits: { cpu: 4, memory: "4Gi" } } },
        workers: { count: 2, resources: { requests: { cpu: 3, memory: "8Gi" }, limits: { cpu: 3, memory: "8Gi" } } },
        valuesOverlay: { worker: { resources: { limits: { cpu: 5, memory: "8Gi" } } } },
      },
    };
    const objects = allObjects({ runtimes: [runtime], catalogs: [], policy, sources: new Map() });
    expect(objects.map((o) => o.kind)).to.include.members(["ResourceQuota", "LimitRange", "Deployment"]);
    expect(numericQuantities(objects)).to.deep.equal([]);
    const worker = objects.find((o) => o.kind === "Deployment" && o.metadata?.name === "numbers-trino-worker") as unknown as {
      spec: { template: { spec: { containers: Array<{ resources: unknown }> } } };
    };
    expect(worker.spec.template.spec.containers[0].resources).to.deep.equal({
      requests: { cpu: "3", memory: "8Gi" },
      limits: { cpu: "5", memory: "8Gi" },
    });
  });
});
