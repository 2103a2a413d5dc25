// Validation of specs: the JSON Schemas (schemas/validate.ts) first, then rules a schema cannot
// express (cross-field, cross-document, operator policy). Every issue names the field and the fix.
import type { TrinoValues } from "../schemas/generated/types.ts";
import { validateAgainstSchema } from "../schemas/validate.ts";
import { catalogSecretRefs, compare, matchesSelector, selectCatalogs } from "./catalogs.ts";
import { jvmConfigSources, propertyLinesIssues } from "./config-files.ts";
import { copyWithinLimits } from "./limits.ts";
import {
  celIssue,
  isPlainMap,
  isQualifiedName,
  MAX_RUNTIME_NAME,
  maxLabelLength,
  NODE_POOL_PROVIDERS,
  ownerLabel,
  qualifiedNamePartPattern,
} from "../schemas/api/index.ts";
import { namespaceOf, selectorLabels, trinoCatalogName } from "./names.ts";
import { memoryLimitWithoutSpec, ruleName, rulesFor, type NamespaceRules } from "./policy.ts";
import { parseHeapSize, parseQuantity } from "./quantity.ts";
import type { RenderRuntimeInput, SpecSet, ValidationIssue, XTrinode, XTrinodeCatalog, XTrinodePolicy } from "./types.ts";
import { buildValues, type BuiltValues } from "./values.ts";

type Issue = Pick<ValidationIssue, "path" | "message">;

export interface ValidateOptions {
  /**
   * Accept a spec set without any XTrinode. Off by default: rendering such a set (a wrong path, a
   * broken checkout) would remove every runtime, so it must be asked for (CLI --allow-empty).
   */
  allowEmpty?: boolean;
}

/** Every issue of one runtime (schema, semantics, policy), each tagged with kind and name. */
export function validateRuntime(input: RenderRuntimeInput): ValidationIssue[] {
  return checkRuntime(input).issues;
}

/**
 * validateRuntime, and when there is no issue the Helm values it checked (built unsuspended), so
 * rendering does not build them again.
 */
export function checkRuntime(input: RenderRuntimeInput): { issues: ValidationIssue[]; built?: BuiltValues } {
  let built: BuiltValues | undefined;
  const issues = runtimeIssues(input, true, (values) => (built = values));
  return issues.length ? { issues } : { issues, built };
}

/**
 * validateRuntime; `checkPolicy` false when the caller reports the policy's own issues once
 * (validateSpecSet); `keep` receives the values built for the checks.
 */
function runtimeIssues(input: RenderRuntimeInput, checkPolicy: boolean, keep?: (built: BuiltValues) => void): ValidationIssue[] {
  const { runtime } = input;
  const tag = (issue: Issue): ValidationIssue => ({ kind: "XTrinode", name: nameOf(runtime), ...issue });
  // First, and before any walk: a document from the API server (the operator) is bounded like a file.
  const limit = limitIssues(runtime);
  if (limit.length) return limit.map(tag);
  const schemaIssues = validateAgainstSchema("XTrinode", runtime);
  if (schemaIssues.length) return schemaIssues.map(tag);
  // Only the catalogs this runtime selects: a broken catalog nobody uses must not block it.
  const candidates = input.catalogs.filter((c) => isPlainMap(c) && isPlainMap(c.metadata) && typeof c.metadata.name === "string");
  const catalogIssues = selectCatalogsLoosely(runtime, candidates).flatMap((c) =>
    catalogIssuesOf(c).map((i) => ({ kind: "XTrinodeCatalog", name: nameOf(c), ...i })),
  );
  const policyIssues =
    input.policy && checkPolicy ? policyIssuesFor(input.policy, namespaceOf(runtime)).map((i) => ({ kind: "XTrinodePolicy", ...i })) : [];
  if (catalogIssues.length || policyIssues.length) return [...catalogIssues, ...policyIssues];
  return runtimeRules(runtime, input.catalogs, input.policy, keep).map(tag);
}

/** Size and depth bounds (limits.ts) of a document, whichever way it arrived. */
function limitIssues(doc: unknown): Issue[] {
  const result = copyWithinLimits(doc);
  return "issue" in result ? [result.issue] : [];
}

