// renderRuntime / renderNamespace / renderAll: specs → values → templates → Kubernetes objects. Pure.
import { createHash } from "node:crypto";
import type { GatewayRoutes, RouteEntry, TrinoValues } from "../schemas/generated/types.ts";
import {
  apiVersion,
  defaultGatewayNamespace,
  encodeRoutes,
  kinds,
  managedBy,
  nodePoolClassAnnotation,
  nodePoolLabel,
  routesConfigMapName,
  routesDataKey,
} from "../schemas/api/index.ts";
import { compare, selectCatalogs } from "./catalogs.ts";
import { catalogFiles, roleConfigFiles } from "./config-files.ts";
import { backendUrl, guardrailLabels, namespaceOf, runtimeLabels, runtimeNames, selectorLabels, type RuntimeNames } from "./names.ts";
import { memoryLimitWithoutSpec, rulesFor } from "./policy.ts";
import { infrastructureTemplate } from "./node-pool.ts";
import { renderObject } from "./templates.ts";
import {
  RenderError,
  type KubeObject,
  type NamespaceRender,
  type RenderAllResult,
  type RenderRuntimeInput,
  type RenderedRuntime,
  type SpecSet,
  type XTrinode,
  type XTrinodePolicy,
} from "./types.ts";
import { buildValues, suspendValues, type BuiltValues } from "./values.ts";
import { checkRuntime, validateSpecSet, type ValidateOptions } from "./validate.ts";

/** Apply order: node pool first (pods wait for it), then config, services, workloads, autoscalers. */
const RUNTIME_TEMPLATES = [
  "nodepool-machinetemplate",
  "nodepool-bootstrap",
  "nodepool-machinedeployment",
  "serviceaccount",
  "configmap-coordinator",
  "configmap-worker",
  "configmap-catalog",
  "service-coordinator",
  "service-worker",
  "deployment-coordinator",
  "deployment-worker",
  "poddisruptionbudget-worker",
  "autoscaler",
  "keda-scaledobject",
  "servicemonitor",
] as const;

const NAMESPACE_TEMPLATES = ["namespace-resourcequota", "namespace-limitrange"] as const;

export function isSuspended(runtime: XTrinode, override?: boolean): boolean {
  return override ?? runtime.spec.lifecycle?.suspended ?? false;
}

/** Renders one runtime. Throws RenderError listing every issue when the input is invalid. */
export function renderRuntime(input: RenderRuntimeInput): RenderedRuntime {
  return renderCheckedRuntime(checkRuntimeInput(input), input.suspended);
}

/** A runtime input that passed validation, with the (unsuspended) values built to check it. */
export interface CheckedRuntime {
  input: RenderRuntimeInput;
  built: BuiltValues;
  /** Names of the catalogs the runtime selects, sorted. */
  catalogs: string[];
}

/** Validates once (throws RenderError listing every issue) and keeps the values built for it. */
export function checkRuntimeInput(input: RenderRuntimeInput): CheckedRuntime {
  const { issues, built } = checkRuntime(input);
  if (issues.length || !built) throw new RenderError(issues);
  return {
    input,
    built,
    catalogs: selectCatalogs(input.runtime, input.catalogs)
      .map((c) => c.metadata.name)
      .sort(compare),
  };
}

/** Renders a checked runtime, suspended or not (`suspended` undefined: as its spec says), without validating or building its values again. */
export function renderCheckedRuntime(checked: CheckedRuntime, suspended?: boolean): RenderedRuntime {
  const { runtime } = checked.input;
  return renderValidRuntime(
    { ...checked.input, suspended },
    { ...checked.built, values: suspendValues(checked.built.values, isSuspended(runtime, suspended)) },
  );
}

