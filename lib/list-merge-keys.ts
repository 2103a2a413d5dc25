// Which lists of the built-in kinds a Kubernetes API server merges by key in a server-side apply
// (x-kubernetes-list-type: map with x-kubernetes-list-map-keys in the OpenAPI the server serves), so
// two field managers can each own items of one list: a sidecar injector adds a container, someone
// adds an env var, and the operator's own items stay as they are. Every list not named here is
// atomic (replaced whole, owned whole): args, command, tolerations, matchExpressions, HPA metrics,
// LimitRange limits and every list of a custom resource without list-type markers are.
// Covers the kinds the renderer emits (and the workload kinds a valuesOverlay pod template may
// reach); test/real-k8s checks this table against the OpenAPI of a real API server.

/**
 * One keyed list: the item fields that identify an item (the first is also its strategic merge patch
 * merge key, patchMergeKey), and the defaults the server fills into missing key fields.
 */
export interface ListMapKeys {
  keys: string[];
  defaults?: Record<string, string>;
}

/** Written after a list's name in a path pattern: "the items of this list". */
export const listItem = "[]";

const byName: ListMapKeys = { keys: ["name"] };
const containerLists: Record<string, ListMapKeys> = {
  env: byName,
  ports: { keys: ["containerPort", "protocol"], defaults: { protocol: "TCP" } },
  volumeMounts: { keys: ["mountPath"] },
  volumeDevices: { keys: ["devicePath"] },
};
const podSpecLists: Record<string, ListMapKeys> = {
  containers: byName,
  initContainers: byName,
  ephemeralContainers: byName,
  volumes: byName,
  imagePullSecrets: byName,
  resourceClaims: byName,
  schedulingGates: byName,
  hostAliases: { keys: ["ip"] },
  topologySpreadConstraints: { keys: ["topologyKey", "whenUnsatisfiable"] },
};

/** The keyed lists of a core/v1 PodSpec found at `prefix` (a dotted path pattern). */
function podSpecAt(prefix: string): Record<string, ListMapKeys> {
  const table: Record<string, ListMapKeys> = {};
  for (const [list, keys] of Object.entries(podSpecLists)) table[`${prefix}.${list}`] = keys;
  for (const containers of ["containers", "initContainers", "ephemeralContainers"]) {
    for (const [list, keys] of Object.entries(containerLists)) table[`${prefix}.${containers}${listItem}.${list}`] = keys;
  }
  return table;
}

/** Of every kind: metadata.ownerReferences merge by uid. */
const metadataLists: Record<string, ListMapKeys> = { "metadata.ownerReferences": { keys: ["uid"] } };

/** "apiVersion kind" → path pattern → keys. */
const keyedListsByKind: Record<string, Record<string, ListMapKeys>> = {
  "apps/v1 Deployment": podSpecAt("spec.template.spec"),
  "apps/v1 StatefulSet": podSpecAt("spec.template.spec"),
  "apps/v1 DaemonSet": podSpecAt("spec.template.spec"),
  "apps/v1 ReplicaSet": podSpecAt("spec.template.spec"),
  "batch/v1 Job": podSpecAt("spec.template.spec"),
  "batch/v1 CronJob": podSpecAt("spec.jobTemplate.spec.template.spec"),
  "v1 Pod": podSpecAt("spec"),
  "v1 Service": { "spec.ports": { keys: ["port", "protocol"], defaults: { protocol: "TCP" } } },
};

/** The path pattern of a list: field names, with `listItem` after each list passed through ("spec.ports", "a.b[].c"). */
export function listPathPattern(fields: readonly string[]): string {
  return fields.join(".").replaceAll(`.${listItem}`, listItem);
}

/**
 * How the list at `fields` (field names from the object's root, `listItem` for each list item passed
 * through) of a kind merges: its keys when the server merges it by key, undefined when it is atomic.
 */
export function listMapKeys(apiVersion: string | undefined, kind: string | undefined, fields: readonly string[]): ListMapKeys | undefined {
  const pattern = listPathPattern(fields);
  return metadataLists[pattern] ?? keyedListsByKind[`${apiVersion} ${kind}`]?.[pattern];
}

/** Every keyed list of a kind (for the check against a real server's OpenAPI). */
export function keyedListPatterns(apiVersion: string, kind: string): Record<string, ListMapKeys> {
  return { ...metadataLists, ...(keyedListsByKind[`${apiVersion} ${kind}`] ?? {}) };
}

/** The kinds with keyed lists beyond metadata, as "apiVersion kind". */
export const kindsWithKeyedLists: readonly string[] = Object.keys(keyedListsByKind);

/** An item's key as the server records it in managedFields ("k:{\"name\":\"trino\"}" without the "k:"): key defaults filled in. */
export function itemKey(item: unknown, list: ListMapKeys): string | undefined {
  if (item === null || typeof item !== "object" || Array.isArray(item)) return undefined;
  const fields: Record<string, unknown> = {};
  for (const key of list.keys) {
    const value = (item as Record<string, unknown>)[key] ?? list.defaults?.[key];
    if (value === undefined) return undefined;
    fields[key] = value;
  }
  return JSON.stringify(fields);
}
