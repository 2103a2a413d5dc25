// The shipped examples (examples/specs, what `npm run render-example` renders) produce at least one object
// of each kind their specs call for, and none of the kinds they rule out. Each example runtime and each
// namespace with a policy is listed below with what its spec asks for: a new example gets an entry.
import { expect } from "chai";
import { loadSpecs, renderAll } from "../../renderer/index.ts";
import { examplesDir } from "./support.ts";

interface Expected {
  /** Kinds of which at least one object must be rendered. */
  kinds: string[];
  /** Kinds that must not be rendered (e.g. the autoscaler the spec did not choose). */
  absent: string[];
  /** `app.kubernetes.io/component` values of the Deployments. */
  deployments?: string[];
}

const perRuntime: Record<string, Expected> = {
  // workers.mode fixed, count 3: coordinator and workers, worker PDB, no autoscaler.
  "analytics/bi": {
    kinds: ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"],
    absent: ["ScaledObject", "HorizontalPodAutoscaler", "MachineDeployment"],
    deployments: ["coordinator", "worker"],
  },
  // workers.mode keda with queryPressure: a ScaledObject instead of an HPA.
  "analytics/adhoc": {
    kinds: ["ConfigMap", "Deployment", "PodDisruptionBudget", "ScaledObject", "Service", "ServiceAccount"],
    absent: ["HorizontalPodAutoscaler", "MachineDeployment"],
    deployments: ["coordinator", "worker"],
  },
};

const perNamespace: Record<string, Expected> = {
  // policy.yaml gives the namespace limits and a quota.
  analytics: { kinds: ["LimitRange", "ResourceQuota"], absent: [] },
};

describe("examples/specs render what they declare", () => {
  it("lists every example runtime and namespace here", async () => {
    const result = renderAll(await loadSpecs([examplesDir]));
    expect(result.runtimes.map((runtime) => `${runtime.namespace}/${runtime.name}`).sort()).to.deep.equal(Object.keys(perRuntime).sort());
    expect(
      result.namespaces
        .filter((ns) => ns.objects.length > 0)
        .map((ns) => ns.namespace)
        .sort(),
    ).to.deep.equal(Object.keys(perNamespace).sort());
  });

  for (const [key, expected] of Object.entries(perRuntime)) {
    it(`${key}: at least one object of each kind its spec calls for`, async () => {
      const result = renderAll(await loadSpecs([examplesDir]));
      const runtime = result.runtimes.find((candidate) => `${candidate.namespace}/${candidate.name}` === key);
      expect(runtime, key).to.not.equal(undefined);
      const kinds = new Set(runtime!.objects.map((object) => object.kind));
      for (const kind of expected.kinds) expect(kinds.has(kind), `${key} renders a ${kind}`).to.equal(true);
      for (const kind of expected.absent) expect(kinds.has(kind), `${key} renders no ${kind}`).to.equal(false);
      const components = runtime!.objects
        .filter((object) => object.kind === "Deployment")
        .map((object) => (object.metadata.labels ?? {})["app.kubernetes.io/component"])
        .sort();
      if (expected.deployments) expect(components).to.deep.equal(expected.deployments);
      expect(result.routes.routes.map((route) => `${route.namespace}/${route.name}`)).to.include(key);
    });
  }

  for (const [namespace, expected] of Object.entries(perNamespace)) {
    it(`namespace ${namespace}: the guardrail objects of the policy`, async () => {
      const result = renderAll(await loadSpecs([examplesDir]));
      const kinds = new Set(result.namespaces.find((ns) => ns.namespace === namespace)?.objects.map((object) => object.kind));
      for (const kind of expected.kinds) expect(kinds.has(kind), `${namespace} has a ${kind}`).to.equal(true);
    });
  }
});