/** A catalog's issues: bounds, then its schema, then the rules beyond it. */
function catalogIssuesOf(catalog: XTrinodeCatalog): Issue[] {
  const limit = limitIssues(catalog);
  if (limit.length) return limit;
  const schemaIssues = validateAgainstSchema("XTrinodeCatalog", catalog);
  return schemaIssues.length ? schemaIssues : catalogRules(catalog);
}

/** selectCatalogs on catalogs not yet schema-checked (spec may be missing: sort by metadata name). */
function selectCatalogsLoosely(runtime: XTrinode, catalogs: XTrinodeCatalog[]): XTrinodeCatalog[] {
  const namespace = namespaceOf(runtime);
  const names = new Set(runtime.spec.catalogs?.names ?? []);
  const selector = runtime.spec.catalogs?.selector;
  return catalogs.filter(
    (c) =>
      namespaceOf(c) === namespace &&
      (names.has(c.metadata.name) ||
        (selector !== undefined && isPlainMap(c.metadata.labels ?? {}) && matchesSelector(c.metadata.labels, selector))),
  );
}

function nameOf(doc: unknown): string | undefined {
  const metadata = isPlainMap(doc) && isPlainMap(doc.metadata) ? doc.metadata : undefined;
  if (!metadata || typeof metadata.name !== "string") return undefined;
  return typeof metadata.namespace === "string" && metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name;
}

