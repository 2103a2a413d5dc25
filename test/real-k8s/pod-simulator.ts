// Stands in for the kubelets and the scheduler the real-k8s tier does not run: watches every Pod and
// marks it Running and Ready through its /status subresource (as a kubelet reports a started container),
// unless `holdPending` says to leave it Pending on purpose (then it reports PodScheduled False / Unschedulable,
// as kube-scheduler does when no node fits); removes terminating pods at once (a kubelet
// confirming the containers stopped). The Deployment and ReplicaSet controllers of the real
// kube-controller-manager see ready pods and move Deployments forward. Cluster API MachineDeployments
// (node pools) are reported Running the same way, as their provider would.
import { Watch, type KubeConfig } from "@kubernetes/client-node";

interface PodLike {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string; resourceVersion?: string };
  spec: { containers: Array<{ name: string; image: string }> };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

export type RequestFn = (method: string, apiPath: string, body?: unknown) => Promise<{ status: number; body: any }>;

export interface PodSimulatorOptions {
  kubeConfig: KubeConfig;
  /** Admin request helper (RealCluster.request): strategic merge patch is not needed, merge patch is. */
  request: RequestFn;
  /** Pods for which this returns true stay Pending (no ready container), e.g. a runtime that cannot be scheduled. */
  holdPending?: (pod: PodLike) => boolean;
}

function isReady(pod: PodLike): boolean {
  return pod.status?.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

export class PodSimulator {
  readonly options: PodSimulatorOptions;
  /** What the simulator did, for assertion messages. */
  readonly actions: string[] = [];
  readonly errors: string[] = [];
  private readonly controllers: AbortController[] = [];
  private readonly inFlight = new Set<string>();
  private stopped = false;

  constructor(options: PodSimulatorOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const watch = new Watch(this.options.kubeConfig);
    const watchPath = async (apiPath: string, onEvent: (type: string, object: any) => void) => {
      const restart = async (): Promise<void> => {
        if (this.stopped) return;
        this.controllers.push(
          await watch.watch(apiPath, {}, onEvent, (error) => {
            if (!this.stopped) {
              if (error) this.errors.push(`${apiPath}: ${String(error)}`);
              setTimeout(() => void restart().catch((e) => this.errors.push(String(e))), 200);
            }
          }),
        );
      };
      await restart();
    };
    await watchPath("/api/v1/pods", (type, pod: PodLike) => {
      if (type !== "ADDED" && type !== "MODIFIED") return;
      void this.handlePod(pod).catch((error) => this.errors.push(`${pod.metadata.namespace}/${pod.metadata.name}: ${String(error)}`));
    });
    await watchPath(
      "/apis/cluster.x-k8s.io/v1beta1/machinedeployments",
      (type, md: { metadata: { name: string; namespace: string }; status?: { phase?: string } }) => {
        if ((type !== "ADDED" && type !== "MODIFIED") || md.status?.phase === "Running") return;
        const apiPath = `/apis/cluster.x-k8s.io/v1beta1/namespaces/${md.metadata.namespace}/machinedeployments/${md.metadata.name}/status`;
        void this.patch(apiPath, { status: { phase: "Running" } }).catch((error) => this.errors.push(String(error)));
      },
    ).catch(() => {
      // the Cluster API CRD is not installed: no node pools in this cluster
    });
  }

  stop(): void {
    this.stopped = true;
    for (const controller of this.controllers) controller.abort();
  }

  private async patch(apiPath: string, body: unknown): Promise<void> {
    const answer = await this.options.request("PATCH", apiPath, body);
    if (answer.status >= 300 && answer.status !== 404 && answer.status !== 409)
      throw new Error(`PATCH ${apiPath}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }

  private async handlePod(pod: PodLike): Promise<void> {
    const { namespace, name } = pod.metadata;
    const key = `${namespace}/${name}`;
    const base = `/api/v1/namespaces/${namespace}/pods/${name}`;
    if (pod.metadata.deletionTimestamp) {
      if (this.inFlight.has(`delete ${key}`)) return;
      this.inFlight.add(`delete ${key}`);
      const answer = await this.options.request("DELETE", `${base}?gracePeriodSeconds=0`);
      if (answer.status < 300) this.actions.push(`deleted ${key}`);
      return;
    }
    if (isReady(pod) || this.inFlight.has(key)) return;
    const hold = this.options.holdPending?.(pod) ?? false;
    if (hold && (pod.status?.conditions ?? []).some((c) => c.type === "PodScheduled")) return;
    this.inFlight.add(key);
    try {
      if (hold) {
        await this.markUnschedulable(base);
        this.actions.push(`unschedulable ${key}`);
      } else {
        await this.markReady(pod, base);
        this.actions.push(`ready ${key}`);
      }
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** What kube-scheduler writes when no node fits. */
  private async markUnschedulable(base: string): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    await this.patch(`${base}/status`, {
      status: {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            lastTransitionTime: now,
            message: "0/3 nodes are available: 3 Insufficient memory. (simulated)",
          },
        ],
      },
    });
  }

  private async markReady(pod: PodLike, base: string): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const condition = (type: string) => ({ type, status: "True", lastTransitionTime: now });
    await this.patch(`${base}/status`, {
      status: {
        phase: "Running",
        startTime: now,
        conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(condition),
        containerStatuses: pod.spec.containers.map((container) => ({
          name: container.name,
          image: container.image,
          imageID: "",
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
        })),
      },
    });
  }
}
