// Validation of specs: the JSON Schemas (schemas/validate.ts) first, then rules a schema cannot
// express (cross-field, cross-document, operator policy). Every issue names the field and the fix.
import type { TrinoValues } from "../schemas/generated/types.ts";
import { validateAgainstSchema } from "../schemas/validate.ts";
import { catalogSecretRefs, compare, matchesSelector, selectCatalogs } from "./catalogs.ts";
import { isPlainMap } from "./merge.ts";
import { MAX_RUNTIME_NAME, namespaceOf, trinoCatalogName } from "./names.ts";
import { NODE_POOL_PROVIDERS } from "./node-pool.ts";
import { ruleName, rulesFor } from "./policy.ts";
import { parseQuantity } from "./quantity.ts";
import type { RenderRuntimeInput, SpecSet, ValidationIssue, XTrinode, XTrinodeCatalog, XTrinodePolicy } from "./types.ts";
import { buildValues } from "./values.ts";

type Issue = Pick<ValidationIssue, "path" | "message">;

/** Every issue of one runtime (schema, semantics, policy), each tagged with kind and name. */
export function validateRuntime(input: RenderRuntimeInput): ValidationIssue[] {
  const { runtime } = input;
  const tag = (issue: Issue): ValidationIssue => ({ kind: "XTrinode", name: nameOf(runtime), ...issue });
  const schemaIssues = validateAgainstSchema("XTrinode", runtime);
  if (schemaIssues.length) return schemaIssues.map(tag);
  // Only the catalogs this runtime selects: a broken catalog nobody uses must not block it.
  const candidates = input.catalogs.filter((c) => isPlainMap(c) && isPlainMap(c.metadata) && typeof c.metadata.name === "string");
  const catalogIssues = selectCatalogsLoosely(runtime, candidates).flatMap((c) => {
    const schemaIssues = validateAgainstSchema("XTrinodeCatalog", c);
    return (schemaIssues.length ? schemaIssues : catalogRules(c)).map((i) => ({ kind: "XTrinodeCatalog", name: nameOf(c), ...i }));
  });
  const policyIssues = input.policy ? validateAgainstSchema("XTrinodePolicy", input.policy).map((i) => ({ kind: "XTrinodePolicy", ...i })) : [];
  if (catalogIssues.length || policyIssues.length) return [...catalogIssues, ...policyIssues];
  return runtimeRules(runtime, input.catalogs, input.policy).map(tag);
}

/** selectCatalogs on catalogs not yet schema-checked (spec may be missing: sort by metadata name). */
function selectCatalogsLoosely(runtime: XTrinode, catalogs: XTrinodeCatalog[]): XTrinodeCatalog[] {
  const namespace = namespaceOf(runtime);
  const names = new Set(runtime.spec.catalogs?.names ?? []);
  const selector = runtime.spec.catalogs?.selector;
  return catalogs.filter(
    (c) => namespaceOf(c) === namespace && (names.has(c.metadata.name) || (selector !== undefined && isPlainMap(c.metadata.labels ?? {}) && matchesSelector(c.metadata.labels, selector))),
  );
}

function nameOf(doc: unknown): string | undefined {
  const metadata = isPlainMap(doc) && isPlainMap(doc.metadata) ? doc.metadata : undefined;
  if (!metadata || typeof metadata.name !== "string") return undefined;
  return typeof metadata.namespace === "string" && metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name;
}

