// Builds the Helm values of one runtime, with the official Trino chart's keys (chart 1.42.2).
// XTrinode-only settings live under the single extension key `xtrinode` (see schemas/values.schema.json).
// Order of construction: spec-derived values → valuesOverlay (JSON merge patch, schemas/api/merge-patch.ts) → suspension.
import type { NodeRoleSpec, Toleration } from "../schemas/generated/types.ts";
import { catalogProperties, catalogSecretRefs, compare, escapePropertyValue } from "./catalogs.ts";
import { isPlainMap, mergePatch, type JsonMap } from "../schemas/api/index.ts";
import { nodePoolLabel } from "../schemas/api/index.ts";
import { COORDINATOR_PORT, nodePoolId, runtimeNames, trinoCatalogName, type RuntimeNames } from "./names.ts";
import type { HelmValues, SecretRef, XTrinode, XTrinodeCatalog } from "./types.ts";
import { parseHeapSize, parseQuantity } from "./quantity.ts";

/** The chart's appVersion (Trino 480), used when spec.image.tag is unset. */
export const DEFAULT_TRINO_TAG = "480";
export const DEFAULT_GRACE_PERIOD_SECONDS = 120;
/** Metric the gateway exports per runtime: queries in flight plus queries held while resuming. */
export const QUERY_PRESSURE_METRIC = "xtrinode_gateway_query_pressure";

export interface ValuesInput {
  runtime: XTrinode;
  /** Catalogs already selected for this runtime (selectCatalogs). */
  catalogs: XTrinodeCatalog[];
  suspended: boolean;
  /** Memory limit a container gets when it sets none (the namespace LimitRange's default, else its max). Sizes the default heap. */
  defaultMemoryLimit?: string | number;
}

export interface BuiltValues {
  values: HelmValues;
  secretRefs: SecretRef[];
}

export function buildValues(input: ValuesInput): BuiltValues {
  const { runtime } = input;
  const names = runtimeNames(runtime);
  const spec = runtime.spec;
  const secretRefs = input.catalogs.flatMap(catalogSecretRefs);
  const derived = specValues(runtime, names, input.catalogs, secretRefs, input.defaultMemoryLimit);
  const merged =
    spec.valuesOverlay && Object.keys(spec.valuesOverlay).length ? (mergePatch(derived, spec.valuesOverlay) as JsonMap) : derived;
  return { values: suspendValues(merged, input.suspended), secretRefs };
}