function renderValidRuntime(input: RenderRuntimeInput, built?: BuiltValues): RenderedRuntime {
  const { runtime } = input;
  const names = runtimeNames(runtime);
  const catalogs = selectCatalogs(runtime, input.catalogs);
  const defaultMemoryLimit = memoryLimitWithoutSpec(rulesFor(input.policy, names.namespace));
  const { values: rawValues, secretRefs } =
    built ?? buildValues({ runtime, catalogs, suspended: isSuspended(runtime, input.suspended), defaultMemoryLimit });
  const values = rawValues as unknown as TrinoValues;
  const context = templateContext(values, names);
  const objects: KubeObject[] = [];
  for (const name of RUNTIME_TEMPLATES) {
    const object = renderObject(name, context);
    if (object) objects.push(object);
  }
  const spec = runtime.spec;
  const route: Omit<RouteEntry, "state"> = { name: names.runtime, namespace: names.namespace, backend: backendUrl(names) };
  if (spec.route?.hostnames?.length) route.hostnames = [...spec.route.hostnames];
  if (spec.route?.pool) route.pool = spec.route.pool;
  if (spec.route?.default) route.default = true;
  return {
    namespace: names.namespace,
    name: names.runtime,
    values: rawValues,
    objects,
    route,
    catalogs: catalogs.map((c) => c.metadata.name).sort(compare),
    secretRefs,
  };
}

/** sha256 of a ConfigMap's data: a pod template annotation, so a config change rolls its pods. */
export function checksum(data: Record<string, string>): string {
  return createHash("sha256").update(JSON.stringify(data)).digest("hex");
}

function templateContext(values: TrinoValues, names: RuntimeNames) {
  const common = values.commonLabels;
  const components = ["coordinator", "worker", "catalog", "runtime", "node-pool"];
  const labels = Object.fromEntries(components.map((c) => [c, runtimeLabels(names.runtime, c, common)]));
  const data = {
    coordinator: roleConfigFiles(values, "coordinator"),
    worker: roleConfigFiles(values, "worker"),
    catalog: catalogFiles(values),
  };
  const catalogChecksum = checksum(data.catalog);
  const suspended = values.xtrinode.suspended;
  const autoscaler = values.server.keda.enabled ? "keda" : values.server.autoscaling.enabled ? "hpa" : null;
  const image = values.image.digest
    ? `${registryPrefix(values)}${values.image.repository}@${values.image.digest}`
    : `${registryPrefix(values)}${values.image.repository}:${values.image.tag || "480"}`;
  const pool = values.xtrinode.nodePool;
  return {
    values,
    names,
    labels,
    selector: { coordinator: selectorLabels(names.runtime, "coordinator"), worker: selectorLabels(names.runtime, "worker") },
    // Selector labels last: a Deployment's pod labels must match its selector (validation also refuses overriding them).
    podLabels: {
      coordinator: { ...labels.coordinator, ...(values.coordinator.labels ?? {}), ...selectorLabels(names.runtime, "coordinator") },
      worker: { ...labels.worker, ...(values.worker.labels ?? {}), ...selectorLabels(names.runtime, "worker") },
    },
    podAnnotations: {
      coordinator: {
        ...(values.coordinator.annotations ?? {}),
        "checksum/catalog-config": catalogChecksum,
        "checksum/coordinator-config": checksum(data.coordinator),
      },
      worker: {
        ...(values.worker.annotations ?? {}),
        "checksum/catalog-config": catalogChecksum,
        "checksum/worker-config": checksum(data.worker),
      },
    },
    serviceMonitorSelector: { "app.kubernetes.io/name": "trino", "app.kubernetes.io/instance": names.runtime },
    data,
    image,
    configPath: values.server.config.path ?? "/etc/trino",
    replicas: { coordinator: suspended ? 0 : 1, worker: autoscaler ? null : values.server.workers },
    autoscaler,
    hpa: {
      // An HPA cannot scale from zero: at least one worker.
      minReplicas: Math.max(1, values.server.workers),
      metrics: [
        { name: "cpu", utilization: values.server.autoscaling.targetCPUUtilizationPercentage },
        { name: "memory", utilization: values.server.autoscaling.targetMemoryUtilizationPercentage },
      ].filter((m) => typeof m.utilization === "number"),
    },
    pool: pool
      ? {
          name: pool.name,
          clusterName: pool.clusterName,
          replicas: suspended ? 0 : pool.min,
          selector: { [nodePoolLabel]: pool.labels[nodePoolLabel] },
          annotations: {
            "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size": String(suspended ? 0 : pool.min),
            "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size": String(pool.max),
            [nodePoolClassAnnotation]: pool.class,
          },
          infra: infrastructureTemplate(pool.provider, pool.instanceType),
          nodeLabels: Object.keys(pool.labels)
            .sort(compare)
            .map((k) => `${k}=${pool.labels[k]}`)
            .join(","),
          taints: pool.taints,
        }
      : null,
  };
}

