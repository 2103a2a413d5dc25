// The API server fills in every `default` of the CRD schemas before the operator reads a spec.
// A default that a validation rule then refuses (workers.count with mode keda was one) breaks
// every runtime of that shape on a real cluster while `xtrinode validate` passes. So: apply every
// CRD default, as the API server does, to every fixture and example spec and to a spec per
// worker mode that has every defaultable object present; each must stay valid and render the
// same objects.
import path from "node:path";
import { expect } from "chai";
import { applyStructuralDefaults } from "../../fixtures/kube-api-server/crd-defaults.ts";
import type { JsonObject } from "../../fixtures/kube-api-server/json.ts";
import { loadSpecs, renderAll, validateSpecSet, type SpecSet } from "../../renderer/index.ts";
import { generateCrds } from "../../schemas/crds.ts";
import type { XTrinode, XTrinodeCatalog, XTrinodePolicy } from "../../schemas/generated/types.ts";
import { examplesDir, fixtureNames, runtime, specsDir } from "./support.ts";

function crdSchema(kind: string): JsonObject {
  const crd = generateCrds().find((c) => (c.spec as { names: { kind: string } }).names.kind === kind)!;
  return (crd.spec as { versions: Array<{ schema: { openAPIV3Schema: JsonObject } }> }).versions[0].schema.openAPIV3Schema;
}

/** The spec set as a real API server would hand it back: every CRD default filled in. */
function defaulted(set: SpecSet): SpecSet {
  const runtimeSchema = crdSchema("XTrinode");
  const catalogSchema = crdSchema("XTrinodeCatalog");
  return {
    ...set,
    runtimes: set.runtimes.map(
      (r) => applyStructuralDefaults(runtimeSchema, structuredClone(r) as unknown as JsonObject) as unknown as XTrinode,
    ),
    catalogs: set.catalogs.map(
      (c) => applyStructuralDefaults(catalogSchema, structuredClone(c) as unknown as JsonObject) as unknown as XTrinodeCatalog,
    ),
  };
}

const policy: XTrinodePolicy = {
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodePolicy",
  defaults: { allowedNodePoolClasses: ["mem"] },
};
/** Every object of the schema that carries defaults, present and empty, so each default fires. */
const everyDefaultable = {
  monitoring: {},
  lifecycle: {},
  route: {},
  nodePool: { class: "mem", instanceType: "m5.xlarge" },
};
const perMode: XTrinode[] = [
  runtime("fixed-unset", { ...everyDefaultable, workers: { gracefulShutdown: {} } }),
  runtime("fixed", { ...everyDefaultable, workers: { mode: "fixed", count: 2, gracefulShutdown: {} } }),
  runtime("keda-pressure", {
    ...everyDefaultable,
    workers: { mode: "keda", min: 0, max: 4, gracefulShutdown: {}, keda: { queryPressure: { serverAddress: "http://prometheus:9090" } } },
  }),
  runtime("keda-triggers", {
    ...everyDefaultable,
    workers: { mode: "keda", max: 4, keda: { triggers: [{ type: "cpu", metadata: { value: "60" } }] } },
  }),
];

describe("CRD schema defaults against the validation rules", () => {
  const sets: Array<[string, () => Promise<SpecSet>]> = [
    ...fixtureNames(specsDir).map((name): [string, () => Promise<SpecSet>] => [
      `fixtures/specs/${name}.yaml`,
      () => loadSpecs([path.join(specsDir, `${name}.yaml`)]),
    ]),
    ["examples/specs", () => loadSpecs([examplesDir])],
    [
      "one runtime per worker mode, every defaultable object present",
      async () => ({ runtimes: perMode, catalogs: [], policy, sources: new Map() }),
    ],
  ];
  for (const [name, load] of sets) {
    it(`${name}: stays valid and renders the same with every CRD default applied`, async () => {
      const set = await load();
      expect(validateSpecSet(set), "valid as written").to.deep.equal([]);
      const withDefaults = defaulted(set);
      expect(
        validateSpecSet(withDefaults).map((i) => `${i.kind} ${i.name} ${i.path}: ${i.message}`),
        "valid as the API server stores it",
      ).to.deep.equal([]);
      const objects = (s: SpecSet) => renderAll(s).runtimes.map((r) => ({ name: r.name, objects: r.objects, values: r.values }));
      expect(objects(withDefaults)).to.deep.equal(objects(set));
    });
  }

  it("the defaults are really applied (a keda runtime gets mode-independent defaults only)", () => {
    const [keda] = defaulted({ runtimes: [perMode[2]], catalogs: [], sources: new Map() }).runtimes;
    expect(keda.spec.workers).to.include({ mode: "keda" });
    expect(keda.spec.workers).not.to.have.property("count");
    expect(keda.spec.workers?.keda).to.include({ pollingInterval: 30, cooldownPeriod: 300 });
    expect(keda.spec.lifecycle).to.deep.equal({ suspended: false });
  });
});
