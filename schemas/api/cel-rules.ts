// The cross-field rules of one XTrinode / XTrinodeCatalog that CEL can express, defined once: the
// generator writes each into the CRD as an `x-kubernetes-validations` entry (so the API server
// refuses a violating object at `kubectl apply` time), and renderer/validate.ts reports the very same
// message at the very same field path. test/renderer/cel-rules.test.ts evaluates every rule with a
// CEL interpreter against the fixtures and checks both sides agree.
//
// A rule sits on the schema node `on` ("" = the object's root: only metadata.name/generateName are
// visible there) with `self` bound to that node after the API server's defaulting; it must hold
// (true) for a valid object. Only rules a Kubernetes 1.25 API server evaluates (no messageExpression,
// no quantity library): messages are static. Rules needing other documents (catalogs, routes, the
// operator policy), the Helm values after valuesOverlay, or resource quantities stay in validate.ts.
import { MAX_RUNTIME_NAME } from "./names.ts";

/** Node pool providers the spec accepts (renderer/node-pool.ts builds one machine template for each). */
export const NODE_POOL_PROVIDERS = ["aws", "gcp", "azure", "docker"] as const;
export type NodePoolProvider = (typeof NODE_POOL_PROVIDERS)[number];

export interface CelRule {
  kind: "XTrinode" | "XTrinodeCatalog";
  /** Dotted path of the schema node carrying the rule ("" = root, "spec.workers"). */
  on: string;
  /** CEL expression, true when the object is valid. */
  rule: string;
  /** Where `xtrinode validate` reports a violation. */
  path: string;
  message: string;
}

const keda = "has(self.mode) && self.mode == 'keda'";

export const celRules = {
  runtimeNameLength: {
    kind: "XTrinode",
    on: "",
    rule: `size(self.metadata.name) <= ${MAX_RUNTIME_NAME}`,
    path: "metadata.name",
    message: `must be at most ${MAX_RUNTIME_NAME} characters (derived names such as "<name>-trino-coordinator" must stay DNS labels)`,
  },
  runtimeNameLetter: {
    kind: "XTrinode",
    on: "",
    rule: "self.metadata.name.matches('^[a-z]')",
    path: "metadata.name",
    message: `must start with a letter: the runtime's Service names ("<name>-trino", "<name>-trino-worker") must be DNS-1035 labels, which the API server requires to start with a letter`,
  },
  kedaMaxRequired: {
    kind: "XTrinode",
    on: "spec.workers",
    rule: `!(${keda}) || has(self.max)`,
    path: "spec.workers.max",
    message: "is required when spec.workers.mode is keda",
  },
  kedaMaxAtLeastMin: {
    kind: "XTrinode",
    on: "spec.workers",
    rule: `!(${keda}) || !has(self.max) || self.max >= (has(self.min) ? self.min : 0)`,
    path: "spec.workers.max",
    message: "must be ≥ spec.workers.min",
  },
  kedaNeedsTrigger: {
    kind: "XTrinode",
    on: "spec.workers",
    rule: `!(${keda}) || (has(self.keda) && (has(self.keda.queryPressure) || (has(self.keda.triggers) && size(self.keda.triggers) > 0)))`,
    path: "spec.workers.keda",
    message: "needs queryPressure or at least one trigger when spec.workers.mode is keda",
  },
  countFixedOnly: {
    kind: "XTrinode",
    on: "spec.workers",
    rule: `!(${keda}) || !has(self.count)`,
    path: "spec.workers.count",
    message: "applies to mode fixed only; use spec.workers.min/max with mode keda",
  },
  minKedaOnly: {
    kind: "XTrinode",
    on: "spec.workers",
    rule: `${keda} || !has(self.min)`,
    path: "spec.workers.min",
    message: "applies to mode keda only; set spec.workers.mode: keda or use spec.workers.count",
  },
  maxKedaOnly: {
    kind: "XTrinode",
    on: "spec.workers",
    rule: `${keda} || !has(self.max)`,
    path: "spec.workers.max",
    message: "applies to mode keda only; set spec.workers.mode: keda or use spec.workers.count",
  },
  kedaSettingsKedaOnly: {
    kind: "XTrinode",
    on: "spec.workers",
    rule: `${keda} || !has(self.keda)`,
    path: "spec.workers.keda",
    message: "applies to mode keda only; set spec.workers.mode: keda or use spec.workers.count",
  },
  nodePoolMaxAtLeastMin: {
    kind: "XTrinode",
    on: "spec.nodePool",
    rule: "(has(self.max) ? self.max : 3) >= (has(self.min) ? self.min : 1)",
    path: "spec.nodePool.max",
    message: "must be ≥ spec.nodePool.min",
  },
  nodePoolProvider: {
    kind: "XTrinode",
    on: "spec.nodePool",
    rule: `!has(self.provider) || self.provider in [${NODE_POOL_PROVIDERS.map((p) => `'${p}'`).join(", ")}]`,
    path: "spec.nodePool.provider",
    message: `must be one of: ${NODE_POOL_PROVIDERS.join(", ")}`,
  },
  catalogConnectorName: {
    kind: "XTrinodeCatalog",
    on: "spec",
    rule: "!has(self.properties) || !('connector.name' in self.properties)",
    path: "spec.properties.connector.name",
    message: "is set by spec.connector; remove it here",
  },
} as const satisfies Record<string, CelRule>;