function registryPrefix(values: TrinoValues): string {
  return values.image.registry ? `${values.image.registry.replace(/\/$/, "")}/` : "";
}

/** Namespace guardrails from the policy: ResourceQuota and LimitRange (none when no rules). */
export function renderNamespace(namespace: string, policy: XTrinodePolicy | undefined): KubeObject[] {
  const rules = rulesFor(policy, namespace);
  const defaults = rules.defaultResources;
  const limits =
    defaults?.limits || defaults?.requests || rules.maxResources
      ? { default: defaults?.limits ?? null, defaultRequest: defaults?.requests ?? null, max: rules.maxResources ?? null }
      : null;
  const context = { namespace, rules: { quota: rules.quota ?? null }, limits, labels: guardrailLabels() };
  const objects: KubeObject[] = [];
  for (const name of NAMESPACE_TEMPLATES) {
    const object = renderObject(name, context);
    if (object) objects.push(object);
  }
  return objects;
}

/**
 * Renders a whole spec set (GitOps / CLI): every runtime, the guardrails of every namespace that
 * has runtimes, and the routes document. Sorted by namespace then name. Throws RenderError when invalid,
 * and when the set has no XTrinode unless options.allowEmpty (an empty render removes every runtime).
 */
export function renderAll(set: SpecSet, options: ValidateOptions = {}): RenderAllResult {
  const issues = validateSpecSet(set, options);
  if (issues.length) throw new RenderError(issues);
  const runtimes = [...set.runtimes]
    .sort((a, b) => compare(namespaceOf(a), namespaceOf(b)) || compare(a.metadata.name, b.metadata.name))
    .map((runtime) => renderValidRuntime({ runtime, catalogs: set.catalogs, policy: set.policy }));
  const namespaceNames = [...new Set(runtimes.map((r) => r.namespace))].sort(compare);
  const namespaces: NamespaceRender[] = namespaceNames.map((namespace) => ({ namespace, objects: renderNamespace(namespace, set.policy) }));
  const byKey = new Map(set.runtimes.map((r) => [`${namespaceOf(r)}/${r.metadata.name}`, r]));
  const routes: GatewayRoutes = {
    apiVersion,
    kind: kinds.routes,
    routes: runtimes.map((r) => ({
      ...r.route,
      state: isSuspended(byKey.get(`${r.namespace}/${r.name}`)!) ? "PAUSED" : "RUNNING",
    })),
  };
  return {
    runtimes,
    namespaces,
    routes,
    objects: [...namespaces.flatMap((n) => n.objects), ...runtimes.flatMap((r) => r.objects)],
  };
}

/** The gateway routes ConfigMap (docs/CONTRACTS.md "Routes ConfigMap") holding a routes document. */
export function routesConfigMap(routes: GatewayRoutes, namespace = defaultGatewayNamespace): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: routesConfigMapName,
      namespace,
      labels: {
        "app.kubernetes.io/name": "xtrinode-gateway",
        "app.kubernetes.io/component": "routes",
        "app.kubernetes.io/managed-by": managedBy,
      },
    },
    data: { [routesDataKey]: encodeRoutes(routes) },
  };
}