function specValues(
  runtime: XTrinode,
  names: RuntimeNames,
  catalogs: XTrinodeCatalog[],
  secretRefs: SecretRef[],
  defaultMemoryLimit: string | number | undefined,
): JsonMap {
  const spec = runtime.spec;
  const workers = spec.workers ?? {};
  const keda = workers.mode === "keda";
  const pool = nodePoolPinning(runtime, names);
  const grace = workers.gracefulShutdown?.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS;
  const graceful = workers.gracefulShutdown?.enabled ?? true;
  const catalogValues: JsonMap = {};
  for (const catalog of catalogs) catalogValues[trinoCatalogName(catalog)] = catalogProperties(catalog);
  const image: JsonMap = {
    repository: spec.image?.repository ?? "trinodb/trino",
    tag: spec.image?.tag ?? DEFAULT_TRINO_TAG,
    pullPolicy: spec.image?.pullPolicy ?? "IfNotPresent",
  };
  if (spec.image?.digest) image.digest = spec.image.digest;

  return {
    image,
    server: {
      workers: keda ? (workers.min ?? 0) : (workers.count ?? 1),
      node: { environment: "production" },
      log: { trino: { level: "INFO" } },
      config: { path: "/etc/trino", query: { maxMemory: "4GB" } },
      // http-server.process-forwarded: nextUri must point back through the gateway.
      // query-manager.required-workers: a coordinator reports ready (and the gateway releases held
      // queries) seconds before any node has announced itself; real Trino then fails queries with
      // "No nodes available to run query". With this they wait (up to the 5-minute default of
      // query-manager.required-workers-max-wait), also for KEDA's first worker when min is 0.
      // With no workers at all (fixed, count 0) the coordinator must run the tasks itself.
      coordinatorExtraConfig: propertiesText({
        "http-server.process-forwarded": "true",
        "query-manager.required-workers": "1",
        ...(!keda && workers.count === 0 ? { "node-scheduler.include-coordinator": "true" } : {}),
        ...(spec.coordinator?.config ?? {}),
      }),
      workerExtraConfig: propertiesText(workers.config ?? {}),
      autoscaling: {
        enabled: false,
        maxReplicas: 5,
        targetCPUUtilizationPercentage: 50,
        targetMemoryUtilizationPercentage: 80,
        behavior: {},
      },
      keda: {
        enabled: keda,
        pollingInterval: workers.keda?.pollingInterval ?? 30,
        cooldownPeriod: workers.keda?.cooldownPeriod ?? 300,
        minReplicaCount: workers.min ?? 0,
        maxReplicaCount: workers.max ?? 5,
        triggers: keda ? kedaTriggers(runtime, names) : [],
        annotations: {},
      },
    },
    catalogs: catalogValues,
    env: secretRefs.map((ref) => ({ name: ref.env, valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } })),
    serviceAccount: { create: true, name: names.serviceAccount, annotations: {} },
    service: { type: "ClusterIP", port: COORDINATOR_PORT },
    serviceMonitor: {
      enabled: spec.monitoring?.serviceMonitor ?? false,
      labels: { ...(spec.monitoring?.labels ?? {}) },
      interval: spec.monitoring?.interval ?? "30s",
    },
    commonLabels: { ...(runtime.metadata.labels ?? {}) },
    coordinator: roleValues(spec.coordinator ?? {}, pool, 30, defaultMemoryLimit),
    worker: {
      ...roleValues(workers, pool, graceful ? Math.max(30, 2 * grace) : 30, defaultMemoryLimit),
      gracefulShutdown: { enabled: graceful, gracePeriodSeconds: grace },
    },
    xtrinode: {
      namespace: names.namespace,
      runtime: names.runtime,
      fullname: names.fullname,
      suspended: false,
      ...(pool ? { nodePool: pool.pool } : {}),
    },
  };
}

/** The chart's default heap. */
const defaultHeap = "8G";

/**
 * -Xmx when the spec sets none: the chart's 8G, or 75% of a smaller memory limit in force (the
 * container's own, else the namespace default), which leaves room for off-heap memory instead of
 * an OOM kill.
 */
export function defaultHeapSize(memoryLimit: string | number | undefined): string {
  const bytes = memoryLimit === undefined ? undefined : parseQuantity(memoryLimit);
  if (bytes === undefined) return defaultHeap;
  const mebibytes = Math.floor((bytes * 0.75) / 2 ** 20);
  return mebibytes >= 8 * 1024 ? defaultHeap : `${Math.max(1, mebibytes)}M`;
}

/**
 * query.max-memory-per-node: the chart's 1GB, or 60% of a smaller heap. Trino refuses to start when
 * it plus the heap headroom (30% of the heap by default) exceeds the heap.
 */
export function maxMemoryPerNode(heap: string): string {
  const bytes = parseHeapSize(heap);
  if (bytes === undefined || bytes * 0.6 >= 2 ** 30) return "1GB";
  return `${Math.max(1, Math.floor((bytes * 0.6) / 2 ** 20))}MB`;
}

function roleValues(
  role: NodeRoleSpec,
  pool: NodePoolPinning | undefined,
  terminationGracePeriodSeconds: number,
  defaultMemoryLimit: string | number | undefined,
): JsonMap {
  const memoryLimit = (role.resources?.limits as Record<string, string | number> | undefined)?.memory ?? defaultMemoryLimit;
  const heap = role.jvm?.maxHeapSize ?? defaultHeapSize(memoryLimit);
  return {
    jvm: { maxHeapSize: heap, gcMethod: { type: "UseG1GC", g1: { heapRegionSize: "32M" } } },
    config: { query: { maxMemoryPerNode: maxMemoryPerNode(heap) } },
    additionalJVMConfig: [...(role.jvm?.extraOptions ?? [])],
    resources: structuredClone(role.resources ?? {}),
    terminationGracePeriodSeconds,
    nodeSelector: { ...(role.nodeSelector ?? {}), ...(pool?.nodeSelector ?? {}) },
    tolerations: [...(role.tolerations ?? []), ...(pool?.tolerations ?? [])],
  };
}