export type CelRuleId = keyof typeof celRules;

/** The issue validate.ts reports for a rule. */
export function celIssue(id: CelRuleId): { path: string; message: string } {
  return { path: celRules[id].path, message: celRules[id].message };
}

/**
 * Adds the rules of `kind` to its CRD schema (in place) as `x-kubernetes-validations` on their
 * nodes. Separate from the structural conversion (schemas/crds.ts) so either can change alone.
 */
export function addCelValidations(kind: string, openApiSchema: Record<string, unknown>): void {
  for (const rule of Object.values(celRules)) {
    if (rule.kind !== kind) continue;
    let node = openApiSchema;
    for (const part of rule.on ? rule.on.split(".") : []) {
      const next = (node.properties as Record<string, Record<string, unknown>> | undefined)?.[part];
      if (!next) throw new Error(`CEL rule on ${kind} ${rule.on}: no such schema node`);
      node = next;
    }
    const list = (node["x-kubernetes-validations"] ??= []) as Array<{ rule: string; message: string }>;
    list.push({ rule: rule.rule, message: `${rule.path}: ${rule.message}` });
  }
}

/**
 * Each fixture in fixtures/invalid: which of its `xtrinode validate` issues a CEL rule in the CRDs
 * carries (so the API server refuses the object on apply), and why the others cannot be. For the
 * real-API-server tier to check, fixture by fixture.
 */
export const invalidFixtureCel: Record<string, { cel: "all" | "some" | "none"; rules: CelRuleId[]; why: string }> = {
  "catalog-conflicts": {
    cel: "some",
    rules: ["catalogConnectorName"],
    why: "a key in both properties and secretProperties needs iterating an unbounded map (CEL cost budget); env-var clashes span catalogs; the HPA bound needs the Helm values after valuesOverlay",
  },
  "catalog-secret-properties": {
    cel: "none",
    rules: [],
    why: "the secret-name heuristics and URL password patterns are a word-level analysis, kept in one place (validate.ts)",
  },
  "duplicate-hostname": { cel: "none", rules: [], why: "spans several XTrinodes" },
  "duplicate-runtime": {
    cel: "none",
    rules: [],
    why: "a spec-set property (two documents); the API server has one object per name anyway",
  },
  "heap-above-limitrange-default": {
    cel: "none",
    rules: [],
    why: "needs the operator policy's LimitRange defaults and quantity arithmetic",
  },
  "keda-and-hpa": { cel: "none", rules: [], why: "valuesOverlay preserves unknown fields, which CEL cannot read" },
  "malformed-yaml": { cel: "none", rules: [], why: "not an object: kubectl fails to parse it" },
  "missing-catalog": { cel: "none", rules: [], why: "needs the XTrinodeCatalogs of the namespace" },
  "no-runtimes": { cel: "none", rules: [], why: "a spec-set property" },
  "overlay-labels-quantities": { cel: "none", rules: [], why: "valuesOverlay preserves unknown fields, which CEL cannot read" },
  "overlay-not-allowed": { cel: "none", rules: [], why: "needs the operator policy" },
  "overlay-unknown-key": { cel: "none", rules: [], why: "valuesOverlay preserves unknown fields, which CEL cannot read" },
  "policy-limitrange-quota": { cel: "none", rules: [], why: "the policy is a ConfigMap, not a custom resource" },
  "policy-max-resources": { cel: "none", rules: [], why: "needs the operator policy" },
  "policy-max-workers": { cel: "none", rules: [], why: "needs the operator policy" },
  "policy-node-pool-class": { cel: "none", rules: [], why: "needs the operator policy" },
  "requests-above-limits": {
    cel: "none",
    rules: [],
    why: "comparing quantities needs the CEL quantity library (Kubernetes ≥ 1.29); the minimum is 1.25",
  },
  "runtime-name-digit": { cel: "all", rules: ["runtimeNameLetter"], why: "" },
  "unknown-field": {
    cel: "none",
    rules: [],
    why: "refused by the schema itself: the unknown field with fieldValidation=Strict, the hostname by its pattern",
  },
  "workers-max-below-min": { cel: "all", rules: ["kedaMaxAtLeastMin"], why: "" },
};