function runtimeRules(
  runtime: XTrinode,
  catalogs: XTrinodeCatalog[],
  policy: XTrinodePolicy | undefined,
  keep?: (built: BuiltValues) => void,
): Issue[] {
  const issues: Issue[] = [];
  const spec = runtime.spec;
  const namespace = namespaceOf(runtime);
  const rules = rulesFor(policy, namespace);
  const workers = spec.workers ?? {};

  // Rules CEL also carries in the CRDs (cel-rules.ts): the same path and message.
  if (runtime.metadata.name.length > MAX_RUNTIME_NAME) issues.push(celIssue("runtimeNameLength"));
  if (!/^[a-z]/.test(runtime.metadata.name)) issues.push(celIssue("runtimeNameLetter"));

  // Labels copied onto rendered objects or nodes must be valid Kubernetes labels.
  const labelMaps: Array<[string, Record<string, string> | undefined]> = [
    ["metadata.labels", runtime.metadata.labels],
    ["spec.monitoring.labels", spec.monitoring?.labels],
    ["spec.nodePool.labels", spec.nodePool?.labels],
    ["spec.coordinator.nodeSelector", spec.coordinator?.nodeSelector],
    ["spec.workers.nodeSelector", workers.nodeSelector],
  ];
  for (const [at, labels] of labelMaps) issues.push(...labelIssues(at, labels ?? {}));
  issues.push(...annotationIssues("metadata.annotations", runtime.metadata.annotations ?? {}));

  // Workers
  if (workers.mode === "keda") {
    if (workers.max === undefined) issues.push(celIssue("kedaMaxRequired"));
    else if (workers.max < (workers.min ?? 0)) issues.push(celIssue("kedaMaxAtLeastMin"));
    if (!workers.keda?.queryPressure && !workers.keda?.triggers?.length) issues.push(celIssue("kedaNeedsTrigger"));
    if (workers.count !== undefined) issues.push(celIssue("countFixedOnly"));
  } else {
    if (workers.min !== undefined) issues.push(celIssue("minKedaOnly"));
    if (workers.max !== undefined) issues.push(celIssue("maxKedaOnly"));
    if (workers.keda !== undefined) issues.push(celIssue("kedaSettingsKedaOnly"));
  }

  // Catalogs named must exist in the namespace.
  const present = new Set(catalogs.filter((c) => namespaceOf(c) === namespace).map((c) => c.metadata.name));
  (spec.catalogs?.names ?? []).forEach((name, i) => {
    if (!present.has(name))
      issues.push({ path: `spec.catalogs.names[${i}]`, message: `XTrinodeCatalog "${name}" not found in namespace ${namespace}` });
  });
  const selected = selectCatalogs(runtime, catalogs);
  const envOwners = new Map<string, string>();
  for (const ref of selected.flatMap(catalogSecretRefs)) {
    const owner = `${ref.catalog}.${ref.property}`;
    const other = envOwners.get(ref.env);
    if (other)
      issues.push({
        path: "spec.catalogs",
        message: `catalog properties ${other} and ${owner} both map to env var ${ref.env}; rename one catalog or property`,
      });
    envOwners.set(ref.env, owner);
  }
  const byTrinoName = new Map<string, string>();
  for (const catalog of selected) {
    const trinoName = trinoCatalogName(catalog);
    const other = byTrinoName.get(trinoName);
    if (other)
      issues.push({
        path: "spec.catalogs",
        message: `selects XTrinodeCatalogs "${other}" and "${catalog.metadata.name}", which both define Trino catalog "${trinoName}"`,
      });
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
    if (!(NODE_POOL_PROVIDERS as readonly string[]).includes(provider)) issues.push(celIssue("nodePoolProvider"));
    if ((pool.max ?? 3) < (pool.min ?? 1)) issues.push(celIssue("nodePoolMaxAtLeastMin"));
  }

  // valuesOverlay is privileged.
  const overlay = spec.valuesOverlay as Record<string, unknown> | undefined;
  const hasOverlay = overlay !== undefined && Object.keys(overlay).length > 0;
  if (hasOverlay && !rules.allowValuesOverlay) {
    issues.push({
      path: "spec.valuesOverlay",
      message: `is not allowed in namespace ${namespace} (${ruleName(policy, namespace, "allowValuesOverlay")} is not true)`,
    });
  }
  if (issues.length) return issues;

  // Checks on the final values (after the overlay).
  const built = buildValues({ runtime, catalogs: selected, suspended: false, defaultMemoryLimit: memoryLimitWithoutSpec(rules) });
  keep?.(built);
  const raw = built.values;
  const valueIssues = validateAgainstSchema("TrinoValues", raw);
  if (valueIssues.length) {
    return valueIssues.map((i) => ({
      path: i.path ? `spec.valuesOverlay.${i.path}` : "spec.valuesOverlay",
      message: `${i.message} (in the Helm values after the overlay)`,
    }));
  }
  const values = raw as unknown as TrinoValues;
  // What the overlay brought in that the schema cannot check: labels, annotation keys, quantities.
  if (hasOverlay) {
    issues.push(...overlayValueIssues(values, runtime.metadata.name));
    if (issues.length) return issues;
  }
  const overlayHas = (...keys: string[]): boolean => {
    let at: unknown = overlay;
    for (const key of keys) at = isPlainMap(at) ? at[key] : undefined;
    return at !== undefined;
  };
  const specPathOf = (role: "coordinator" | "worker") => (role === "coordinator" ? "spec.coordinator" : "spec.workers");
  /** Where a role's value came from: the overlay when it sets it, else the spec field. */
  const rolePath = (role: "coordinator" | "worker", ...keys: string[]) =>
    overlayHas(role, ...keys) ? `spec.valuesOverlay.${role}.${keys.join(".")}` : `${specPathOf(role)}.${keys.join(".")}`;
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
      if (max > rules.maxWorkers)
        issues.push({ path: "spec.valuesOverlay.server.autoscaling.maxReplicas", message: `${max} exceeds ${rule}` });
    } else if (values.server.workers > rules.maxWorkers) {
      issues.push({
        path:
          overlay && isPlainMap(overlay.server) && "workers" in overlay.server ? "spec.valuesOverlay.server.workers" : "spec.workers.count",
        message: `${values.server.workers} exceeds ${rule}`,
      });
    }
  }
  if (rules.maxResources) {
    for (const role of ["coordinator", "worker"] as const) {
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
              path: rolePath(role, "resources", kind, resource),
              message: `${list[resource]} exceeds ${ruleName(policy, namespace, "maxResources")}.${resource} = ${max}`,
            });
          }
        }
      }
    }
  }

  // Requests above limits, and a JVM heap above the memory limit, counting what the namespace
  // LimitRange fills in for containers that set no limit (its default, else its max).
  for (const role of ["coordinator", "worker"] as const) {
    const resources = values[role].resources ?? {};
    const requests = (resources.requests ?? {}) as Record<string, string | number>;
    const limits = (resources.limits ?? {}) as Record<string, string | number>;
    const limitInForce = (resource: string): { value: string | number; from: string; source: "spec" | "default" | "max" } | undefined => {
      if (limits[resource] !== undefined)
        return { value: limits[resource], from: rolePath(role, "resources", "limits", resource), source: "spec" };
      const fallback = rules.defaultResources?.limits?.[resource as "cpu"];
      if (fallback !== undefined) {
        return {
          value: fallback,
          from: `the namespace LimitRange default, ${ruleName(policy, namespace, "defaultResources")}.limits.${resource}`,
          source: "default",
        };
      }
      const max = rules.maxResources?.[resource as "cpu"];
      if (max !== undefined)
        return {
          value: max,
          from: `the namespace LimitRange max, ${ruleName(policy, namespace, "maxResources")}.${resource}`,
          source: "max",
        };
      return undefined;
    };
    for (const resource of Object.keys(requests).sort(compare)) {
      const limit = limitInForce(resource);
      // A request above a max-derived limit is already reported above (exceeds maxResources).
      if (!limit || limit.source === "max") continue;
      const asked = parseQuantity(requests[resource]);
      const allowed = parseQuantity(limit.value);
      if (asked === undefined || allowed === undefined || asked <= allowed) continue;
      issues.push({
        path: rolePath(role, "resources", "requests", resource),
        message:
          limit.source === "spec"
            ? `${requests[resource]} exceeds ${limit.from} (${limit.value}); the API server rejects pods whose requests exceed their limits`
            : `${requests[resource]} exceeds the ${resource} limit in force, ${limit.value} (${limit.from}), so the API server rejects the pods; set ${specPathOf(role)}.resources.limits.${resource} too`,
      });
    }
    const heap = values[role].jvm?.maxHeapSize;
    const memory = limitInForce("memory");
    const heapBytes = heap === undefined ? undefined : parseHeapSize(heap);
    const memoryBytes = memory === undefined ? undefined : parseQuantity(memory.value);
    if (heapBytes !== undefined && memory && memoryBytes !== undefined && heapBytes > memoryBytes) {
      issues.push({
        path: rolePath(role, "jvm", "maxHeapSize"),
        message: `${heap} (JVM -Xmx) exceeds the container memory limit in force, ${memory.value} (${memory.from}); the container would be OOM-killed. Lower maxHeapSize (about 70-80% of the limit leaves room for off-heap memory) or raise the memory limit`,
      });
    }
  }
  return issues;
}

