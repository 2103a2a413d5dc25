// The CEL rules in the generated CRDs (renderer/cel-rules.ts → x-kubernetes-validations) agree with
// `xtrinode validate`: evaluated with a CEL interpreter on what the API server would evaluate them
// on (the object after CRD defaulting, `self` = the rule's node, only when that node is present),
// they hold for every valid fixture and example, refuse each rule's counterexample with the very
// message validate.ts reports, and refuse exactly the issues of fixtures/invalid that the exported
// table says CEL can carry. Whether a real API server compiles and enforces them is the
// real-control-plane tier's job (it can reuse invalidFixtureCel).
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import yaml from "js-yaml";
import { run } from "@bufbuild/cel";
import { applyStructuralDefaults } from "../../fixtures/kube-api-server/crd-defaults.ts";
import type { JsonObject } from "../../fixtures/kube-api-server/json.ts";
import { celRules, invalidFixtureCel, type CelRuleId } from "../../schemas/api/cel-rules.ts";
import { loadSpecs, validateSpecSet, type SpecSet } from "../../renderer/index.ts";
import { generateCrds } from "../../schemas/crds.ts";
import type { XTrinode, XTrinodeCatalog, XTrinodePolicy } from "../../schemas/generated/types.ts";
import { examplesDir, fixtureNames, invalidDir, runtime, specsDir } from "./support.ts";

function crdSchema(kind: string): JsonObject {
  const crd = generateCrds().find((c) => (c.spec as { names: { kind: string } }).names.kind === kind)!;
  return (crd.spec as { versions: Array<{ schema: { openAPIV3Schema: JsonObject } }> }).versions[0].schema.openAPIV3Schema;
}

/** JSON as CEL sees a structural object: integers are CEL ints. */
function celValue(value: unknown): unknown {
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(celValue);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  return value;
}

/** Messages of the failing x-kubernetes-validations of the generated CRD, on the defaulted object. */
function celViolations(doc: unknown): string[] {
  const kind = (doc as { kind?: string }).kind;
  if (kind !== "XTrinode" && kind !== "XTrinodeCatalog") return [];
  const schema = crdSchema(kind);
  const object = applyStructuralDefaults(schema, structuredClone(doc) as JsonObject);
  const failures: string[] = [];
  const walk = (node: JsonObject, value: unknown) => {
    if (value === undefined || value === null) return;
    for (const { rule, message } of (node["x-kubernetes-validations"] ?? []) as Array<{ rule: string; message: string }>) {
      const result = run(rule, { self: celValue(value) as never });
      if (result !== true) failures.push(message);
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) {
        const property = (node.properties as Record<string, JsonObject> | undefined)?.[key];
        if (property) walk(property, child);
      }
    }
    if (Array.isArray(value) && node.items) for (const item of value) walk(node.items as JsonObject, item);
  };
  walk(schema, object);
  return failures;
}

const ruleMessage = (id: CelRuleId) => `${celRules[id].path}: ${celRules[id].message}`;

const queryPressure = { queryPressure: { serverAddress: "http://prometheus:9090" } };
const policy: XTrinodePolicy = {
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodePolicy",
  defaults: { allowedNodePoolClasses: ["mem"] },
};
const pool = { class: "mem", instanceType: "m5.xlarge" };

/** One spec set per rule that breaks that rule only. */
const counterexamples: Record<CelRuleId, { runtime: XTrinode; catalogs?: XTrinodeCatalog[] }> = {
  runtimeNameLength: { runtime: runtime("a".repeat(46), {}) },
  runtimeNameLetter: { runtime: runtime("9lives", {}) },
  kedaMaxRequired: { runtime: runtime("k", { workers: { mode: "keda", keda: queryPressure } }) },
  kedaMaxAtLeastMin: { runtime: runtime("k", { workers: { mode: "keda", min: 3, max: 2, keda: queryPressure } }) },
  kedaNeedsTrigger: { runtime: runtime("k", { workers: { mode: "keda", max: 2 } }) },
  countFixedOnly: { runtime: runtime("k", { workers: { mode: "keda", max: 2, count: 1, keda: queryPressure } }) },
  minKedaOnly: { runtime: runtime("f", { workers: { min: 1 } }) },
  maxKedaOnly: { runtime: runtime("f", { workers: { mode: "fixed", max: 2 } }) },
  kedaSettingsKedaOnly: { runtime: runtime("f", { workers: { keda: { pollingInterval: 10 } } }) },
  nodePoolMaxAtLeastMin: { runtime: runtime("p", { nodePool: { ...pool, min: 5 } }) },
  nodePoolProvider: { runtime: runtime("p", { nodePool: { ...pool, provider: "ibm" } }) },
  catalogConnectorName: {
    runtime: runtime("c", { catalogs: { names: ["db"] } }),
    catalogs: [
      {
        apiVersion: "xtrinode.io/v1alpha1",
        kind: "XTrinodeCatalog",
        metadata: { name: "db", namespace: "team-a" },
        spec: { connector: "memory", properties: { "connector.name": "x" } },
      },
    ],
  },
};

