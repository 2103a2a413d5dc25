// Informers (list + watch) over @kubernetes/client-node's ListWatch, which relists on 410 Gone by
// itself; on any other watch error this restarts it with exponential backoff.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import { describeError } from "./kube-client.ts";

export type ObjectInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

export interface ResilientInformer {
  name: string;
  informer: ObjectInformer;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function resilientInformer(name: string, informer: ObjectInformer, log: Logger, maxBackoffMs = 30_000): ResilientInformer {
  let stopped = false;
  let backoffMs = 500;
  let timer: NodeJS.Timeout | undefined;
  informer.on("error", (error: unknown) => {
    if (stopped) return;
    log.warn({ informer: name, error: describeError(error), retryInMs: backoffMs }, "watch failed; restarting");
    timer = setTimeout(() => {
      if (!stopped) informer.start().catch(() => undefined);
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
    async start() {
      stopped = false;
      await informer.start();
    },
    async stop() {
      stopped = true;
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

export function customResourceInformer(kubeConfig: KubeConfig, group: string, version: string, plural: string, kind: string, labelSelector?: string): ObjectInformer {
  return makeInformer(kubeConfig, `/apis/${group}/${version}/${plural}`, customList(kubeConfig, group, version, plural, kind, labelSelector), labelSelector);
}

export function secretInformer(kubeConfig: KubeConfig): ObjectInformer {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return makeInformer(kubeConfig, "/api/v1/secrets", () => api.listSecretForAllNamespaces() as Promise<KubernetesListObject<KubernetesObject>>);
}

export function deploymentInformer(kubeConfig: KubeConfig, labelSelector: string): ObjectInformer {
  const api = kubeConfig.makeApiClient(AppsV1Api);
  return makeInformer(kubeConfig, "/apis/apps/v1/deployments", () => api.listDeploymentForAllNamespaces({ labelSelector }) as Promise<KubernetesListObject<KubernetesObject>>, labelSelector);
}
