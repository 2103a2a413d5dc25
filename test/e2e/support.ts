// Helpers of the end-to-end test: bounded waits, trino-client queries,
// and recorders that watch the control plane (route states, autoscalers) so a test can check what
// happened between its own polls.
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Trino } from "trino-client";
import { silentLogger } from "../../lib/logger.ts";
import { configMapRoutesSource } from "../../gateway/routes-source.ts";
import { decodeRoutes } from "../../schemas/api/index.ts";
import type { RouteEntry } from "../../schemas/generated/types.ts";

export interface QueryOutcome {
  id: string;
  state: string;
  rows: unknown[][];
  error?: string;
}

/** Runs one statement to the end with trino-client, collecting every data page. */
export async function runQuery(trino: Trino, sql: string): Promise<QueryOutcome> {
  const outcome: QueryOutcome = { id: "", state: "", rows: [] };
  for await (const page of await trino.query(sql)) {
    outcome.id = page.id ?? outcome.id;
    outcome.state = page.stats?.state ?? outcome.state;
    if (page.data) outcome.rows.push(...(page.data as unknown[][]));
    if (page.error) outcome.error = `${page.error.errorName}: ${page.error.message}`;
  }
  return outcome;
}

/** Coordinator part of a Trino query id (`YYYYMMDD_hhmmss_NNNNN_ccccc`). */
export function coordinatorOfQuery(id: string): string {
  return id.split("_").at(-1) ?? "";
}

/** Every version of the routes ConfigMap, as the gateway's ConfigMap source delivers it (watch). */
export class RouteHistory {
  readonly versions: RouteEntry[][] = [];
  private readonly source;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.source = configMapRoutesSource(kubeConfig, namespace, silentLogger());
  }

  async start(): Promise<void> {
    await this.source.start((text) => {
      const document = decodeRoutes(text, { mode: "lenient" }).document;
      if (document) this.versions.push(document.routes);
    });
  }

  stop(): void {
    this.source.stop();
  }

  current(namespace: string, name: string): RouteEntry | undefined {
    return this.versions.at(-1)?.find((entry) => entry.namespace === namespace && entry.name === name);
  }

  /** The runtime's successive route states since version `from` (consecutive repeats collapsed; "absent" when it has no entry). */
  states(namespace: string, name: string, from = 0): string[] {
    const states: string[] = [];
    for (const routes of this.versions.slice(from)) {
      const state = routes.find((entry) => entry.namespace === namespace && entry.name === name)?.state ?? "absent";
      if (states.at(-1) !== state) states.push(state);
    }
    return states;
  }
}

interface AutoscalerEvent {
  kind: "HorizontalPodAutoscaler" | "ScaledObject";
  type: string;
  name: string;
  target?: string;
  resourceVersion: number;
}

/**
 * Watches HPAs and KEDA ScaledObjects of one namespace. The two watch streams are merged by
 * resourceVersion (one global counter on the Kubernetes API test server) and replayed, so the
 * largest number of autoscalers that ever targeted a Deployment at the same time is exact.
 */
export class AutoscalerHistory {
  readonly events: AutoscalerEvent[] = [];
  /** Why a watch stream ended (it should not, before stop()). */
  readonly ends: string[] = [];
  private readonly controllers: AbortController[] = [];
  private readonly kubeConfig: KubeConfig;
  private readonly namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.kubeConfig = kubeConfig;
    this.namespace = namespace;
  }

  async start(): Promise<void> {
    const watch = new Watch(this.kubeConfig);
    const paths: Array<[AutoscalerEvent["kind"], string]> = [
      ["HorizontalPodAutoscaler", `/apis/autoscaling/v2/namespaces/${this.namespace}/horizontalpodautoscalers`],
      ["ScaledObject", `/apis/keda.sh/v1alpha1/namespaces/${this.namespace}/scaledobjects`],
    ];
    for (const [kind, path] of paths) {
      this.controllers.push(
        await watch.watch(
          path,
          {},
          (type, object: { metadata?: { name?: string; resourceVersion?: string }; spec?: { scaleTargetRef?: { name?: string } } }) => {
            this.events.push({
              kind,
              type,
              name: object.metadata?.name ?? "",
              target: object.spec?.scaleTargetRef?.name,
              resourceVersion: Number(object.metadata?.resourceVersion),
            });
          },
          (error) => this.ends.push(`${kind}: ${error ? String(error) : "ended"}`),
        ),
      );
    }
  }

  stop(): void {
    for (const controller of this.controllers) controller.abort();
  }

  /** Largest number of autoscalers (of any kind) targeting `deployment` at once, over the whole history. */
  maxConcurrent(deployment: string): number {
    const live = new Map<string, string | undefined>();
    let max = 0;
    for (const event of [...this.events].sort((a, b) => a.resourceVersion - b.resourceVersion)) {
      const key = `${event.kind}/${event.name}`;
      if (event.type === "DELETED") live.delete(key);
      else live.set(key, event.target);
      max = Math.max(max, [...live.values()].filter((target) => target === deployment).length);
    }
    return max;
  }

  /** Kinds of the autoscalers that ever targeted `deployment`. */
  kindsSeen(deployment: string): Set<string> {
    return new Set(this.events.filter((event) => event.target === deployment).map((event) => event.kind));
  }
}
