// Informers (list + watch) over @kubernetes/client-node's ListWatch, which relists on 410 Gone by
// itself; on any other watch error this restarts it with exponential backoff.
import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  Watch,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import type { OwnedKind } from "./constants.ts";
import { describeError, isKindMissing, RawObjectApi } from "./kube-client.ts";

export type ObjectInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

export interface ResilientInformer {
  name: string;
  informer: ObjectInformer;
  /** Listed and watching (false until the first list succeeds and after a watch error). */
  synced(): boolean;
  /**
   * The last list failed because the kind is not served (its CRD is not installed): there are none of
   * it, so a reader answers "none" from here instead of asking the API server (and its discovery) again.
   */
  kindMissing(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function resilientInformer(name: string, informer: ObjectInformer, log: Logger, maxBackoffMs = 30_000): ResilientInformer {
  let stopped = false;
  let synced = false;
  let kindMissing = false;
  let failedSinceStart = false;
  let backoffMs = 500;
  let timer: NodeJS.Timeout | undefined;
  // ListWatch reports a failed list or watch through "error" and stops; start() itself resolves.
  const run = async () => {
    failedSinceStart = false;
    await informer.start();
    synced = !failedSinceStart && !stopped;
    if (synced) kindMissing = false;
  };
  informer.on("error", (error: unknown) => {
    synced = false;
    failedSinceStart = true;
    kindMissing = isKindMissing(error);
    if (stopped) return;
    // A kind whose CRD is not installed (KEDA, Cluster API providers) is expected: quiet retries.
    log[isKindMissing(error) ? "debug" : "warn"](
      { informer: name, error: describeError(error), retryInMs: backoffMs },
      "watch failed; restarting",
    );
    timer = setTimeout(() => {
      if (!stopped) run().catch(() => undefined);
    }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
  });
  const healthy = () => {
    backoffMs = 500;
  };
  informer.on("add", healthy);
  informer.on("update", healthy);
  return {
    name,
    informer,
    synced: () => synced,
    kindMissing: () => kindMissing && !stopped,
    async start() {
      stopped = false;
      await run();
    },
    async stop() {
      stopped = true;
      synced = false;
      if (timer) clearTimeout(timer);
      await informer.stop();
    },
  };
}

type ListFn = () => Promise<KubernetesListObject<KubernetesObject>>;

function customList(kubeConfig: KubeConfig, group: string, version: string, plural: string, kind: string, labelSelector?: string): ListFn {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  return async () => {
    const list = (await api.listClusterCustomObject({ group, version, plural, labelSelector })) as KubernetesListObject<KubernetesObject>;
    list.items = list.items.map((item) => ({ ...item, apiVersion: `${group}/${version}`, kind }));
    return list;
  };
}

export function customResourceInformer(
  kubeConfig: KubeConfig,
  group: string,
  version: string,
  plural: string,
  kind: string,
  labelSelector?: string,
): ObjectInformer {
  return makeInformer(
    kubeConfig,
    `/apis/${group}/${version}/${plural}`,
    customList(kubeConfig, group, version, plural, kind, labelSelector),
    labelSelector,
  );
}

/** Objects of one kind carrying a label (e.g. the ownership label), in every namespace (as plain JSON, like the watch events). */
export function labelledObjectInformer(kubeConfig: KubeConfig, kind: OwnedKind, label: string): ObjectInformer {
  const api = RawObjectApi.fromKubeConfig(kubeConfig);
  const path = kind.apiVersion.includes("/") ? `/apis/${kind.apiVersion}/${kind.plural}` : `/api/${kind.apiVersion}/${kind.plural}`;
  const list: ListFn = async () => {
    const result = (await api.list(
      kind.apiVersion,
      kind.kind,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      label,
    )) as KubernetesListObject<KubernetesObject>;
    result.items = result.items.map((item) => ({ ...item, apiVersion: kind.apiVersion, kind: kind.kind }));
    return result;
  };
  return makeInformer(kubeConfig, path, list, label);
}

/** One named ConfigMap (the gateway routes), watched by field selector. */
export function namedConfigMapInformer(kubeConfig: KubeConfig, namespace: string, name: string): ObjectInformer {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${name}`;
  const list = () => api.listNamespacedConfigMap({ namespace, fieldSelector }) as Promise<KubernetesListObject<KubernetesObject>>;
  return new ListWatch(`/api/v1/namespaces/${namespace}/configmaps`, new Watch(kubeConfig), list, false, undefined, fieldSelector);
}

/**
 * Secret types a catalog never references: Helm release records (often hundreds of KB each, several per
 * release) and service-account tokens. Left out of the cluster-wide Secret watch, so the operator does not
 * cache every Helm release of the cluster in memory.
 */
export const unwatchedSecretTypes = ["helm.sh/release.v1", "kubernetes.io/service-account-token"];

export function secretInformer(kubeConfig: KubeConfig): ObjectInformer {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = unwatchedSecretTypes.map((type) => `type!=${type}`).join(",");
  const list = () => api.listSecretForAllNamespaces({ fieldSelector }) as Promise<KubernetesListObject<KubernetesObject>>;
  return new ListWatch("/api/v1/secrets", new Watch(kubeConfig), list, false, undefined, fieldSelector);
}