interface NodePoolPinning {
  pool: JsonMap;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
}

/** A node pool pins pods to its nodes: its label as nodeSelector, its taints tolerated. */
function nodePoolPinning(runtime: XTrinode, names: RuntimeNames): NodePoolPinning | undefined {
  const pool = runtime.spec.nodePool;
  if (!pool) return undefined;
  const poolId = nodePoolId(names);
  const taints = [{ key: nodePoolLabel, value: poolId, effect: "NoSchedule" as const }, ...(pool.taints ?? [])];
  return {
    pool: {
      name: names.nodePool,
      provider: pool.provider ?? "aws",
      class: pool.class,
      clusterName: pool.clusterName ?? "management",
      instanceType: pool.instanceType,
      min: pool.min ?? 1,
      max: pool.max ?? 3,
      labels: { ...(pool.labels ?? {}), [nodePoolLabel]: poolId },
      taints,
    },
    nodeSelector: { [nodePoolLabel]: poolId },
    tolerations: taints.map((t) => ({
      key: t.key,
      operator: t.value === undefined ? "Exists" : "Equal",
      ...(t.value !== undefined ? { value: t.value } : {}),
      effect: t.effect,
    })),
  };
}

/** PromQL for gateway-observed query pressure of one runtime (the gateway exports the metric). */
export function queryPressureQuery(namespace: string, runtime: string): string {
  return `sum(${QUERY_PRESSURE_METRIC}{namespace="${namespace}",runtime="${runtime}"}) or vector(0)`;
}

function kedaTriggers(runtime: XTrinode, names: RuntimeNames): JsonMap[] {
  const keda = runtime.spec.workers?.keda ?? {};
  const triggers: JsonMap[] = [];
  if (keda.queryPressure) {
    triggers.push({
      type: "prometheus",
      name: "query-pressure",
      metricType: "AverageValue",
      metadata: {
        serverAddress: keda.queryPressure.serverAddress,
        query: queryPressureQuery(names.namespace, names.runtime),
        threshold: String(keda.queryPressure.threshold ?? 4),
        activationThreshold: String(keda.queryPressure.activationThreshold ?? 0),
      },
    });
  }
  for (const trigger of keda.triggers ?? []) triggers.push(structuredClone(trigger) as JsonMap);
  return triggers;
}

/** `key=value` lines, keys sorted (deterministic); values escaped so one entry stays one line. */
export function propertiesText(map: Record<string, string>): string {
  return Object.keys(map)
    .sort(compare)
    .map((key) => `${key}=${escapePropertyValue(map[key])}\n`)
    .join("");
}

/**
 * Suspended runtimes keep Services and ConfigMaps but run no pods: zero coordinator and worker
 * replicas and no autoscaler (an HPA cannot hold zero, and a live ScaledObject would scale back up).
 * Applied after the overlay, so no overlay can keep a suspended runtime running. Unchanged when not suspended.
 */
export function suspendValues(values: JsonMap, suspended: boolean): JsonMap {
  if (!suspended) return values;
  const server = isPlainMap(values.server) ? values.server : {};
  return {
    ...values,
    server: {
      ...server,
      workers: 0,
      autoscaling: { ...(isPlainMap(server.autoscaling) ? server.autoscaling : {}), enabled: false },
      keda: { ...(isPlainMap(server.keda) ? server.keda : {}), enabled: false },
    },
    xtrinode: { ...(isPlainMap(values.xtrinode) ? values.xtrinode : {}), suspended: true },
  };
}
