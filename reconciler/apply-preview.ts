// `xtrinode diff --kubeconfig`: what `xtrinode apply` would change, as a unified diff. Live objects
// are shown projected onto the fields we manage (what the API server adds is not our concern).
import type { KubeConfig } from "@kubernetes/client-node";
import { createTwoFilesPatch } from "diff";
import yaml from "js-yaml";
import { loadKubeConfig } from "../lib/kube-config.ts";
import { silentLogger } from "../lib/logger.ts";
import { apiVersion, defaultGatewayNamespace, routesConfigMapName } from "../schemas/api/index.ts";
import { operatorNamespace, prunableKinds } from "./constants.ts";
import { itemKey, listItem, listMapKeys } from "../lib/list-merge-keys.ts";
import { decideApply, objectKey, type KubeObject, type ListScope } from "./apply-decision.ts";
import { createClusterClient, type ClusterClient } from "./kube-client.ts";
import { decidePhase, defaultLifecycleTimers } from "./lifecycle-decisions.ts";
import { createReconcileContext } from "./operator.ts";
import { configMapPolicySource, filePolicySource } from "./policy.ts";
import { coordinatorReady, computeStopped } from "./readiness.ts";
import { buildDesired, validateRuntime } from "./plan.ts";
import { StopReconcile } from "./stop-reconcile.ts";
import { findRoute, sameRoute } from "./routes.ts";
import type { XTrinodeStatus } from "../schemas/generated/types.ts";

export interface ClusterDiffOptions {
  kubeconfig?: string;
  kubeConfig?: KubeConfig;
  /** Policy file; default: the xtrinode-policy ConfigMap in xtrinode-system. */
  policy?: string;
  gatewayNamespace?: string;
  /** Only runtimes of this namespace. */
  namespace?: string;
  now?: Date;
}

export interface ClusterDiffResult {
  text: string;
  changed: boolean;
}

/**
 * Keeps only the paths `shape` has, so the live side shows what we manage. Lists merged by key
 * (lib/list-merge-keys.ts) keep only the items `shape` has, by key: another manager's sidecar is not ours.
 */
export function project(live: unknown, shape: unknown): unknown {
  const kind = shape as { apiVersion?: string; kind?: string };
  return projectAt(live, shape, { apiVersion: kind?.apiVersion, kind: kind?.kind, fields: [] });
}

function projectAt(live: unknown, shape: unknown, at: ListScope): unknown {
  if (live === undefined || shape === null || typeof shape !== "object") return live;
  if (Array.isArray(shape)) {
    if (!Array.isArray(live)) return live;
    const items = { ...at, fields: [...at.fields, listItem] };
    const keyed = listMapKeys(at.apiVersion, at.kind, at.fields);
    if (!keyed) return live.map((item, i) => (i < shape.length ? projectAt(item, shape[i], items) : item));
    const desired = new Map(shape.map((item) => [itemKey(item, keyed), item] as const));
    return live
      .filter((item) => desired.has(itemKey(item, keyed)))
      .map((item) => projectAt(item, desired.get(itemKey(item, keyed)), items));
  }
  if (live === null || typeof live !== "object" || Array.isArray(live)) return live;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(shape)) {
    const value = (live as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = projectAt(value, (shape as Record<string, unknown>)[key], { ...at, fields: [...at.fields, key] });
  }
  return out;
}

function toYaml(value: unknown): string {
  return value === undefined ? "" : yaml.dump(value, { lineWidth: -1, noRefs: true, sortKeys: true });
}

function patch(key: string, before: unknown, after: unknown): string {
  return createTwoFilesPatch(`live/${key}`, `desired/${key}`, toYaml(before), toYaml(after), undefined, undefined, { context: 3 });
}

export async function clusterDiff(options: ClusterDiffOptions = {}): Promise<ClusterDiffResult> {
  const kubeConfig = options.kubeConfig ?? loadKubeConfig(options.kubeconfig);
  const client: ClusterClient = createClusterClient(kubeConfig);
  const policy = options.policy ? filePolicySource(options.policy) : configMapPolicySource(client, operatorNamespace);
  await policy.reload();
  const gatewayNamespace = options.gatewayNamespace ?? defaultGatewayNamespace;
  const context = createReconcileContext(client, { gatewayNamespace, policy, log: silentLogger(), timers: defaultLifecycleTimers });
  const now = options.now ?? new Date();
  const routes = await context.reader.routes();
  const runtimes = (await client.list(apiVersion, "XTrinode", options.namespace)).sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const runtime of runtimes) {
    const namespace = runtime.metadata!.namespace!;
    const name = runtime.metadata!.name!;
    if (runtime.metadata?.deletionTimestamp) continue;
    let plan;
    try {
      const valid = validateRuntime(context, runtime, await context.reader.catalogs(namespace), context.policy());
      plan = buildDesired(context, runtime, valid, context.policy(), now);
    } catch (error) {
      if (!(error instanceof StopReconcile)) throw error;
      parts.push(`# XTrinode ${namespace}/${name}: not applicable: ${error.message}\n`);
      continue;
    }
    const inventory = await context.reader.owned(namespace, name);
    for (const object of [...plan.guardrails, ...plan.objects]) {
      const key = objectKey(object);
      if (seen.has(key)) continue;
      seen.add(key);
      const live =
        inventory.byKey.get(key) ??
        (await client.get({
          apiVersion: object.apiVersion!,
          kind: object.kind!,
          namespace: object.metadata?.namespace ?? namespace,
          name: object.metadata!.name!,
        }));
      if (decideApply(object, live).apply) parts.push(patch(key, live && project(live, object), object));
    }
    const desiredKeys = new Set(plan.objects.map(objectKey));
    const prunable = new Set(prunableKinds.map((k) => `${k.apiVersion}/${k.kind}`));
    for (const [key, live] of inventory.byKey) {
      if (desiredKeys.has(key) || !prunable.has(`${live.apiVersion}/${live.kind}`)) continue;
      parts.push(
        patch(
          key,
          {
            apiVersion: live.apiVersion,
            kind: live.kind,
            metadata: { name: live.metadata?.name, namespace: live.metadata?.namespace, labels: live.metadata?.labels },
          },
          undefined,
        ),
      );
    }
    // The route entry as the next reconcile would publish it (readiness from the live Deployments).
    const deployments = plan.objects
      .filter((o) => o.kind === "Deployment")
      .flatMap((o): KubeObject[] => {
        const live = inventory.byKey.get(objectKey(o));
        return live ? [live] : [];
      });
    const previousPhase = (runtime.status as XTrinodeStatus | undefined)?.phase;
    const { routeState } = decidePhase(plan.intent, previousPhase, {
      coordinatorReady: coordinatorReady(deployments),
      computeStopped: computeStopped(deployments),
    });
    const entry = { ...plan.rendered.route, state: routeState };
    const current = findRoute(routes, namespace, name);
    if (!sameRoute(current, entry)) {
      const strip = (e: typeof current) => (e ? { ...e, updatedAt: undefined } : undefined);
      parts.push(
        patch(
          `${gatewayNamespace}/${routesConfigMapName}#${namespace}/${name}`,
          strip(current) && JSON.parse(JSON.stringify(strip(current))),
          entry,
        ),
      );
    }
  }
  return { text: parts.join(""), changed: parts.some((p) => !p.startsWith("#")) };
}