/** Container resource names the API server accepts: cpu, memory, ephemeral-storage, hugepages-<size>, or <domain>/<name>. */
function isContainerResourceName(name: string): boolean {
  if (name.includes("/")) return isQualifiedName(name);
  return ["cpu", "memory", "ephemeral-storage"].includes(name) || /^hugepages-[0-9]+(Ki|Mi|Gi)?$/.test(name);
}

/**
 * Values the overlay may have set that the values schema leaves open: label maps, annotation keys,
 * resource names and quantities, and the labels the Deployments select their pods by.
 */
function overlayValueIssues(values: TrinoValues, runtime: string): Issue[] {
  const issues: Issue[] = [];
  const at = (path: string) => `spec.valuesOverlay.${path}`;
  const labelMaps: Array<[string, Record<string, string> | undefined]> = [
    ["commonLabels", values.commonLabels],
    ["serviceMonitor.labels", values.serviceMonitor?.labels],
    ["coordinator.labels", values.coordinator.labels],
    ["worker.labels", values.worker.labels],
    ["coordinator.nodeSelector", values.coordinator.nodeSelector],
    ["worker.nodeSelector", values.worker.nodeSelector],
  ];
  for (const [path, labels] of labelMaps) issues.push(...labelIssues(at(path), labels ?? {}));
  const annotationMaps: Array<[string, Record<string, string> | undefined]> = [
    ["coordinator.annotations", values.coordinator.annotations],
    ["worker.annotations", values.worker.annotations],
    ["serviceAccount.annotations", values.serviceAccount?.annotations],
    ["service.annotations", values.service?.annotations],
    ["server.keda.annotations", values.server.keda.annotations],
  ];
  for (const [path, annotations] of annotationMaps) {
    // Pod annotations also carry XTrinode's checksum annotations.
    const reserved = path === "coordinator.annotations" || path === "worker.annotations" ? CHECKSUM_ANNOTATION_BYTES : 0;
    issues.push(...annotationIssues(at(path), annotations ?? {}, reserved));
  }
  // Properties-file text the overlay writes directly: every entry must stay the entry the renderer sees.
  const propertyTexts: Array<[string, string | undefined, boolean]> = [
    ["server.coordinatorExtraConfig", values.server.coordinatorExtraConfig, false],
    ["server.workerExtraConfig", values.server.workerExtraConfig, false],
    ...(["additionalNodeProperties", "additionalConfigProperties", "additionalLogProperties"] as const).flatMap((list) =>
      (values[list] ?? []).map((line, i): [string, string, boolean] => [`${list}[${i}]`, line, true]),
    ),
    ...Object.keys(values.catalogs)
      .sort(compare)
      .map((name): [string, string, boolean] => [`catalogs.${name}`, values.catalogs[name], false]),
  ];
  for (const [path, text, oneLine] of propertyTexts) {
    for (const message of text === undefined ? [] : propertyLinesIssues(text, oneLine)) issues.push({ path: at(path), message });
  }
  // jvm.config is one option per line, with no escaping: a line break would add an option.
  for (const role of ["coordinator", "worker"] as const) {
    for (const [path, line] of jvmConfigSources(values, role)) {
      if (line !== undefined && /[\r\n]/.test(line))
        issues.push({
          path: at(`${role}.${path}`),
          message:
            "is one line of jvm.config and contains a line break, which would add another JVM option; use one additionalJVMConfig entry per option",
        });
    }
  }
  for (const role of ["coordinator", "worker"] as const) {
    for (const kind of ["requests", "limits"] as const) {
      const list = (values[role].resources?.[kind] ?? {}) as Record<string, string | number>;
      for (const resource of Object.keys(list).sort(compare)) {
        const path = at(`${role}.resources.${kind}.${resource}`);
        if (!isContainerResourceName(resource)) {
          issues.push({
            path,
            message: "is not a container resource name (cpu, memory, ephemeral-storage, hugepages-<size>, or <domain>/<name>)",
          });
        }
        const quantity = parseQuantity(list[resource]);
        if (quantity === undefined || quantity < 0)
          issues.push({ path, message: `${JSON.stringify(list[resource])} is not a Kubernetes quantity (e.g. 500m, 2, 8Gi)` });
      }
    }
    // The Deployment selects its pods by these labels, and the operator finds a runtime's objects by the owner label.
    const reserved: Record<string, string> = { ...selectorLabels(runtime, role), [ownerLabel]: runtime };
    const labels = values[role].labels ?? {};
    for (const key of Object.keys(reserved).sort(compare)) {
      if (key in labels && labels[key] !== reserved[key]) {
        issues.push({
          path: at(`${role}.labels.${key}`),
          message: `overrides the label ${key}=${reserved[key]} that XTrinode sets on the ${role} pods (the Deployment selects its pods by it; a Deployment whose pod labels do not match its selector is rejected); remove it`,
        });
      }
    }
  }
  return issues;
}