describe("CEL rules in the CRDs agree with xtrinode validate", () => {
  it("every rule is in the generated CRDs, with validate's path and message", () => {
    const messages: string[] = [];
    const collect = (node: unknown): void => {
      if (!node || typeof node !== "object") return;
      for (const [key, value] of Object.entries(node)) {
        if (key === "x-kubernetes-validations") messages.push(...(value as Array<{ message: string }>).map((v) => v.message));
        else collect(value);
      }
    };
    ["XTrinode", "XTrinodeCatalog"].forEach((kind) => collect(crdSchema(kind)));
    expect(messages.sort()).to.deep.equal((Object.keys(celRules) as CelRuleId[]).map(ruleMessage).sort());
  });

  it("hold for every valid fixture and example (after CRD defaulting)", async () => {
    const sets: SpecSet[] = [
      ...(await Promise.all(fixtureNames(specsDir).map((n) => loadSpecs([path.join(specsDir, `${n}.yaml`)])))),
      await loadSpecs([examplesDir]),
    ];
    for (const set of sets)
      for (const doc of [...set.runtimes, ...set.catalogs])
        expect(celViolations(doc), `${doc.kind} ${doc.metadata.name}`).to.deep.equal([]);
  });

  for (const id of Object.keys(celRules) as CelRuleId[]) {
    it(`${id}: its counterexample is refused by CEL and by validate with the same message`, () => {
      const example = counterexamples[id];
      const issues = validateSpecSet({ runtimes: [example.runtime], catalogs: example.catalogs ?? [], policy, sources: new Map() });
      expect(issues.map((i) => `${i.path}: ${i.message}`)).to.include(ruleMessage(id));
      const refused = [example.runtime, ...(example.catalogs ?? [])].flatMap(celViolations);
      expect(refused).to.deep.equal([ruleMessage(id)]);
    });
  }

  it("fixtures/invalid: the exported table says exactly which issues CEL refuses", () => {
    const names = readdirSync(invalidDir)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.replace(/\.yaml$/, ""))
      .sort();
    expect(Object.keys(invalidFixtureCel).sort()).to.deep.equal(names);
    for (const name of names) {
      const expected = readFileSync(path.join(invalidDir, `${name}.expected.txt`), "utf8")
        .trim()
        .split("\n");
      let docs: unknown[] = [];
      try {
        docs = yaml.loadAll(readFileSync(path.join(invalidDir, `${name}.yaml`), "utf8"));
      } catch {
        // malformed YAML: nothing reaches the API server
      }
      const refused = docs.flatMap(celViolations);
      // CEL never refuses what validate accepts, and says it the same way.
      for (const message of refused)
        expect(
          expected.some((line) => line.endsWith(message)),
          `${name}: ${message}`,
        ).to.equal(true);
      const covered = expected.filter((line) => refused.some((message) => line.endsWith(message)));
      const entry = invalidFixtureCel[name];
      const cel = covered.length === 0 ? "none" : covered.length === expected.length ? "all" : "some";
      expect([name, cel], entry.why).to.deep.equal([name, entry.cel]);
      const ids = (Object.keys(celRules) as CelRuleId[]).filter((id) => refused.includes(ruleMessage(id)));
      expect(ids, name).to.deep.equal(entry.rules);
      if (entry.cel !== "all") expect(entry.why, `${name}: why CEL cannot carry the rest`).to.not.equal("");
    }
  });
});