function runtimeRules(runtime: XTrinode, catalogs: XTrinodeCatalog[], policy: XTrinodePolicy | undefined): Issue[] {
  const issues: Issue[] = [];
  const spec = runtime.spec;
  const namespace = namespaceOf(runtime);
  const rules = rulesFor(policy, namespace);
  const workers = spec.workers ?? {};

  if (runtime.metadata.name.length > MAX_RUNTIME_NAME) {
    issues.push({ path: "metadata.name", message: `must be at most ${MAX_RUNTIME_NAME} characters (derived names such as "<name>-trino-coordinator" must stay DNS labels)` });
  }

  // Labels copied onto rendered objects or nodes must be valid Kubernetes labels.
  const labelMaps: Array<[string, Record<string, string> | undefined]> = [
    ["metadata.labels", runtime.metadata.labels],
    ["spec.monitoring.labels", spec.monitoring?.labels],
    ["spec.nodePool.labels", spec.nodePool?.labels],
  ];
  for (const [at, labels] of labelMaps) issues.push(...labelIssues(at, labels ?? {}));

  // Workers
  if (workers.mode === "keda") {
    if (workers.max === undefined) issues.push({ path: "spec.workers.max", message: "is required when spec.workers.mode is keda" });
    else if (workers.max < (workers.min ?? 0)) issues.push({ path: "spec.workers.max", message: `must be ≥ spec.workers.min (${workers.min ?? 0})` });
    if (!workers.keda?.queryPressure && !workers.keda?.triggers?.length) {
      issues.push({ path: "spec.workers.keda", message: "needs queryPressure or at least one trigger when spec.workers.mode is keda" });
    }
    if (workers.count !== undefined) issues.push({ path: "spec.workers.count", message: "applies to mode fixed only; use spec.workers.min/max with mode keda" });
  } else {
    for (const field of ["min", "max", "keda"] as const) {
      if (workers[field] !== undefined) issues.push({ path: `spec.workers.${field}`, message: "applies to mode keda only; set spec.workers.mode: keda or use spec.workers.count" });
    }
  }

  // Catalogs named must exist in the namespace.
  const present = new Set(catalogs.filter((c) => namespaceOf(c) === namespace).map((c) => c.metadata.name));
  (spec.catalogs?.names ?? []).forEach((name, i) => {
    if (!present.has(name)) issues.push({ path: `spec.catalogs.names[${i}]`, message: `XTrinodeCatalog "${name}" not found in namespace ${namespace}` });
  });
  const selected = selectCatalogs(runtime, catalogs);
  const envOwners = new Map<string, string>();
  for (const ref of selected.flatMap(catalogSecretRefs)) {
    const owner = `${ref.catalog}.${ref.property}`;
    const other = envOwners.get(ref.env);
    if (other) issues.push({ path: "spec.catalogs", message: `catalog properties ${other} and ${owner} both map to env var ${ref.env}; rename one catalog or property` });
    envOwners.set(ref.env, owner);
  }
  const byTrinoName = new Map<string, string>();
  for (const catalog of selected) {
    const trinoName = trinoCatalogName(catalog);
    const other = byTrinoName.get(trinoName);
    if (other) issues.push({ path: "spec.catalogs", message: `selects XTrinodeCatalogs "${other}" and "${catalog.metadata.name}", which both define Trino catalog "${trinoName}"` });
    byTrinoName.set(trinoName, catalog.metadata.name);
  }

  // Node pool
  const pool = spec.nodePool;
  if (pool) {
    const allowed = rules.allowedNodePoolClasses ?? [];
    if (!allowed.includes(pool.class)) {
      issues.push({
        path: "spec.nodePool.class",
        message: allowed.length
          ? `"${pool.class}" is not allowed in namespace ${namespace} (${ruleName(policy, namespace, "allowedNodePoolClasses")}: ${allowed.join(", ")})`
          : `node pools are not allowed in namespace ${namespace} (${ruleName(policy, namespace, "allowedNodePoolClasses")} is empty)`,
      });
    }
    const provider = pool.provider ?? "aws";
    if (!NODE_POOL_PROVIDERS.includes(provider)) issues.push({ path: "spec.nodePool.provider", message: `must be one of: ${NODE_POOL_PROVIDERS.join(", ")}` });
    if ((pool.max ?? 3) < (pool.min ?? 1)) issues.push({ path: "spec.nodePool.max", message: `must be ≥ spec.nodePool.min (${pool.min ?? 1})` });
  }

  // valuesOverlay is privileged.
  const overlay = spec.valuesOverlay as Record<string, unknown> | undefined;
  const hasOverlay = overlay !== undefined && Object.keys(overlay).length > 0;
  if (hasOverlay && !rules.allowValuesOverlay) {
    issues.push({ path: "spec.valuesOverlay", message: `is not allowed in namespace ${namespace} (${ruleName(policy, namespace, "allowValuesOverlay")} is not true)` });
  }
  if (issues.length) return issues;

  // Checks on the final values (after the overlay).
  const { values: raw } = buildValues({ runtime, catalogs: selected, suspended: false });
  const valueIssues = validateAgainstSchema("TrinoValues", raw);
  if (valueIssues.length) {
    return valueIssues.map((i) => ({ path: i.path ? `spec.valuesOverlay.${i.path}` : "spec.valuesOverlay", message: `${i.message} (in the Helm values after the overlay)` }));
  }
  const values = raw as unknown as TrinoValues;
  if (values.server.autoscaling.enabled && (values.server.autoscaling.maxReplicas ?? 5) < Math.max(1, values.server.workers)) {
    issues.push({
      path: "spec.valuesOverlay.server.autoscaling.maxReplicas",
      message: `must be ≥ the HPA's minReplicas (${Math.max(1, values.server.workers)}, from spec.workers.count)`,
    });
  }
  if (values.server.keda.enabled && values.server.autoscaling.enabled) {
    issues.push({
      path: "spec.valuesOverlay.server.autoscaling.enabled",
      message: "a native HPA and KEDA (spec.workers.mode keda) cannot both scale the workers; use one of them",
    });
  }
  const graceful = values.worker.gracefulShutdown;
  if (graceful?.enabled && (values.worker.terminationGracePeriodSeconds ?? 30) < 2 * (graceful.gracePeriodSeconds ?? 120)) {
    issues.push({
      path: "spec.valuesOverlay.worker.terminationGracePeriodSeconds",
      message: `must be ≥ 2 × worker.gracefulShutdown.gracePeriodSeconds (${2 * (graceful.gracePeriodSeconds ?? 120)})`,
    });
  }

  // Policy: worker counts and resources.
  if (rules.maxWorkers !== undefined) {
    const rule = `${ruleName(policy, namespace, "maxWorkers")} = ${rules.maxWorkers}`;
    if (workers.mode === "keda") {
      if ((workers.max ?? 0) > rules.maxWorkers) issues.push({ path: "spec.workers.max", message: `${workers.max} exceeds ${rule}` });
    } else if (values.server.autoscaling.enabled) {
      const max = values.server.autoscaling.maxReplicas ?? 5;
      if (max > rules.maxWorkers) issues.push({ path: "spec.valuesOverlay.server.autoscaling.maxReplicas", message: `${max} exceeds ${rule}` });
    } else if (values.server.workers > rules.maxWorkers) {
      issues.push({ path: overlay && isPlainMap(overlay.server) && "workers" in overlay.server ? "spec.valuesOverlay.server.workers" : "spec.workers.count", message: `${values.server.workers} exceeds ${rule}` });
    }
  }
  if (rules.maxResources) {
    for (const role of ["coordinator", "worker"] as const) {
      const specPath = role === "coordinator" ? "spec.coordinator" : "spec.workers";
      const resources = values[role].resources ?? {};
      for (const kind of ["requests", "limits"] as const) {
        const list = (resources[kind] ?? {}) as Record<string, string | number>;
        for (const resource of Object.keys(list).sort(compare)) {
          const max = (rules.maxResources as Record<string, string | number | undefined>)[resource];
          if (max === undefined) continue;
          const asked = parseQuantity(list[resource]);
          const limit = parseQuantity(max);
          if (asked !== undefined && limit !== undefined && asked > limit) {
            issues.push({
              path: `${specPath}.resources.${kind}.${resource}`,
              message: `${list[resource]} exceeds ${ruleName(policy, namespace, "maxResources")}.${resource} = ${max}`,
            });
          }
        }
      }
    }
  }
  return issues;
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function labelIssues(at: string, labels: Record<string, string>): Issue[] {
  const issues: Issue[] = [];
  for (const key of Object.keys(labels).sort(compare)) {
    const slash = key.lastIndexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if ((prefix !== undefined && (!LABEL_PREFIX.test(prefix) || prefix.length > 253)) || !LABEL_NAME.test(name) || name.length > 63) {
      issues.push({ path: `${at}.${key}`, message: "is not a valid label key ([prefix/]name: name ≤ 63 of alphanumerics, '-', '_', '.')" });
    }
    const value = labels[key];
    if (value !== "" && (!LABEL_NAME.test(value) || value.length > 63)) {
      issues.push({ path: `${at}.${key}`, message: "must be a valid label value (≤ 63 alphanumerics, '-', '_', '.', starting and ending alphanumeric)" });
    }
  }
  return issues;
}

/** Rules of one catalog beyond its schema. */
function catalogRules(catalog: XTrinodeCatalog): Issue[] {
  const plain = catalog.spec.properties ?? {};
  const issues: Issue[] = [];
  if ("connector.name" in plain) issues.push({ path: "spec.properties.connector.name", message: "is set by spec.connector; remove it here" });
  for (const key of Object.keys(catalog.spec.secretProperties ?? {}).sort(compare)) {
    if (key in plain) issues.push({ path: `spec.secretProperties.${key}`, message: `is also set in spec.properties; keep one` });
  }
  return issues;
}

/** Validates a whole spec set: every document, plus cross-document rules. Issues carry file/document. */
export function validateSpecSet(set: SpecSet): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const locate = (doc: object, issue: ValidationIssue): ValidationIssue => {
    const source = set.sources.get(doc);
    return source ? { file: source.file, document: source.document, ...issue } : issue;
  };

  const policyIssues = set.policy ? validateAgainstSchema("XTrinodePolicy", set.policy) : [];
  for (const issue of policyIssues) issues.push(locate(set.policy!, { kind: "XTrinodePolicy", ...issue }));
  // A broken policy is reported once; runtimes are then checked without it.
  const policy = policyIssues.length ? undefined : set.policy;
  const validCatalogs: XTrinodeCatalog[] = [];
  for (const catalog of set.catalogs) {
    const schemaIssues = validateAgainstSchema("XTrinodeCatalog", catalog);
    const found = schemaIssues.length ? schemaIssues : catalogRules(catalog);
    for (const issue of found) issues.push(locate(catalog, { kind: "XTrinodeCatalog", name: nameOf(catalog), ...issue }));
    if (!found.length) validCatalogs.push(catalog);
  }
  for (const runtime of set.runtimes) {
    for (const issue of validateRuntime({ runtime, catalogs: validCatalogs, policy })) issues.push(locate(runtime, issue));
  }

  // Cross-document rules.
  const seen = new Map<string, object>();
  const duplicate = (doc: object, kind: string, key: string) => {
    if (seen.has(`${kind}/${key}`)) {
      const first = set.sources.get(seen.get(`${kind}/${key}`)!);
      issues.push(locate(doc, { kind, name: key, path: "metadata.name", message: `duplicate ${kind} ${key}${first ? ` (first defined in ${first.file}#${first.document})` : ""}` }));
    } else seen.set(`${kind}/${key}`, doc);
  };
  for (const runtime of set.runtimes) if (isPlainMap(runtime.metadata)) duplicate(runtime, "XTrinode", `${namespaceOf(runtime)}/${runtime.metadata.name}`);
  for (const catalog of set.catalogs) if (isPlainMap(catalog.metadata)) duplicate(catalog, "XTrinodeCatalog", `${namespaceOf(catalog)}/${catalog.metadata.name}`);

  const hostOwners = new Map<string, string>();
  let defaultRoute: string | undefined;
  for (const runtime of set.runtimes) {
    if (!isPlainMap(runtime.metadata) || !isPlainMap(runtime.spec)) continue;
    const key = `${namespaceOf(runtime)}/${runtime.metadata.name}`;
    const route = (runtime.spec as XTrinode["spec"]).route;
    (Array.isArray(route?.hostnames) ? route.hostnames : []).forEach((host, i) => {
      const owner = hostOwners.get(host);
      if (owner && owner !== key) {
        issues.push(locate(runtime, { kind: "XTrinode", name: key, path: `spec.route.hostnames[${i}]`, message: `hostname "${host}" is already routed to ${owner}; hostnames must be unique across runtimes` }));
      } else hostOwners.set(host, key);
    });
    if (route?.default === true) {
      if (defaultRoute) {
        issues.push(locate(runtime, { kind: "XTrinode", name: key, path: "spec.route.default", message: `${defaultRoute} is already the default route; only one runtime may be` }));
      } else defaultRoute = key;
    }
  }
  return issues;
}