/** Kubernetes refuses an object whose annotation keys and values total more than 256 KiB (TotalAnnotationSizeLimitB). */
const MAX_ANNOTATION_BYTES = 256 * 1024;
/** Room for the two checksum/* annotations (sha256 hex) the renderer adds to pod templates. */
const CHECKSUM_ANNOTATION_BYTES = 256;

/** Annotation keys must be qualified names, and the map must fit the API server's size limit. */
function annotationIssues(at: string, annotations: Record<string, string>, reservedBytes = 0): Issue[] {
  const issues: Issue[] = [];
  let bytes = reservedBytes;
  for (const key of Object.keys(annotations).sort(compare)) {
    if (!isQualifiedName(key))
      issues.push({
        path: `${at}.${key}`,
        message: "is not a valid annotation key ([prefix/]name: name ≤ 63 of alphanumerics, '-', '_', '.')",
      });
    bytes += Buffer.byteLength(key) + Buffer.byteLength(String(annotations[key]));
  }
  if (bytes > MAX_ANNOTATION_BYTES) {
    issues.push({
      path: at,
      message: `annotations total ${bytes} bytes${reservedBytes ? ` (with ${reservedBytes} bytes kept for XTrinode's own)` : ""}, and the API server refuses more than ${MAX_ANNOTATION_BYTES} bytes of annotation keys and values per object; keep large data out of annotations (a ConfigMap)`,
    });
  }
  return issues;
}

function labelIssues(at: string, labels: Record<string, string>): Issue[] {
  const issues: Issue[] = [];
  for (const key of Object.keys(labels).sort(compare)) {
    if (!isQualifiedName(key)) {
      issues.push({ path: `${at}.${key}`, message: "is not a valid label key ([prefix/]name: name ≤ 63 of alphanumerics, '-', '_', '.')" });
    }
    const value = labels[key];
    if (value !== "" && (!qualifiedNamePartPattern.test(value) || value.length > maxLabelLength)) {
      issues.push({
        path: `${at}.${key}`,
        message: "must be a valid label value (≤ 63 alphanumerics, '-', '_', '.', starting and ending alphanumeric)",
      });
    }
  }
  return issues;
}

/** Rules of one catalog beyond its schema. */
function catalogRules(catalog: XTrinodeCatalog): Issue[] {
  const plain = catalog.spec.properties ?? {};
  const issues: Issue[] = annotationIssues("metadata.annotations", catalog.metadata.annotations ?? {});
  if ("connector.name" in plain) issues.push(celIssue("catalogConnectorName"));
  for (const key of Object.keys(catalog.spec.secretProperties ?? {}).sort(compare)) {
    if (key in plain) issues.push({ path: `spec.secretProperties.${key}`, message: `is also set in spec.properties; keep one` });
  }
  // spec.properties are rendered into a ConfigMap (and committed to Git by gitops sync): no secrets.
  for (const key of Object.keys(plain).sort(compare)) {
    const value = plain[key].replace(/\$\{ENV:[^}]*\}/g, "");
    if (secretLikeProperty(key, value)) {
      issues.push({
        path: `spec.properties.${key}`,
        message: `looks like a secret, and spec.properties are stored in a ConfigMap and in Git; move it to spec.secretProperties.${key}: {secretName, key} (the value then stays in a Secret)`,
      });
    } else if (URL_PASSWORD.some((pattern) => pattern.test(value))) {
      issues.push({
        path: `spec.properties.${key}`,
        message:
          "contains a password (password=… or user:password@), and spec.properties are stored in a ConfigMap and in Git; remove it from the value and set it through spec.secretProperties (e.g. spec.secretProperties.connection-password: {secretName, key})",
      });
    }
  }
  return issues;
}

// Secret-looking catalog property names. Words are the name's parts split at '.', '-', '_'.
// Anywhere in the name: password, passwd, passphrase, secret (connection-password, hive.s3.aws-secret-key,
// azure.oauth.secret, *.keystore-password). As the last word: token, credential(s)
// (iceberg.rest-catalog.oauth2.token / .credential, hive.azure.adl-credential, mongodb.credentials).
// "<qualifier>-key" where the qualifier names key material (gcs.json-key, bigquery.credentials-key,
// azure.access-key, s3.sse.customer-key, *.private-key, *.api-key). Not secrets: an access key ID outside
// Azure (hive.s3.aws-access-key, s3.aws-access-key, kinesis.access-key: an identifier, the secret key is
// the secret), names ending in file/path/provider/enabled/type (gcs.json-key-file-path,
// hive.metastore.glue.aws-credentials-provider, prometheus.bearer-token-file), true/false switches
// (gcs.use-access-token) and empty values or ${ENV:...} placeholders.
const SECRET_WORD = /^(password|passwd|passphrase|secret)s?$/;
const SECRET_LAST_WORDS = new Set(["token", "tokens", "credential", "credentials"]);
const SECRET_KEY_QUALIFIERS = new Set([
  "private",
  "api",
  "json",
  "credentials",
  "customer",
  "account",
  "shared",
  "access",
  "signing",
  "encryption",
  "master",
]);
const NOT_SECRET_LAST_WORDS = new Set(["file", "path", "paths", "provider", "enabled", "type"]);
const AZURE_WORDS = new Set(["azure", "abfs", "wasb", "adl"]);
/** A password inside a URL-like value: a password= parameter (JDBC/ODBC style), user:password@host, Oracle user/password@. */
const URL_PASSWORD = [/(^|[?&;])[a-z0-9_.-]*(password|passwd|pwd)=[^&;\s]/i, /\/\/[^/?#@\s:]*:[^/?#@\s]+@/, /:thin:[^/@\s:]+\/[^@\s]+@/i];

function secretLikeProperty(key: string, value: string): boolean {
  if (!value.trim() || /^(true|false)$/i.test(value.trim())) return false;
  const words = key
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const last = words.at(-1) ?? "";
  if (NOT_SECRET_LAST_WORDS.has(last)) return false;
  if (words.some((word) => SECRET_WORD.test(word)) || SECRET_LAST_WORDS.has(last)) return true;
  const qualifier = words.at(-2) ?? "";
  if (last !== "key" || !SECRET_KEY_QUALIFIERS.has(qualifier)) return false;
  // An "access key" is an AWS-style key ID (kinesis.access-key, s3.aws-access-key) except in Azure
  // storage, where it is the account's secret key (azure.access-key, hive.azure.abfs-access-key).
  return qualifier !== "access" || words.some((word) => AZURE_WORDS.has(word));
}

/**
 * Issues of the policy: its schema, then what the API server would reject in the LimitRange and
 * ResourceQuota rendered from it. With `namespace`, only the rules that apply there.
 */
function policyIssuesFor(policy: XTrinodePolicy, namespace?: string): Issue[] {
  const schemaIssues = validateAgainstSchema("XTrinodePolicy", policy);
  if (schemaIssues.length) return schemaIssues;
  const scopes: Array<[string, NamespaceRules | undefined]> =
    namespace === undefined
      ? [
          ["defaults", policy.defaults],
          ...Object.keys(policy.namespaces ?? {})
            .sort(compare)
            .map((ns): [string, NamespaceRules] => [`namespaces.${ns}`, policy.namespaces![ns]]),
        ]
      : [[policy.namespaces?.[namespace] ? `namespaces.${namespace}` : "defaults", rulesFor(policy, namespace)]];
  return scopes.flatMap(([scope, rules]) => (rules ? namespaceRulesIssues(scope, rules) : []));
}

// ResourceQuota spec.hard names without a '/' that the API server knows (core/helper IsStandardQuotaResourceName).
const QUOTA_RESOURCES = new Set([
  "cpu",
  "memory",
  "ephemeral-storage",
  "requests.cpu",
  "requests.memory",
  "requests.storage",
  "requests.ephemeral-storage",
  "limits.cpu",
  "limits.memory",
  "limits.ephemeral-storage",
  "pods",
  "resourcequotas",
  "services",
  "replicationcontrollers",
  "secrets",
  "persistentvolumeclaims",
  "configmaps",
  "services.nodeports",
  "services.loadbalancers",
]);

function namespaceRulesIssues(scope: string, rules: NamespaceRules): Issue[] {
  const issues: Issue[] = [];
  for (const key of Object.keys(rules.quota ?? {}).sort(compare)) {
    const valid = key.includes("/") ? isQualifiedName(key) : QUOTA_RESOURCES.has(key) || /^(requests\.)?hugepages-./.test(key);
    if (!valid) {
      issues.push({
        path: `${scope}.quota.${key}`,
        message:
          "is not a ResourceQuota resource name, so the API server rejects the ResourceQuota; use a standard one (requests.cpu, requests.memory, limits.cpu, limits.memory, pods, services, …) or a qualified one (count/deployments.apps, requests.nvidia.com/gpu)",
      });
    }
  }
  // The LimitRange: default request ≤ default limit ≤ max (a request with no default limit: ≤ max).
  const requests = (rules.defaultResources?.requests ?? {}) as Record<string, string | number>;
  const limits = (rules.defaultResources?.limits ?? {}) as Record<string, string | number>;
  const max = (rules.maxResources ?? {}) as Record<string, string | number>;
  const above = (a: string | number | undefined, b: string | number | undefined) => {
    const [x, y] = [a === undefined ? undefined : parseQuantity(a), b === undefined ? undefined : parseQuantity(b)];
    return x !== undefined && y !== undefined && x > y;
  };
  const rejected = "so the API server rejects the namespace LimitRange";
  for (const resource of [...new Set([...Object.keys(requests), ...Object.keys(limits)])].sort(compare)) {
    if (above(requests[resource], limits[resource])) {
      issues.push({
        path: `${scope}.defaultResources.requests.${resource}`,
        message: `${requests[resource]} exceeds defaultResources.limits.${resource} (${limits[resource]}), ${rejected}; lower the default request or raise the default limit`,
      });
    } else if (limits[resource] === undefined && above(requests[resource], max[resource])) {
      issues.push({
        path: `${scope}.defaultResources.requests.${resource}`,
        message: `${requests[resource]} exceeds maxResources.${resource} (${max[resource]}), ${rejected}; lower the default request or raise the max`,
      });
    }
    if (above(limits[resource], max[resource])) {
      issues.push({
        path: `${scope}.defaultResources.limits.${resource}`,
        message: `${limits[resource]} exceeds maxResources.${resource} (${max[resource]}), ${rejected}; lower the default limit or raise the max`,
      });
    }
  }
  return issues;
}

/**
 * Validates a whole spec set: every document, plus cross-document rules. Issues carry file/document.
 * A set without any XTrinode is an error unless options.allowEmpty.
 */
export function validateSpecSet(set: SpecSet, options: ValidateOptions = {}): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const locate = (doc: object, issue: ValidationIssue): ValidationIssue => {
    const source = set.sources.get(doc);
    return source ? { file: source.file, document: source.document, ...issue } : issue;
  };

  const policyIssues = set.policy ? policyIssuesFor(set.policy) : [];
  for (const issue of policyIssues) issues.push(locate(set.policy!, { kind: "XTrinodePolicy", ...issue }));
  // A policy is reported once; one failing its schema is unusable, and runtimes are then checked without it.
  const policy = set.policy && validateAgainstSchema("XTrinodePolicy", set.policy).length ? undefined : set.policy;
  const validCatalogs: XTrinodeCatalog[] = [];
  for (const catalog of set.catalogs) {
    const found = catalogIssuesOf(catalog);
    for (const issue of found) issues.push(locate(catalog, { kind: "XTrinodeCatalog", name: nameOf(catalog), ...issue }));
    if (!found.length) validCatalogs.push(catalog);
  }
  for (const runtime of set.runtimes) {
    for (const issue of runtimeIssues({ runtime, catalogs: validCatalogs, policy }, false)) issues.push(locate(runtime, issue));
  }
  if (!set.runtimes.length && !options.allowEmpty) issues.push(emptySetIssue(set));

  // Cross-document rules.
  const seen = new Map<string, object>();
  const duplicate = (doc: object, kind: string, key: string) => {
    if (seen.has(`${kind}/${key}`)) {
      const first = set.sources.get(seen.get(`${kind}/${key}`)!);
      issues.push(
        locate(doc, {
          kind,
          name: key,
          path: "metadata.name",
          message: `duplicate ${kind} ${key}${first ? ` (first defined in ${first.file}#${first.document})` : ""}`,
        }),
      );
    } else seen.set(`${kind}/${key}`, doc);
  };
  for (const runtime of set.runtimes)
    if (isPlainMap(runtime.metadata)) duplicate(runtime, "XTrinode", `${namespaceOf(runtime)}/${runtime.metadata.name}`);
  for (const catalog of set.catalogs)
    if (isPlainMap(catalog.metadata)) duplicate(catalog, "XTrinodeCatalog", `${namespaceOf(catalog)}/${catalog.metadata.name}`);

  const hostOwners = new Map<string, string>();
  let defaultRoute: string | undefined;
  for (const runtime of set.runtimes) {
    if (!isPlainMap(runtime.metadata) || !isPlainMap(runtime.spec)) continue;
    const key = `${namespaceOf(runtime)}/${runtime.metadata.name}`;
    const route = (runtime.spec as XTrinode["spec"]).route;
    (Array.isArray(route?.hostnames) ? route.hostnames : []).forEach((host, i) => {
      const owner = hostOwners.get(host);
      if (owner && owner !== key) {
        issues.push(
          locate(runtime, {
            kind: "XTrinode",
            name: key,
            path: `spec.route.hostnames[${i}]`,
            message: `hostname "${host}" is already routed to ${owner}; hostnames must be unique across runtimes`,
          }),
        );
      } else hostOwners.set(host, key);
    });
    if (route?.default === true) {
      if (defaultRoute) {
        issues.push(
          locate(runtime, {
            kind: "XTrinode",
            name: key,
            path: "spec.route.default",
            message: `${defaultRoute} is already the default route; only one runtime may be`,
          }),
        );
      } else defaultRoute = key;
    }
  }
  return issues;
}

/** No XTrinode at all: rendering would remove every runtime (gitops sync would delete them all from Git). */
function emptySetIssue(set: SpecSet): ValidationIssue {
  const files = set.files ?? [...new Set([...set.sources.values()].map((source) => source.file))];
  const fix =
    "rendering the specs would remove every runtime. Add XTrinode specs, or confirm that no runtimes are wanted (allowEmpty; CLI --allow-empty)";
  if (files.length === 1) return { file: files[0], path: "", message: `has no XTrinode documents; ${fix}` };
  const shown = files.slice(0, 3).join(", ") + (files.length > 3 ? `, … (${files.length} files)` : "");
  return { path: "", message: `no XTrinode documents in the spec files${files.length ? ` (${shown})` : ""}; ${fix}` };
}
